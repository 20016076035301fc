"""Read one page (25) of each inbox view from DynamoDB Local, seeded with many conversations.

Each view is a merge of Queries over index partitions, filters are filter
expressions, and the agents' Closed view adds a BatchGetItem: so the cost of a
page is not one request. For each page this prints the items returned, the
wall time, the DynamoDB requests, the items DynamoDB read for them
(ScannedCount of each Query, plus the items a BatchGetItem returned) and the
read capacity units consumed. Everything is counted at botocore, where every
read is made to ask for `ReturnConsumedCapacity=TOTAL`.

DynamoDB Local's latency swings by 2-3x from one read to the next (JVM pauses),
so times are the median and the fastest of several reads after a warm-up; the
requests, items read and units are the same on every read and are the figures
to compare with DynamoDB.

    .venv/bin/python benchmarks/inbox.py [--conversations 10000] [--repeats 10]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from botocore.client import BaseClient
from harness import configure, fresh_dynamodb

if TYPE_CHECKING:
    from chalicelib.models import Conversation
    from chalicelib.services.inbox import InboxQuery
    from chalicelib.services.visibility import Viewer

BUSINESS_NUMBERS = ("+15125550100", "+15125550101")
AGENTS = tuple(f"agent{n:02d}" for n in range(20))
GROUPS = tuple(f"group{n}" for n in range(5))
FIRST_NAMES = (
    "Ana", "Ben", "Carla", "David", "Elena", "Farid", "Grace", "Hugo", "Iris", "Jamal",
    "Keiko", "Liam", "Maya", "Noah", "Olga", "Pedro", "Quinn", "Rosa", "Sam", "Tara",
)  # fmt: skip
LAST_NAMES = (
    "Alvarez", "Brown", "Chen", "Dubois", "Evans", "Fischer", "Garcia", "Huang", "Ivanova", "Johnson",
    "Kim", "Lopez", "Martinez", "Nguyen", "Okafor", "Patel", "Rossi", "Smith", "Tanaka", "Weber",
)  # fmt: skip
SEARCH = "martin"
"""A name fragment about 1 in 20 named contacts match (Martinez), to show what a selective filter costs."""
NO_MATCH = "xyzzy"
"""A search nothing matches (a typo), the worst case: the whole view is read to return nothing."""
READS = frozenset({"Query", "GetItem", "BatchGetItem"})
HISTORY = timedelta(days=90)


def groups_of(agent_index: int) -> frozenset[str]:
    """One group per agent, and a second for every fourth agent, so some inboxes merge more queues."""
    groups = {GROUPS[agent_index % len(GROUPS)]}
    if agent_index % 4 == 0:
        groups.add(GROUPS[(agent_index + 1) % len(GROUPS)])
    return frozenset(groups)


@dataclass
class Usage:
    """What the DynamoDB requests made since the last `reset` asked for and consumed."""

    requests: Counter[str] = field(default_factory=Counter)
    items_read: int = 0
    read_units: float = 0.0
    unreported: int = 0
    """Read responses without ConsumedCapacity (DynamoDB Local might not report it)."""

    def reset(self) -> None:
        self.requests.clear()
        self.items_read = 0
        self.read_units = 0.0
        self.unreported = 0

    def record(self, operation_name: str, response: dict) -> None:
        self.requests[operation_name] += 1
        if operation_name not in READS:
            return
        self.items_read += response.get("ScannedCount", 0)
        self.items_read += sum(len(items) for items in response.get("Responses", {}).values())
        self.items_read += int("Item" in response)
        consumed = response.get("ConsumedCapacity")
        if consumed is None:
            self.unreported += 1
            return
        for entry in consumed if isinstance(consumed, list) else [consumed]:
            self.read_units += entry.get("CapacityUnits", 0.0)


def meter_dynamodb() -> Usage:
    usage = Usage()
    original = BaseClient._make_api_call

    def metered(self: BaseClient, operation_name: str, api_params: dict) -> dict:
        if self.meta.service_model.service_name != "dynamodb":
            return original(self, operation_name, api_params)
        if operation_name in READS:
            api_params = {**api_params, "ReturnConsumedCapacity": "TOTAL"}
        response = original(self, operation_name, api_params)
        usage.record(operation_name, response)
        return response

    BaseClient._make_api_call = metered  # type: ignore[method-assign]
    return usage


def seed(count: int, rng: random.Random) -> None:
    """Write `count` conversations (60% closed) and the closed ones' access entries, as closing would."""
    from chalicelib.models import Conversation, ConversationAccess
    from chalicelib.services.conversations import access_entries

    now = datetime.now(UTC)
    entries = []
    with Conversation.batch_write() as batch:
        for n in range(count):
            last_message_at = now - HISTORY * rng.random()
            name = None if rng.random() < 0.15 else f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
            conversation = Conversation(
                f"conv_bench{n:06d}",
                contact_number=f"+1737{rng.randrange(10**7):07d}",
                contact_name=name,
                business_number=rng.choice(BUSINESS_NUMBERS),
                message_count=rng.randint(1, 40),
                last_message_preview="Thanks, see you then",
                last_message_at=last_message_at,
                created_at=last_message_at - timedelta(days=3) * rng.random(),
            )
            if rng.random() < 0.6:
                make_closed(conversation, last_message_at, rng)
                conversation.serialize()
                closer = rng.choice(sorted(conversation.participants))
                entries += access_entries(conversation, extra_participant=closer)
            else:
                make_open(conversation, rng)
            batch.save(conversation)
    with ConversationAccess.batch_write() as batch:
        for entry in entries:
            batch.save(entry)


