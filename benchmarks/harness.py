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


def put_batch(client: BaseClient, table: str, items: list[dict[str, Any]]) -> int:
    """One BatchWriteItem of `items` (25 at most), its unprocessed items sent again until none is left.

    The benchmarks' raw write, without the project's writer process or
    backoff, so a baseline measures the engine and nothing else. Returns the
    requests it took.
    """
    requests = 0
    pending: dict[str, Any] = {table: [{"PutRequest": {"Item": item}} for item in items]}
    while pending:
        requests += 1
        pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
    return requests


def put_all(client: BaseClient, table: str, items: list[dict[str, Any]]) -> int:
    """Every item, `put_batch` a request's worth (the project's BATCH_WRITE_ITEMS) at a time: the requests it took."""
    from chalicelib.models.batch_writes import BATCH_WRITE_ITEMS

    return sum(
        put_batch(client, table, items[start : start + BATCH_WRITE_ITEMS])
        for start in range(0, len(items), BATCH_WRITE_ITEMS)
    )


READ_KEYS = 100
"""Keys a BatchGetItem: its limit, and what PynamoDB's `batch_get` (the import's read) sends."""


def read_numbers(client: BaseClient, table: str, numbers: list[str], **options: Any) -> None:
    """BatchGetItem of every number (the key `number`), 100 a request, unprocessed keys asked again.

    `options` go into each request beside the keys (`ConsistentRead`, a projection).
    """
    for start in range(0, len(numbers), READ_KEYS):
        keys = [{"number": {"S": number}} for number in numbers[start : start + READ_KEYS]]
        request: dict[str, Any] | None = {"Keys": keys, **options}
        while request:
            request = client.batch_get_item(RequestItems={table: request}).get("UnprocessedKeys", {}).get(table)


WARM_UP_ITEMS = 20_000


def warm_up(endpoint: str, items: int = WARM_UP_ITEMS) -> None:
    """Put a cold DynamoDB Local through the requests a stage makes, on a scratch table dropped afterwards.

    A fresh JVM compiles its hot paths while it serves the first requests;
    warming every stage's engine the same way keeps that compilation out of
    the timed work, so stages compare like with like. It does not remove the
    machine's own drift: the same 100,000-item ceiling has taken 68 s in one
    run and 135 s in another, so compare stages of one run, not runs.
    """
    import boto3

    client = boto3.client("dynamodb", endpoint_url=endpoint)
    table = "warm-up"
    client.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    keys = [f"+1555{n:07d}" for n in range(items)]
    for start in range(0, items, 100):
        chunk = keys[start : start + 100]
        client.batch_get_item(RequestItems={table: {"Keys": [{"pk": {"S": k}} for k in chunk], "ConsistentRead": True}})
        for offset in range(0, len(chunk), 25):
            puts = [
                {"PutRequest": {"Item": {"pk": {"S": k}, "name": {"S": "warm"}}}} for k in chunk[offset : offset + 25]
            ]
            client.batch_write_item(RequestItems={table: puts})
        client.transact_write_items(
            TransactItems=[
                {"Update": {"TableName": table, "Key": {"pk": {"S": chunk[0]}}, "UpdateExpression": "SET n = :n",
                            "ExpressionAttributeValues": {":n": {"N": str(start)}}}}
            ]
        )  # fmt: skip
    client.delete_table(TableName=table)


def engine_cpu_seconds() -> float:
    """CPU seconds used so far by the DynamoDB Local JVMs this process started (0 where /proc is not available).

    DynamoDB Local runs on the same CPUs as the benchmark: how much work a
    stage made it do explains figures that wall time alone does not.
    """
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        command, fields = text[text.index("(") + 1 : text.rindex(")")], text[text.rindex(")") + 2 :].split()
        if command == "java" and int(fields[1]) == os.getpid():
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


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
