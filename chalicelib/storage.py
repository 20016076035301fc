"""The bucket: presigned uploads for MMS media (later, imports and exports too)."""

from __future__ import annotations

from botocore.config import Config

from chalicelib.aws_clients import RETRIES, LazyClient
from chalicelib.config import resource_name

UPLOAD_SECONDS = 900
_s3 = LazyClient("s3", config=RETRIES.merge(Config(signature_version="s3v4")))


def presigned_upload(key: str, content_type: str) -> dict[str, str | int]:
    bucket = resource_name("BUCKET")
    url = _s3.get().generate_presigned_url(
        "put_object",
        Params={"Bucket": bucket, "Key": key, "ContentType": content_type},
        ExpiresIn=UPLOAD_SECONDS,
    )
    return {"upload_url": url, "url": f"s3://{bucket}/{key}", "expires_in": UPLOAD_SECONDS}
