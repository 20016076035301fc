"""What every benchmark script shares: the project on the import path and the local stage's environment.

Scripts run as `python benchmarks/<name>.py`, so this folder is on the path and
they import this module as `harness`, before anything from the project.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from botocore.client import BaseClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def configure(endpoint: str) -> None:
    """The local stage's variables, pointed at the DynamoDB Local at `endpoint`, with quiet logs."""
    config = json.loads((ROOT / ".chalice/config.json").read_text())
    os.environ.update({**config["environment_variables"], **config["stages"]["local"]["environment_variables"]})
    os.environ.update(
        {
            "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
        }
    )


def count_dynamodb_requests() -> Counter[str]:
    """Count every DynamoDB request botocore makes in this process, by operation, from now on."""
    calls: Counter[str] = Counter()
    original = BaseClient._make_api_call

    def counting(self: BaseClient, operation_name: str, api_params: dict) -> dict:
        if self.meta.service_model.service_name == "dynamodb":
            calls[operation_name] += 1
        return original(self, operation_name, api_params)

    BaseClient._make_api_call = counting  # type: ignore[method-assign]
    return calls


@contextmanager
def fresh_dynamodb() -> Iterator[str]:
    """A fresh in-memory DynamoDB Local for one benchmark (or stage): its endpoint, stopped afterwards."""
    from devstack import dynamodb_local

    port = dynamodb_local.free_port()
    process = dynamodb_local.start(port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=60)


def start_moto() -> tuple[Any, str]:
    """moto's server for S3/SQS on a free local port, started: the server (to stop) and its endpoint."""
    import logging

    from moto.server import ThreadedMotoServer

    from devstack import dynamodb_local

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=dynamodb_local.free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}"
