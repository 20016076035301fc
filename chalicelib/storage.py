"""The bucket: presigned uploads for MMS media (later, imports and exports too)."""

from __future__ import annotations

from functools import cache

import boto3
from botocore.config import Config

from chalicelib.config import aws_region, resource_name

UPLOAD_SECONDS = 900


@cache
def _s3(region: str) -> object:
    return boto3.client("s3", region_name=region, config=Config(signature_version="s3v4", retries={"mode": "standard"}))


def presigned_upload(key: str, content_type: str) -> dict[str, str | int]:
    bucket = resource_name("BUCKET")
    url = _s3(aws_region()).generate_presigned_url(  # type: ignore[attr-defined]
        "put_object",
        Params={"Bucket": bucket, "Key": key, "ContentType": content_type},
        ExpiresIn=UPLOAD_SECONDS,
    )
    return {"upload_url": url, "url": f"s3://{bucket}/{key}", "expires_in": UPLOAD_SECONDS}
