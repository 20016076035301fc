"""Broadcasts: the API, the fan-out through the send queue, the one guard, pacing, receipts and crashes."""

from __future__ import annotations

import json
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.models import Broadcast, BroadcastRecipient, Message, OpenConversation, SendWindow
from chalicelib.services import business_numbers, campaigns, contacts, groups, optouts
from chalicelib.services.outbound import record_receipt
from chalicelib.services.send_rate import SendRate
from chalicelib.transport.base import OutboundSms, SendReceipt, TransportError
from tests.conftest import BUSINESS_NUMBER, Bucket, SpyTransport

ANA, BOB, CAT, DAN, EVE, FAY, GIL = (f"+1512555010{i}" for i in range(1, 8))
APPENDED = "\nReply STOP to opt out"


@pytest.fixture
def fast(business: dict[str, Any]) -> dict[str, Any]:
    """The test business number, allowed far more than a long code's 1 message per second."""
    return business_numbers.update(BUSINESS_NUMBER, {"mps": 1000})


def run_send_queue(client: Any, bucket: Bucket) -> int:
    """Deliver what the send queue holds, and whatever that queues, until it is empty; how many messages ran."""
    ran = 0
    while bodies := bucket.drain(bucket.send_queue_url):
        for body in bodies:
            invoke(client, body)
            ran += 1
    return ran


def invoke(client: Any, body: str) -> None:
    event = client.events.generate_sqs_event(message_bodies=[body], queue_name="send")
    assert client.lambda_.invoke("send_broadcasts", event).payload == {"batchItemFailures": []}


def totals(api: Any, broadcast_id: str) -> dict[str, Any]:
    response = api.get(f"/broadcasts/{broadcast_id}")
    assert response.status_code == 200
    return response.json_body


def test_create_validates_and_previews(fast, bucket, as_supervisor, as_agent):
    created = as_supervisor.post(
        "/broadcasts",
        {"body": "Hi {first_name|there} 👋", "business_number": "5125550100", "numbers": [ANA, "12", "512-555-0101"]},
    )
    assert created.status_code == 202, created.json_body
    view = created.json_body
    assert view["status"] == "scheduled" and view["id"].startswith("bc_")
    assert view["preview"] == {"encoding": "UCS-2", "segments": 1, "characters": len("Hi {first_name|there} 👋") + 22}
    assert view["numbers"] == [ANA]
    assert [i["number"] for i in view["invalid_numbers"]] == ["12"]
    assert view["totals"]["skipped_invalid"] == 1 and view["totals"]["duplicates"] == 1

    def error(body: dict[str, Any], status: int = 400) -> dict[str, Any]:
        response = as_supervisor.post("/broadcasts", {"business_number": BUSINESS_NUMBER, "numbers": [ANA], **body})
        assert response.status_code == status, response.json_body
        return response.json_body["error"]

    assert error({"body": "Hi {nickname}"})["field"] == "body"
    assert error({"body": "x", "numbers": []})["field"] == "numbers"
    assert error({"body": "x", "groups": ["grp_nope"]}, 404)["field"] == "groups.0"
    assert error({"body": "x", "campaigns": ["cmp_nope"]}, 404)["field"] == "campaigns.0"
    assert error({"body": "x", "business_number": "+15125559999"}, 404)["field"] == "business_number"
    assert error({"body": "x", "send_at": "tomorrow"})["field"] == "send_at"
    assert error({"body": "x", "send_at": "2030-01-01T10:00:00"})["field"] == "send_at"
    assert error({"body": "x", "send_at": "2020-01-01T10:00:00Z"})["field"] == "send_at"
    assert error({"body": "x", "extra": 1})["field"] == "extra"
    assert error({"body": ""})["field"] == "body"
    assert (
        as_agent.post("/broadcasts", {"body": "x", "business_number": BUSINESS_NUMBER, "numbers": [ANA]}).status_code
        == 403
    )
    assert as_supervisor.get("/broadcasts/bc_nope").status_code == 404
    assert as_supervisor.post("/broadcasts/bc_nope/cancel").status_code == 404


