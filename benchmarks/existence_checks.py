"""What learning whether each number exists costs DynamoDB Local, next to writing it: the bound on an upsert.

An import upserts: before it writes a number it must know whether that contact
exists (to update it rather than replace it). The import reads every number
with consistent BatchGetItem. This prints, per number, what each way of
knowing costs the engine, next to what writing the contact with
BatchWriteItem costs, measured in the same run on a fresh in-memory DynamoDB
Local (writes and the import's reads first and last, so drift shows), and
what follows: where the engine serves one request at a time, an upsert that
reads every number spends write + read on each new contact, so it runs at
about write / (write + read) of the write-only ceiling. (The engine overlaps
some reads with writes on two cores: `import.py`'s ceiling with reads, which
measures that, has come out at 76% to 104% of the ceiling.)

The `by_number` range Query (the sorted numbers' range, a shard at a time,
only the key projected) is the cheap way to learn that numbers are absent
from an empty table, and the dear one where the range holds other contacts
(it returns them all); and it reads a global secondary index, which DynamoDB
only keeps eventually consistent: a contact created a moment ago (by the
step before, or by an inbound text) may not be in it yet, and the import
would then replace it.

    .venv/bin/python benchmarks/existence_checks.py [--numbers 50000]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from harness import configure, engine_cpu_seconds, fresh_dynamodb, put_all, read_numbers, warm_up


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--numbers", type=int, default=50_000)
    args = parser.parse_args()
    with fresh_dynamodb() as endpoint:
        configure(endpoint)
        run(args.numbers, endpoint)


def run(count: int, endpoint: str) -> None:
    import boto3
    from botocore.config import Config

    from chalicelib.models import Contact
    from chalicelib.models.contacts import INDEX_SHARDS
    from chalicelib.models.tables import create_tables
    from chalicelib.services.import_steps import QUEUED_NUMBERS

    create_tables()
    warm_up(endpoint)
    client = boto3.client("dynamodb", endpoint_url=endpoint, config=Config(parameter_validation=False))
    table = Contact.Meta.table_name
    now = datetime.now(UTC)

    def numbers(prefix: int) -> list[str]:
        """`count` numbers, each in another area code than the last: a sorted slice spans the range as a file's does."""
        return [f"+1{200 + i % 700}{prefix}{i // 700:05d}" for i in range(count)]

    def built(prefix: int) -> list[dict[str, Any]]:
        """New contacts' items, serialized by the model before the writes are timed, as the import's ceiling's are."""
        items = []
        for number in numbers(prefix):
            contact = Contact(number, created_at=now, updated_at=now, version=1, import_stamp="bench#0#created")
            contact.first_name, contact.last_name, contact.email, contact.city = (
                "Ann",
                "Lee",
                "ann@example.com",
                "Austin",
            )
            items.append(contact.serialize())
        return items

    def write(items: list[dict[str, Any]]) -> None:
        put_all(client, table, items)

    def batch_get(consistent: bool = True, key_only: bool = False) -> Callable[[list[str]], None]:
        projection = {"ProjectionExpression": "#n", "ExpressionAttributeNames": {"#n": "number"}} if key_only else {}
        return lambda batch: read_numbers(client, table, batch, ConsistentRead=consistent, **projection)

    def ranges(batch: list[str]) -> None:
        for start in range(0, len(batch), QUEUED_NUMBERS):
            chunk = sorted(batch[start : start + QUEUED_NUMBERS])
            for shard in range(INDEX_SHARDS):
                query: dict[str, Any] = {
                    "TableName": table,
                    "IndexName": "by_number",
                    "KeyConditionExpression": "#s = :s AND #n BETWEEN :low AND :high",
                    "ExpressionAttributeNames": {"#s": "shard", "#n": "number"},
                    "ExpressionAttributeValues": {
                        ":s": {"S": str(shard)},
                        ":low": {"S": chunk[0]},
                        ":high": {"S": chunk[-1]},
                    },
                    "ProjectionExpression": "#n",
                }
                while True:
                    answer = client.query(**query)
                    if "LastEvaluatedKey" not in answer:
                        break
                    query["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def measure(label: str, work: Callable[[list[Any]], None], batch: list[Any]) -> float:
        engine, started = engine_cpu_seconds(), time.perf_counter()
        work(batch)
        wall, cpu = time.perf_counter() - started, engine_cpu_seconds() - engine
        print(f"  {label:62s} {1e6 * wall / count:7.1f} µs {1e6 * cpu / count:7.1f} µs", flush=True)
        return wall

    absent, present = numbers(10), numbers(11)
    imports_read = "absent: BatchGetItem 100, consistent (the import's)"
    print(f"{count:,} numbers a path; per number: wall time, DynamoDB Local's CPU\n")
    measure(f"absent: by_number range Query, {QUEUED_NUMBERS:,} numbers, empty table", ranges, absent)
    writes = [measure("write: BatchWriteItem 25, new contacts", write, built(11))]
    reads = [measure(imports_read, batch_get(), absent)]
    measure("present: BatchGetItem 100, consistent (the import's)", batch_get(), present)
    measure("absent: BatchGetItem 100, eventually consistent", batch_get(consistent=False), absent)
    measure("absent: BatchGetItem 100, the key only", batch_get(key_only=True), absent)
    measure(f"absent: by_number range Query, {QUEUED_NUMBERS:,} numbers, among {count:,}", ranges, absent)
    reads.append(measure(f"{imports_read} (again)", batch_get(), absent))
    writes.append(measure("write: BatchWriteItem 25, new contacts (again)", write, built(12)))
    write_time, read_time = sum(writes) / len(writes), sum(reads) / len(reads)
    print(
        "\n  an upsert that reads every number as the import does, one request at a time: "
        f"{write_time / (write_time + read_time):.0%} of the write-only ceiling"
    )


if __name__ == "__main__":
    main()
