"""A broadcast's resolve + opt-out check stage at 100,000 recipients, and the send throttle, on DynamoDB Local.

Stage 1 seeds a campaign of `--recipients` subscribers (5% opted out, 0.5%
blocked, as contacts), then runs the real resolution step (Query pages of
1,000 subscribers, send batches queued on a moto SQS queue) and the real
guard, `outbound.check_all`, on every queued batch (one consistent
BatchGetItem per 100 numbers). It prints opt-out checks per second and
DynamoDB requests per recipient, counted at botocore, next to the naive
baseline measured in the same run: one consistent GetItem per recipient.

Stage 2 runs `--workers` threads sharing one business number's `SendRate`
windows at `--mps` parts per second for `--seconds`, with messages of one or
two parts, and prints the parts per second achieved against the limit, over
whole seconds, and the busiest second.

    .venv/bin/python benchmarks/broadcast.py [--recipients 100000] [--naive 100000] [--mps 50] [--seconds 20]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from harness import configure, count_dynamodb_requests, fresh_dynamodb, start_moto

BUSINESS_NUMBER = "+15125550100"
AREAS = ("512", "737", "214", "469", "972", "713", "281", "832", "210", "726", "903", "940")
SEED_THREADS = 4


def numbers_for(count: int) -> list[str]:
    return [f"+1{AREAS[i // 10_000]}555{i % 10_000:04d}" for i in range(count)]


def seed(numbers: list[str], campaign_id: str) -> None:
    """Contacts (every 20th opted out, every 200th blocked) and the campaign's subscriptions, in parallel batches."""
    from chalicelib.models import Contact
    from chalicelib.models.campaigns import Subscription

    now = datetime.now(UTC)

    def write(share: list[str]) -> None:
        with Contact.batch_write() as contacts, Subscription.batch_write() as subscriptions:
            for number in share:
                index = int(number[-4:]) + 10_000 * AREAS.index(number[2:5])
                contacts.save(
                    Contact(
                        number,
                        created_at=now,
                        updated_at=now,
                        opt_status="opted_out" if index % 20 == 0 else "opted_in",
                        blocked=index % 200 == 7,
                    )
                )
                subscriptions.save(Subscription(campaign_id, number, subscribed_at=now, source="import"))

    with ThreadPoolExecutor(SEED_THREADS) as pool:
        list(pool.map(write, [numbers[i::SEED_THREADS] for i in range(SEED_THREADS)]))


def drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    bodies = []
    while True:
        received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not received:
            return bodies
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(received)]
        )
        bodies += [json.loads(m["Body"]) for m in received]


def resolve_and_check(campaign_id: str, sqs: Any, url: str, calls: Counter[str]) -> dict[str, Any]:
    """The real resolution step, then the real guard on every batch it queued; requests counted for both."""
    from chalicelib.services import broadcast_fanout, broadcasts, business_numbers, outbound

    created = broadcasts.create(
        {"body": "Hi {first_name|there}", "business_number": BUSINESS_NUMBER, "campaigns": [campaign_id]}, "bench"
    )
    drain(sqs, url)
    business = business_numbers.load(BUSINESS_NUMBER)
    calls.clear()
    started = time.perf_counter()
    broadcast_fanout.resolve(created["id"], 0, 0)
    broadcast_fanout.resolve(created["id"], 1, 0)
    resolved = time.perf_counter()
    resolve_requests = sum(calls.values())
    batches = [m for m in drain(sqs, url) if m["step"] == "send"]
    refusals: Counter[str] = Counter()
    checked_numbers = 0
    check_started = time.perf_counter()
    for batch in batches:
        outgoings = [
            outbound.Outgoing(
                created["id"], n, business, "x", outbound.Purpose.BROADCAST, "bench", campaign_id=campaign_id
            )
            for n in batch["numbers"]
        ]
        for checked in outbound.check_all(outgoings):
            refusals[checked.refusal.code if checked.refusal else "allowed"] += 1
        checked_numbers += len(outgoings)
    finished = time.perf_counter()
    return {
        "recipients": checked_numbers,
        "batches": len(batches),
        "resolve_seconds": resolved - started,
        "check_seconds": finished - check_started,
        "resolve_requests": resolve_requests,
        "requests": dict(calls),
        "total_requests": sum(calls.values()),
        "refusals": refusals,
    }


def naive(numbers: list[str], calls: Counter[str]) -> dict[str, Any]:
    """One consistent GetItem per recipient, the same answer the batch guard gives."""
    from chalicelib.models import Contact

    calls.clear()
    started = time.perf_counter()
    for number in numbers:
        with contextlib.suppress(Contact.DoesNotExist):
            Contact.get(number, consistent_read=True)
    return {"recipients": len(numbers), "seconds": time.perf_counter() - started, "requests": sum(calls.values())}