def make_closed(conversation: Conversation, last_message_at: datetime, rng: random.Random) -> None:
    """One or two agents took part; half went through a group first."""
    conversation.status = "closed"
    conversation.closed_at = last_message_at + timedelta(hours=rng.uniform(0, 24))
    conversation.participants = set(rng.sample(AGENTS, rng.choice((1, 1, 2))))
    conversation.assigned_agent = rng.choice(sorted(conversation.participants))
    conversation.closed_by = conversation.assigned_agent
    if rng.random() < 0.5:
        conversation.assigned_group = rng.choice(GROUPS)
        conversation.groups_seen = {conversation.assigned_group}
    conversation.unread = rng.random() < 0.05


def make_open(conversation: Conversation, rng: random.Random) -> None:
    """60% with an agent, 25% waiting in a group, 15% unassigned; about a third unread."""
    roll = rng.random()
    if roll < 0.6:
        conversation.assigned_agent = rng.choice(AGENTS)
        conversation.participants = {conversation.assigned_agent}
    elif roll < 0.85:
        conversation.assigned_group = rng.choice(GROUPS)
        conversation.groups_seen = {conversation.assigned_group}
    conversation.unread = rng.random() < 0.35


@dataclass(frozen=True)
class Case:
    label: str
    query: InboxQuery
    viewer: Viewer
    second_page: bool = False


@dataclass(frozen=True)
class Result:
    case: Case
    items: int
    median_ms: float
    min_ms: float
    requests: Counter[str]
    items_read: int
    read_units: float
    unreported: int


def measure(case: Case, usage: Usage, repeats: int) -> Result:
    """Wall times of `repeats` reads of the page, after one untimed read; the requests are the same each time."""
    from chalicelib.services.inbox import list_conversations

    query = case.query
    if case.second_page:
        query = replace(query, cursor=list_conversations(query, case.viewer).next_cursor)
    list_conversations(query, case.viewer)
    timings = []
    for _ in range(repeats):
        usage.reset()
        started = time.perf_counter()
        page = list_conversations(query, case.viewer)
        timings.append((time.perf_counter() - started) * 1000)
    return Result(
        case,
        len(page.items),
        statistics.median(timings),
        min(timings),
        Counter(usage.requests),
        usage.items_read,
        usage.read_units,
        usage.unreported,
    )


def cases() -> list[Case]:
    from chalicelib.services.inbox import InboxQuery
    from chalicelib.services.visibility import Viewer

    agent = Viewer(AGENTS[0], "agent", groups_of(0))
    supervisor = Viewer("supervisor", "supervisor", frozenset())
    return [
        Case("inbox (agent)", InboxQuery("inbox", sort="date"), agent),
        Case("inbox (agent)", InboxQuery("inbox", sort="contact"), agent),
        Case("inbox (agent), page 2", InboxQuery("inbox", sort="date"), agent, second_page=True),
        Case("inbox (agent), unread", InboxQuery("inbox", unread=True), agent),
        Case(f"inbox (agent), q={SEARCH}", InboxQuery("inbox", q=SEARCH), agent),
        Case("all_open (supervisor)", InboxQuery("all_open", sort="date"), supervisor),
        Case("all_open (supervisor)", InboxQuery("all_open", sort="contact"), supervisor),
        Case("all_open (supervisor), page 2", InboxQuery("all_open", sort="date"), supervisor, second_page=True),
        Case(f"all_open (supervisor), q={SEARCH}", InboxQuery("all_open", q=SEARCH), supervisor),
        Case(f"all_open (supervisor), q={NO_MATCH}", InboxQuery("all_open", q=NO_MATCH), supervisor),
        Case("closed (supervisor)", InboxQuery("closed", sort="date"), supervisor),
        Case("closed (agent)", InboxQuery("closed", sort="date"), agent),
        Case("closed (agent)", InboxQuery("closed", sort="contact"), agent),
    ]


def report(results: list[Result], args: argparse.Namespace, seeding_s: float) -> None:
    print(
        f"Inbox views, {args.conversations} conversations (60% closed), one page of 25, DynamoDB Local, "
        f"{args.repeats} reads each (seeded in {seeding_s:.1f} s)\n"
    )
    print(
        f"  {'view':<33} {'sort':<8} {'items':>5} {'ms p50':>7} {'ms min':>7} "
        f"{'requests':>8} {'read':>6} {'RCU':>7}  operations"
    )
    for r in results:
        units = f"{r.read_units:7.1f}" if not r.unreported else f"{'n/a':>7}"
        operations = ", ".join(f"{name} {count}" for name, count in sorted(r.requests.items()))
        print(
            f"  {r.case.label:<33} {r.case.query.sort:<8} {r.items:>5} {r.median_ms:7.1f} {r.min_ms:7.1f} "
            f"{r.requests.total():>8} {r.items_read:>6} {units}  {operations}"
        )
    print("\n  read: items DynamoDB read (Query ScannedCount + BatchGetItem items), before filters")
    if any(r.unreported for r in results):
        print("  RCU n/a: DynamoDB Local returned no ConsumedCapacity for some reads, though asked for it")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1, help="random seed for the generated conversations")
    args = parser.parse_args()

    with fresh_dynamodb() as endpoint:
        configure(endpoint)
        from chalicelib.models.tables import create_tables

        create_tables()
        started = time.perf_counter()
        seed(args.conversations, random.Random(args.seed))
        seeding_s = time.perf_counter() - started
        usage = meter_dynamodb()
        results = [measure(case, usage, args.repeats) for case in cases()]

    report(results, args, seeding_s)


if __name__ == "__main__":
    main()
