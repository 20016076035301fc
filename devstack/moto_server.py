"""moto's standalone server, which stands in for S3, SQS and SNS on this machine."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

import boto3
from botocore.config import Config

from devstack.children import Child, spawn, stop, wait_until

ROOT = Path(__file__).resolve().parent.parent


def is_serving(endpoint: str) -> bool:
    """Whether `endpoint` answers S3, SQS and SNS calls (moto, or anything that speaks all three)."""
    options = {
        "endpoint_url": endpoint,
        "region_name": "us-east-1",
        "aws_access_key_id": "local",
        "aws_secret_access_key": "local",
        "config": Config(connect_timeout=1, read_timeout=3, retries={"max_attempts": 1}),
    }
    try:
        boto3.client("sqs", **options).list_queues()
        boto3.client("sns", **options).list_topics()
        boto3.client("s3", **options).list_buckets()
    except Exception:
        return False
    return True


def start(port: int, env: Mapping[str, str], log_path: Path) -> Child:
    """Run `python -m moto.server` on 127.0.0.1:`port` and wait until it answers."""
    child = spawn(
        "moto",
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        log_path=log_path,
        cwd=ROOT,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: is_serving(endpoint), child, f"moto server on port {port}", timeout=60)
    except BaseException:
        stop(child)  # the caller never got the child, so it must not outlive this call
        raise
    return child