def throttle(mps: int, seconds: float, workers: int) -> dict[str, Any]:
    """`workers` threads acquire one- and two-part messages from the same windows; parts per wall-clock second."""
    from chalicelib.services.send_rate import SendRate

    number = f"+1512555{int(time.time()) % 10_000:04d}"
    parts_at: list[tuple[float, int]] = []
    lock = threading.Lock()
    stop = time.time() + seconds

    def worker(index: int) -> None:
        rate = SendRate(number, mps)
        sent = 0
        while time.time() < stop:
            parts = 2 if (sent + index) % 3 == 0 else 1
            rate.acquire(parts)
            with lock:
                parts_at.append((time.time(), parts))
            sent += 1

    started = time.time()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(worker, range(workers)))
    per_second: Counter[int] = Counter()
    for moment, parts in parts_at:
        per_second[int(moment)] += parts
    whole = [second for second in per_second if int(started) < second < int(stop)]
    measured = sum(per_second[s] for s in whole)
    return {
        "messages": len(parts_at),
        "parts": sum(p for _, p in parts_at),
        "seconds": len(whole),
        "achieved": measured / max(1, len(whole)),
        "busiest": max(per_second[s] for s in whole) if whole else 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--naive", type=int, default=None, help="recipients the naive baseline reads (default: all)")
    parser.add_argument("--mps", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=3)
    args = parser.parse_args()
    if args.recipients > 10_000 * len(AREAS):
        parser.error(f"at most {10_000 * len(AREAS)} recipients")

    with contextlib.ExitStack() as stack:
        endpoint = stack.enter_context(fresh_dynamodb())
        moto, moto_url = start_moto()
        stack.callback(moto.stop)
        configure(endpoint)
        import os

        import boto3

        os.environ.update({"AWS_ENDPOINT_URL_SQS": moto_url})
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="send")["QueueUrl"]
        os.environ["SEND_QUEUE_URL"] = url
        from chalicelib.models.tables import create_tables
        from chalicelib.services import business_numbers, campaigns

        create_tables()
        business_numbers.create({"number": BUSINESS_NUMBER, "name": "Bench", "mps": 100})
        campaign_id = campaigns.create({"name": "Bench", "business_number": BUSINESS_NUMBER, "welcome_text": "hi"})[
            "id"
        ]
        numbers = numbers_for(args.recipients)
        seeding = time.perf_counter()
        seed(numbers, campaign_id)
        seeded = time.perf_counter() - seeding
        calls = count_dynamodb_requests()
        batch = resolve_and_check(campaign_id, sqs, url, calls)
        baseline = naive(numbers[: args.naive or len(numbers)], calls)
        paced = throttle(args.mps, args.seconds, args.workers)

    recipients = batch["recipients"]
    stage_seconds = batch["resolve_seconds"] + batch["check_seconds"]
    print(f"Broadcast fan-out, {recipients:,} recipients (campaign subscribers), DynamoDB Local, one process")
    print(f"  (seeded in {seeded:.0f} s; refusals: {dict(batch['refusals'])})\n")
    print("Resolve + opt-out check          batch guard      naive GetItem")
    naive_rate = baseline["recipients"] / baseline["seconds"]
    print(f"  checks per second           {recipients / stage_seconds:12,.0f}   {naive_rate:12,.0f}")
    naive_per = baseline["requests"] / baseline["recipients"]
    per_recipient = batch["total_requests"] / recipients
    print(f"  DynamoDB requests/recipient {per_recipient:12.4f}   {naive_per:12.4f}   (target <= 0.02)")
    print(f"  checks per second, check only {recipients / batch['check_seconds']:10,.0f}   (resolve excluded)")
    print(f"  DynamoDB requests           {batch['total_requests']:12,}   {baseline['requests']:12,}")
    print(f"  seconds                     {stage_seconds:12.1f}   {baseline['seconds']:12.1f}")
    if baseline["recipients"] != recipients:
        print(f"  (naive baseline read {baseline['recipients']:,} recipients; its rates are per recipient)")
    print(f"  requests by operation: {batch['requests']}")
    print(
        f"  resolve: {batch['resolve_requests']} requests, {batch['resolve_seconds']:.1f} s, {batch['batches']} batches"
    )
    deviation = (paced["achieved"] - args.mps) / args.mps * 100
    print(f"\nThrottle: {args.workers} workers sharing one number at mps {args.mps}, one- and two-part messages")
    print(f"  whole seconds measured      {paced['seconds']:12}")
    print(f"  messages / parts sent       {paced['messages']:12,} / {paced['parts']:,}")
    print(f"  achieved parts per second   {paced['achieved']:12.2f}   ({deviation:+.1f}% of {args.mps})")
    print(f"  busiest second (parts)      {paced['busiest']:12}")


if __name__ == "__main__":
    main()
