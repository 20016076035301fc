"""The bucket: presigned uploads (MMS media, import files), streamed reads of imports, results written back."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any

from botocore.config import Config
from botocore.exceptions import ClientError

from chalicelib.aws_clients import RETRIES, LazyClient
from chalicelib.config import resource_name

UPLOAD_SECONDS = 900
READ_CHUNK_BYTES = 256 * 1024
_s3 = LazyClient("s3", config=RETRIES.merge(Config(signature_version="s3v4")))


@dataclass(frozen=True)
class ObjectInfo:
    size: int
    metadata: Mapping[str, str]


@dataclass(frozen=True)
class StoredObject:
    """An object being read: its bytes as a stream of chunks, never held whole."""

    chunks: Iterator[bytes]
    size: int
    etag: str


class ObjectChanged(Exception):
    """The object is no longer the version a reader pinned (it was replaced)."""


def presigned_upload(key: str, content_type: str, metadata: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A URL a browser PUTs the file to; metadata, if any, must be sent as the same `x-amz-meta-*` headers."""
    bucket = resource_name("BUCKET")
    params: dict[str, Any] = {"Bucket": bucket, "Key": key, "ContentType": content_type}
    if metadata:
        params["Metadata"] = dict(metadata)
    url = _s3.get().generate_presigned_url("put_object", Params=params, ExpiresIn=UPLOAD_SECONDS)
    upload: dict[str, Any] = {"upload_url": url, "url": f"s3://{bucket}/{key}", "expires_in": UPLOAD_SECONDS}
    if metadata:
        upload["headers"] = {"Content-Type": content_type, **{f"x-amz-meta-{k}": v for k, v in metadata.items()}}
    return upload


def describe_object(key: str) -> ObjectInfo:
    response = _s3.get().head_object(Bucket=resource_name("BUCKET"), Key=key)
    return ObjectInfo(int(response["ContentLength"]), response.get("Metadata") or {})


def read_object(key: str, start: int = 0, if_match: str | None = None) -> StoredObject:
    """Stream `key` from byte `start` on (a ranged GET when resuming), only if it is still version `if_match`."""
    params: dict[str, Any] = {"Bucket": resource_name("BUCKET"), "Key": key}
    if start:
        params["Range"] = f"bytes={start}-"
    if if_match:
        params["IfMatch"] = if_match
    try:
        response = _s3.get().get_object(**params)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("PreconditionFailed", "412"):
            raise ObjectChanged(key) from None
        raise
    size = int(response["ContentLength"]) + start
    return StoredObject(response["Body"].iter_chunks(READ_CHUNK_BYTES), size, response["ETag"])


def read_json(key: str) -> Any | None:
    """A small JSON object (a sidecar), or None when there is no such object."""
    try:
        response = _s3.get().get_object(Bucket=resource_name("BUCKET"), Key=key)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        raise
    return json.loads(response["Body"].read())


def write_object(key: str, body: bytes | IO[bytes], content_type: str) -> None:
    """Write `body`; a file object is uploaded in parts as large as it needs, never read whole."""
    bucket = resource_name("BUCKET")
    if isinstance(body, bytes):
        _s3.get().put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)
    else:
        _s3.get().upload_fileobj(body, bucket, key, ExtraArgs={"ContentType": content_type})


def write_stream(key: str, chunks: Iterable[bytes], content_type: str) -> None:
    """Upload bytes as they are produced: boto3's managed transfer sends them as a multipart upload, part by part.

    The export never exists whole in memory or on disk; a failure part-way
    aborts the upload, so no partial file is left behind.
    """
    _s3.get().upload_fileobj(
        io.BufferedReader(_ChunkReader(iter(chunks)), buffer_size=1 << 20),
        resource_name("BUCKET"),
        key,
        ExtraArgs={"ContentType": content_type},
    )


def presigned_download(key: str) -> str:
    return _s3.get().generate_presigned_url(
        "get_object", Params={"Bucket": resource_name("BUCKET"), "Key": key}, ExpiresIn=UPLOAD_SECONDS
    )


class _ChunkReader(io.RawIOBase):
    """A read-only file over an iterator of byte chunks, which is what `upload_fileobj` consumes."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            self._pending = next(self._chunks, b"")
            if not self._pending:
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size
