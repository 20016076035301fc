"""What each DynamoDB write path costs on DynamoDB Local: why imports write new contacts with BatchWriteItem.

Writes the same Contact items (built by the model) through each path into a
fresh in-memory DynamoDB Local and prints items per second and the ratio to
BatchWriteItem, measured in the same run (BatchWriteItem first and last, so
drift shows).

    .venv/bin/python benchmarks/write_paths.py [--items 10000]
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from typing import Any

from harness import configure, fresh_dynamodb, put_batch

Item = dict[str, Any]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    args = parser.parse_args()
    with fresh_dynamodb() as endpoint:
        configure(endpoint)
        run(args.items, endpoint)


def run(count: int, endpoint: str) -> None:
    import boto3
    from botocore.config import Config

    from chalicelib.models import Contact
    from chalicelib.models.tables import create_tables

    create_tables()
    client = boto3.client("dynamodb", endpoint_url=endpoint, config=Config(max_pool_connections=10))
    table = Contact.Meta.table_name
    now = datetime.now(UTC)

    def items(prefix: int) -> list[Item]:
        built = []
        for i in range(count):
            contact = Contact(f"+1{prefix}{i:08d}", created_at=now, updated_at=now, version=1)
            contact.first_name, contact.last_name, contact.city = "Ann", "Lee", "Austin"
            built.append(contact.serialize())
        return built

    batch = partial(put_batch, client, table)

    def transact(condition: bool, token: bool) -> Callable[[list[Item]], None]:
        extra = {"ConditionExpression": "attribute_not_exists(#v)", "ExpressionAttributeNames": {"#v": "version"}}

        def write(chunk: list[Item]) -> None:
            puts = [{"Put": {"TableName": table, "Item": item, **(extra if condition else {})}} for item in chunk]
            client.transact_write_items(
                TransactItems=puts, **({"ClientRequestToken": uuid.uuid4().hex} if token else {})
            )

        return write

    def partiql(chunk: list[Item]) -> None:
        statements = [
            {
                "Statement": f'INSERT INTO "{table}" VALUE {{' + ", ".join(f"'{k}': ?" for k in item) + "}",
                "Parameters": list(item.values()),
            }
            for item in chunk
        ]
        client.batch_execute_statement(Statements=statements)

    paths: list[tuple[str, Callable[[list[Item]], None], int, int]] = [
        ("BatchWriteItem 25 (warm-up)", batch, 25, 1),
        ("BatchWriteItem 25", batch, 25, 1),
        ("TransactWriteItems 100, conditional, client token", transact(True, True), 100, 1),
        ("TransactWriteItems 100, conditional", transact(True, False), 100, 1),
        ("TransactWriteItems 100, no condition", transact(False, False), 100, 1),
        ("TransactWriteItems 25, conditional", transact(True, False), 25, 1),
        ("TransactWriteItems 50, conditional, token, 3 writers", transact(True, True), 50, 3),
        ("PartiQL INSERT (BatchExecuteStatement 25)", partiql, 25, 1),
        ("BatchWriteItem 25 (again)", batch, 25, 1),
    ]
    rates = []
    print(f"{count:,} Contact items per path, fresh table keys each time\n")
    for prefix, (label, write, size, writers) in enumerate(paths, start=10):
        built = items(prefix)
        chunks = [built[i : i + size] for i in range(0, len(built), size)]
        started = time.perf_counter()
        with ThreadPoolExecutor(writers) as pool:
            list(pool.map(write, chunks))
        rate = count / (time.perf_counter() - started)
        rates.append(rate)
        baseline = rates[1] if len(rates) > 1 else rate
        print(f"  {label:55s} {rate:8,.0f} items/s  {rate / baseline:6.0%} of BatchWriteItem", flush=True)


if __name__ == "__main__":
    main()