def test_list_is_newest_first_and_paged(fast, bucket, as_admin):
    ids = [
        as_admin.post("/broadcasts", {"body": f"b{i}", "business_number": BUSINESS_NUMBER, "numbers": [ANA]}).json_body[
            "id"
        ]
        for i in range(3)
    ]
    first = as_admin.get("/broadcasts?limit=2").json_body
    assert [b["id"] for b in first["items"]] == ids[::-1][:2]
    rest = as_admin.get(f"/broadcasts?limit=2&cursor={first['next_cursor']}").json_body
    assert [b["id"] for b in rest["items"]] == [ids[0]] and rest["next_cursor"] is None
    assert as_admin.get("/broadcasts?limit=0").status_code == 400


def seed_audience() -> tuple[str, str]:
    """ANA named, BOB opted out, CAT blocked, DAN unknown, GIL inactive; group: ANA, EVE; campaign: EVE, FAY (opted
    out of it)."""
    contacts.create_contact({"number": ANA, "first_name": "Ana"})
    contacts.create_contact({"number": CAT, "blocked": True})
    contacts.create_contact({"number": GIL, "status": "inactive"})
    optouts.opt_out(BOB, optouts.Scope(), source="keyword", actor=BOB, reason="STOP")
    group_id = groups.create_group({"name": "Regulars"})["id"]
    groups.add_members(group_id, [ANA, EVE])
    campaign_id = campaigns.create(
        {"name": "Spring", "business_number": BUSINESS_NUMBER, "keywords": ["SPRING"], "welcome_text": "Welcome"}
    )["id"]
    for number in (EVE, FAY):
        campaigns.subscribe(campaign_id, number)
    optouts.opt_out(FAY, optouts.Scope(campaign_id), source="keyword", actor=FAY, reason="STOP")
    return group_id, campaign_id


def test_end_to_end_skips_opted_out_and_blocked_and_follows_receipts(client, fast, bucket, spy, as_supervisor):
    group_id, campaign_id = seed_audience()
    created = as_supervisor.post(
        "/broadcasts",
        {
            "body": "Hi {first_name|there}!",
            "business_number": BUSINESS_NUMBER,
            "numbers": [ANA, BOB, CAT, DAN, GIL, "12"],
            "groups": [group_id],
            "campaigns": [campaign_id],
        },
    ).json_body

    run_send_queue(client, bucket)

    assert Counter(m.to for m in spy.sent) == {ANA: 1, DAN: 1, EVE: 1}
    assert {m.to: m.body for m in spy.sent} == {
        ANA: "Hi Ana!" + APPENDED,
        DAN: "Hi there!" + APPENDED,
        EVE: "Hi there!" + APPENDED,
    }
    view = totals(as_supervisor, created["id"])
    assert view["status"] == "done"
    assert view["totals"] == {
        "recipients": 7,
        "skipped_opted_out": 2,
        "skipped_blocked": 1,
        "skipped_inactive": 1,
        "skipped_invalid": 1,
        "duplicates": 2,
        "sent": 3,
        "delivered": 0,
        "failed": 0,
    }
    reasons = {r.number: (r.state, r.reason) for r in BroadcastRecipient.query(created["id"])}
    assert reasons[BOB] == ("skipped", "opted_out") and reasons[FAY] == ("skipped", "opted_out")
    assert reasons[CAT] == ("skipped", "blocked") and reasons[ANA] == ("sent", None)
    assert reasons[GIL] == ("skipped", "inactive")
    assert not list(OpenConversation.query(f"{ANA}|{BUSINESS_NUMBER}")), "a broadcast opens no conversation"
    assert len(list(Message.query(created["id"]))) == 3, "the messages live in the broadcast's own thread"

    provider = {m.to: f"spy-{i}" for i, m in enumerate(spy.sent, start=1)}
    assert record_receipt(provider[ANA], "delivered")
    assert not record_receipt(provider[ANA], "delivered"), "a repeated receipt counts once"
    assert record_receipt(provider[DAN], "undelivered")
    assert not record_receipt(provider[DAN], "sent"), "a late 'sent' never moves a settled message back"
    final = totals(as_supervisor, created["id"])["totals"]
    assert (final["delivered"], final["failed"], final["sent"]) == (1, 1, 3)


