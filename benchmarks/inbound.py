"""Drive inbound messages through the real pipeline against DynamoDB Local.

Prints p50/p99 handler latency and the DynamoDB requests each inbound message
costs (counted at botocore, so PynamoDB and Powertools calls are both seen),
next to the floor of one request per message.

    .venv/bin/python benchmarks/inbound.py [--messages 1000] [--senders 100]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from collections import Counter

from harness import configure, count_dynamodb_requests, fresh_dynamodb

BUSINESS_NUMBER = "+15125550100"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--senders", type=int, default=100)
    args = parser.parse_args()

    with fresh_dynamodb() as endpoint:
        configure(endpoint)
        from chalicelib.models.tables import create_tables
        from chalicelib.services import business_numbers, inbound

        warnings.filterwarnings("ignore", message="Couldn't determine the remaining time left")

        create_tables()
        business_numbers.create({"number": BUSINESS_NUMBER, "name": "Bench"})
        warm = inbound.InboundSms("bench", "warm-up", "+17375559999", BUSINESS_NUMBER, "warm up")
        inbound.receive(warm)

        calls = count_dynamodb_requests()
        latencies = []
        for i in range(args.messages):
            sender = f"+1737555{i % args.senders:04d}"
            sms = inbound.InboundSms("bench", f"bench-{i}", sender, BUSINESS_NUMBER, f"message {i}")
            started = time.perf_counter()
            inbound.receive(sms)
            latencies.append((time.perf_counter() - started) * 1000)
        first_deliveries = Counter(calls)
        duplicates_started = sum(calls.values())
        for i in range(min(100, args.messages)):
            sender = f"+1737555{i % args.senders:04d}"
            inbound.receive(inbound.InboundSms("bench", f"bench-{i}", sender, BUSINESS_NUMBER, f"message {i}"))
        duplicate_requests = sum(calls.values()) - duplicates_started

    per_message = duplicates_started / args.messages
    print(f"Inbound pipeline, {args.messages} messages from {args.senders} senders, DynamoDB Local, one process\n")
    cuts = statistics.quantiles(latencies, n=100)
    print(f"  handler latency p50          {cuts[49]:7.2f} ms")
    print(f"  handler latency p99          {cuts[98]:7.2f} ms")
    print(f"  DynamoDB requests / message  {per_message:7.2f}    (floor: 1.00, ratio {per_message:.2f}x)")
    print(f"  requests / retried duplicate {duplicate_requests / min(100, args.messages):7.2f}")
    print("\n  requests per message by operation (first deliveries):")
    for operation, count in sorted(first_deliveries.items(), key=lambda kv: -kv[1]):
        print(f"    {operation:<20} {count / args.messages:5.2f}")


if __name__ == "__main__":
    main()