def test_a_campaign_broadcast_skips_who_texted_stop_to_it(client, fast, bucket, spy, as_admin):
    """Must-show 1 in miniature: the keyword subscribes, STOP on the campaign's number opts out of it."""
    from tests.test_optouts import text_in

    campaign_id = campaigns.create(
        {"name": "Deals", "business_number": BUSINESS_NUMBER, "keywords": ["DEALS"], "welcome_text": "Welcome!"}
    )["id"]
    for number in (ANA, BOB):
        text_in("DEALS", sender=number)
    text_in("STOP", sender=BOB)
    before = len(spy.sent)
    created = as_admin.post(
        "/broadcasts", {"body": "20% off", "business_number": BUSINESS_NUMBER, "campaigns": [campaign_id]}
    ).json_body
    run_send_queue(client, bucket)
    assert [m.to for m in spy.sent[before:]] == [ANA]
    view = totals(as_admin, created["id"])["totals"]
    assert (view["recipients"], view["sent"], view["skipped_opted_out"]) == (2, 1, 1)


def test_cancel_a_scheduled_broadcast_and_a_running_one(client, fast, bucket, spy, as_supervisor):
    later = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    scheduled = as_supervisor.post(
        "/broadcasts", {"body": "later", "business_number": BUSINESS_NUMBER, "numbers": [ANA], "send_at": later}
    ).json_body
    attributes = bucket.sqs.get_queue_attributes(QueueUrl=bucket.send_queue_url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessagesDelayed"] == "1", "queued with a delay, not visible yet"
    early = json.dumps({"broadcast": scheduled["id"], "step": "resolve", "source": 0, "batches": 0})
    invoke(client, early)
    assert totals(as_supervisor, scheduled["id"])["status"] == "scheduled", "an early step re-queues itself"
    assert as_supervisor.post(f"/broadcasts/{scheduled['id']}/cancel").json_body["status"] == "cancelled"
    assert as_supervisor.post(f"/broadcasts/{scheduled['id']}/cancel").status_code == 409

    running = as_supervisor.post(
        "/broadcasts", {"body": "now", "business_number": BUSINESS_NUMBER, "numbers": [ANA, BOB]}
    ).json_body
    (resolve,) = bucket.drain(bucket.send_queue_url)
    invoke(client, resolve)
    assert totals(as_supervisor, running["id"])["status"] == "resolving"
    as_supervisor.post(f"/broadcasts/{running['id']}/cancel")
    run_send_queue(client, bucket)
    invoke(client, early)
    assert spy.sent == [], "workers stop at their next batch"
    assert totals(as_supervisor, running["id"])["status"] == "cancelled"


class Flaky(SpyTransport):
    """Fails ANA once (transient) and BOB always (permanent)."""

    def __init__(self) -> None:
        super().__init__()
        self.tries: Counter[str] = Counter()

    def send(self, message: OutboundSms) -> SendReceipt:
        self.tries[message.to] += 1
        if message.to == ANA and self.tries[ANA] == 1:
            raise TransportError("throttled by the carrier", permanent=False)
        if message.to == BOB:
            raise TransportError("not a mobile number", permanent=True)
        return super().send(message)


def test_transient_failures_are_retried_and_permanent_ones_fail(client, fast, bucket, as_supervisor):
    from chalicelib.transport.registry import use_transport

    with use_transport(Flaky()) as transport:
        created = as_supervisor.post(
            "/broadcasts", {"body": "hi", "business_number": BUSINESS_NUMBER, "numbers": [ANA, BOB]}
        ).json_body
        run_send_queue(client, bucket)
    assert transport.tries == {ANA: 2, BOB: 1}
    assert [m.to for m in transport.sent] == [ANA]
    view = totals(as_supervisor, created["id"])
    assert (view["status"], view["totals"]["sent"], view["totals"]["failed"]) == ("done", 1, 1)
    assert BroadcastRecipient.get(created["id"], BOB).reason.startswith("failed: not a mobile number")


class WorkerDied(BaseException):
    """What a Lambda worker killed mid-batch looks like to the code: nothing after this line runs."""


class DiesOnce(SpyTransport):
    """Hands the `die_at`-th message to the carrier, then the worker holding it dies before recording it."""

    def __init__(self, die_at: int) -> None:
        super().__init__()
        self.die_at = die_at
        self.lock = threading.Lock()

    def send(self, message: OutboundSms) -> SendReceipt:
        with self.lock:
            receipt = super().send(message)
            dies = len(self.sent) == self.die_at
        if dies:
            raise WorkerDied()
        return receipt


def test_ten_thousand_with_500_opted_out_survive_a_crash_without_duplicates(client, fast, bucket):
    """Must-show 2: 9,500 sends, 500 skips, no number texted twice after a crash and redelivery.

    Four workers take the send queue's messages concurrently, as Lambda would.
    """
    from chalicelib.transport.registry import use_transport

    numbers = [f"+1737555{n:04d}" for n in range(10_000)]
    group_id = groups.create_group({"name": "Everyone"})["id"]
    groups.add_members(group_id, numbers)
    for number in numbers[::20]:
        optouts.opt_out(number, optouts.Scope(), source="import", actor="test", reason="opted out list")
    created = broadcasts_create(group_id)
    crashed: list[str] = []

    def worker(body: str) -> None:
        try:
            invoke(client, body)
        except WorkerDied:
            crashed.append(body)
            invoke(client, body)  # SQS redelivers the message the dead worker held

    with use_transport(DiesOnce(die_at=4_321)) as transport, ThreadPoolExecutor(4) as pool:
        while bodies := bucket.drain(bucket.send_queue_url):
            list(pool.map(worker, bodies))
    assert len(crashed) == 1
    per_number = Counter(m.to for m in transport.sent)
    assert len(transport.sent) == 9_500 and max(per_number.values()) == 1
    assert not set(per_number) & set(numbers[::20]), "no opted-out number was texted"
    item = Broadcast.get(created, consistent_read=True)
    assert item.status == "done"
    assert (item.recipients, item.skipped_opted_out, item.duplicates) == (10_000, 500, 0)
    assert (item.sent, item.failed) == (9_499, 1), "the one in the dead worker's hands: unknown, so failed, not resent"
    interrupted = [r for r in BroadcastRecipient.query(created) if r.state == "failed"]
    assert len(interrupted) == 1 and interrupted[0].reason.startswith("interrupted")
    assert interrupted[0].number == transport.sent[4_320].to


def broadcasts_create(group_id: str) -> str:
    from chalicelib.services import broadcasts

    return broadcasts.create({"body": "Big news", "business_number": BUSINESS_NUMBER, "groups": [group_id]}, "ada")[
        "id"
    ]


class FakeClock:
    """Time that moves only when told to, or when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.25

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_send_rate_holds_the_limit_across_workers_counting_parts(dynamodb):
    clock = FakeClock()
    workers = [SendRate("+15125550100", 5, clock=clock, sleep=clock.sleep) for _ in range(2)]
    sent_in: Counter[int] = Counter()
    by_worker: Counter[int] = Counter()
    for i in range(40):
        worker = i % 2
        parts = 2 if i % 3 == 0 else 1
        workers[worker].acquire(parts)
        sent_in[int(clock())] += parts
        by_worker[worker] += 1
        clock.now += 0.01
    assert max(sent_in.values()) <= 5, "never more parts in a second than the number's MPS"
    assert sum(sent_in.values()) == 54
    assert len(sent_in) >= 11, "54 parts at 5 per second need at least 11 seconds"
    assert all(SendWindow.get(f"+15125550100#{second}").parts <= 5 for second in sent_in)


def test_a_message_longer_than_a_seconds_allowance_spreads_over_seconds(dynamodb):
    clock = FakeClock()
    start = int(clock())
    SendRate("+15125550100", 3, clock=clock, sleep=clock.sleep).acquire(7)
    assert int(clock()) == start + 2, "3 + 3 + 1 parts: sent in the third second"
    assert [SendWindow.get(f"+15125550100#{start + k}").parts for k in range(3)] == [3, 3, 1]
