"""Opt-outs racing sends, and replayed requests: the last check is the write that hands a message over.

Every transaction the app commits is recorded with the moments it was sent
and answered. A message handed over after a person's opt-out committed is one
whose recording (or recipient claim) transaction was *sent* after the opt-out's
transaction had been *answered*: DynamoDB must then have seen the opt-out, so
such a pair is a definite violation, never a timing accident.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from pynamodb.connection.base import Connection

from chalicelib.models import Contact, InboundReceipt, Message, OpenConversation
from chalicelib.services import business_numbers, inbound, optouts, outbound
from chalicelib.services.send_rate import SendRate
from tests.conftest import BUSINESS_NUMBER
from tests.test_broadcasts import run_send_queue, totals
from tests.test_inbound import twilio_message, twilio_post

counter = iter(range(10**9))


@dataclass(frozen=True)
class Committed:
    sent: float
    answered: float
    items: list[dict[str, Any]]

    def puts(self, table_env: str) -> list[dict[str, Any]]:
        import os

        table = os.environ[table_env]
        return [item["Put"]["Item"] for item in self.items if "Put" in item and item["Put"]["TableName"] == table]


@pytest.fixture
def committed(monkeypatch: pytest.MonkeyPatch) -> list[Committed]:
    """Every transaction that committed, with when it was sent and when its answer came back."""
    log: list[Committed] = []
    lock = threading.Lock()
    original = Connection.transact_write_items

    def recording(self: Connection, *args: Any, **kwargs: Any) -> Any:
        items = [
            *({"ConditionCheck": item} for item in kwargs.get("condition_check_items", ())),
            *({"Put": item} for item in kwargs.get("put_items", ())),
        ]
        sent = time.monotonic()
        result = original(self, *args, **kwargs)
        with lock:
            log.append(Committed(sent, time.monotonic(), items))
        return result

    monkeypatch.setattr(Connection, "transact_write_items", recording)
    return log


def opt_out_answered(log: list[Committed]) -> dict[str, float]:
    """When each number's first opt-out transaction was answered."""
    answered: dict[str, float] = {}
    for entry in sorted(log, key=lambda c: c.answered):
        for item in entry.puts("OPTOUTS_TABLE"):
            answered.setdefault(item["number"]["S"], entry.answered)
    return answered


def stop(number: str) -> None:
    inbound.receive(inbound.InboundSms("twilio", f"SMR{next(counter)}", number, BUSINESS_NUMBER, "STOP"))


def test_stop_during_a_paced_broadcast_always_wins(
    client, business, bucket, spy, as_supervisor, committed, monkeypatch
):
    """20 numbers text STOP while a broadcast to them runs at 1 MPS: half at random moments, half exactly while
    the broadcast waits for their turn after its early check. Nothing is handed over after an opt-out committed."""
    numbers = [f"+1737555{n:04d}" for n in range(20)]
    forced, natural = set(numbers[1::2]), numbers[0::2]
    pending: list[threading.Thread] = []
    original_check, original_acquire = outbound.check_all, SendRate.acquire

    def check_then_stop(outgoings: Any) -> Any:
        checked = original_check(outgoings)
        for item in checked:
            if item.outgoing.contact_number in forced and item.refusal is None:
                pending.append(threading.Thread(target=stop, args=(item.outgoing.contact_number,)))
                pending[-1].start()
        return checked

    def acquire_after_stops(self: SendRate, parts: int) -> None:
        while pending:
            pending.pop().join()
        original_acquire(self, parts)

    monkeypatch.setattr(outbound, "check_all", check_then_stop)
    monkeypatch.setattr(SendRate, "acquire", acquire_after_stops)
    assert business_numbers.mps(business_numbers.load(BUSINESS_NUMBER)) == 1
    created = as_supervisor.post(
        "/broadcasts", {"body": "news", "business_number": BUSINESS_NUMBER, "numbers": numbers}
    )
    assert created.status_code == 202
    started = time.monotonic()
    timers = [threading.Timer(position + random.uniform(0, 1.5), stop, (n,)) for position, n in enumerate(natural)]
    for timer in timers:
        timer.start()
    run_send_queue(client, bucket)
    for timer in timers:
        timer.join()
    assert time.monotonic() - started >= 9, "the broadcast was paced at one message a second"

    answered = opt_out_answered(committed)
    claims = [(entry, item["number"]["S"]) for entry in committed for item in entry.puts("BROADCAST_RECIPIENTS_TABLE")]
    handed = {message.to for message in spy.sent if message.body.startswith("news")}
    late = [number for entry, number in claims if number in answered and entry.sent > answered[number]]
    assert late == [], "a broadcast was handed over after that number's opt-out had committed"
    assert handed.isdisjoint(forced), "an opt-out landing during the pacing wait must win"
    assert set(answered) == set(numbers), "every STOP committed"
    view = totals(as_supervisor, created.json_body["id"])
    assert view["status"] == "done"
    assert view["totals"]["sent"] == len(handed)
    assert view["totals"]["skipped_opted_out"] == len(numbers) - len(handed)


def test_thirty_stops_racing_an_agent_reply(client, business, spy, team, committed):
    """STOP and an agent's reply sent at the same moment, 30 times: the reply is handed over only if it was
    recorded before the opt-out committed, and then the confirmation still follows it."""
    outcomes = {"replied": 0, "refused": 0}
    for run in range(30):
        number = f"+1737556{run:04d}"
        inbound.receive(inbound.InboundSms("twilio", f"SMR{next(counter)}", number, BUSINESS_NUMBER, "hello"))
        conversation_id = OpenConversation.get(f"{number}|{BUSINESS_NUMBER}").conversation_id
        barrier = threading.Barrier(2)
        statuses: list[int] = []

        def reply(
            conversation_id: str = conversation_id, barrier: threading.Barrier = barrier, statuses: list[int] = statuses
        ) -> None:
            barrier.wait()
            time.sleep(random.uniform(0, 0.03))
            response = team.alex.post(f"/conversations/{conversation_id}/messages", {"body": "on its way"})
            statuses.append(response.status_code)

        def texted_stop(number: str = number, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            time.sleep(random.uniform(0, 0.03))
            stop(number)

        threads = [threading.Thread(target=reply), threading.Thread(target=texted_stop)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert statuses in ([201], [409])
        outcomes["replied" if statuses == [201] else "refused"] += 1
        handed = [m for m in spy.to(number) if m.body.startswith("on its way")]
        assert len(handed) == (1 if statuses == [201] else 0)
        assert Contact.get(number).opt_status == "opted_out"
        assert [m.body for m in spy.to(number) if "unsubscribed" in m.body], "the confirmation went out"

    answered = opt_out_answered(committed)
    late = [
        item["contact_number"]["S"]
        for entry in committed
        for item in entry.puts("MESSAGES_TABLE")
        if item["direction"]["S"] == "outbound"
        and item["body"]["S"].startswith("on its way")
        and entry.sent > answered[item["contact_number"]["S"]]
    ]
    assert late == [], "a reply was recorded as handed over after the opt-out committed"
    assert sum(outcomes.values()) == 30


@pytest.fixture
def opted_back_in(client: Any, business: Any, spy: Any) -> Iterator[dict[str, Any]]:
    """ANA texted STOP, then START (both signed Twilio requests), then STOP again."""
    requests = {name: twilio_message(f"SMreplay{name}", body) for name, body in (("a", "STOP"), ("b", "START"))}
    for name in ("a", "b"):
        assert twilio_post(client, "/webhooks/twilio", requests[name]).status_code == 200
    assert twilio_post(client, "/webhooks/twilio", twilio_message("SMreplayc", "STOP")).status_code == 200
    yield requests


def test_a_replayed_start_changes_nothing_and_sends_nothing(client, business, spy, opted_back_in):
    """However late: the receipts are the only record of a message id, and deleting any expiring record (there is
    none left to delete) does not make the app forget."""
    ana = "+15125550134"
    history, sent = optouts.history(ana), len(spy.sent)
    assert InboundReceipt.get("twilio#SMreplayb").acted_at is not None
    for _ in range(2):
        assert twilio_post(client, "/webhooks/twilio", opted_back_in["b"]).status_code == 200
        assert twilio_post(client, "/webhooks/twilio", opted_back_in["a"]).status_code == 200
    assert Contact.get(ana).opt_status == "opted_out"
    assert optouts.history(ana) == history
    assert len(spy.sent) == sent
    conversation_id = OpenConversation.get(f"{ana}|{BUSINESS_NUMBER}").conversation_id
    assert [m.body for m in Message.query(conversation_id) if m.direction == "inbound"] == ["STOP", "START", "STOP"]


def test_a_keyword_whose_first_delivery_died_is_acted_on_by_the_retry_once(client, business, spy, monkeypatch):
    """The message was stored, then the worker died before acting on it: the carrier's retry finishes the job."""
    ana = "+15125550134"
    original = inbound._answer

    def dies(*args: Any) -> None:
        raise RuntimeError("the worker stopped")

    monkeypatch.setattr(inbound, "_answer", dies)
    with pytest.raises(RuntimeError):
        inbound.receive(inbound.InboundSms("twilio", "SMdied", ana, BUSINESS_NUMBER, "STOP"))
    assert Contact.get(ana).opt_status == "opted_in"
    monkeypatch.setattr(inbound, "_answer", original)
    for _ in range(3):
        inbound.receive(inbound.InboundSms("twilio", "SMdied", ana, BUSINESS_NUMBER, "STOP"))
    assert Contact.get(ana).opt_status == "opted_out"
    assert len([h for h in optouts.history(ana) if h["action"] == "opt_out"]) == 1
    assert len(spy.to(ana)) == 1, "one confirmation"


def test_a_replayed_message_is_judged_as_it_was_first_received(client, business, spy):
    """ "hello" was no keyword when it came; a campaign keyword HELLO created since must not let its replay
    subscribe the sender and lift their opt-out."""
    from chalicelib.services import campaigns

    ana = "+15125550134"
    assert twilio_post(client, "/webhooks/twilio", twilio_message("SMhello", "hello")).status_code == 200
    assert twilio_post(client, "/webhooks/twilio", twilio_message("SMstop", "STOP")).status_code == 200
    campaigns.create({"name": "Hi", "business_number": BUSINESS_NUMBER, "keywords": ["HELLO"], "welcome_text": "Hi!"})
    sent = len(spy.sent)
    assert twilio_post(client, "/webhooks/twilio", twilio_message("SMhello", "hello")).status_code == 200
    assert Contact.get(ana).opt_status == "opted_out"
    assert len(spy.sent) == sent


def test_a_contact_silenced_on_one_number_cannot_be_deleted(client, business, spy, as_admin, as_supervisor, team):
    """Deleting the contact would drop the view the guard reads: the silence of N must keep the record."""
    from chalicelib.services import campaigns

    ana = "+15125550134"
    winter = campaigns.create({"name": "Winter", "business_number": BUSINESS_NUMBER, "welcome_text": "hi"})["id"]
    business_numbers.update(BUSINESS_NUMBER, {"optout_scope": "campaign", "campaign_id": winter})
    assert twilio_post(client, "/webhooks/twilio", twilio_message("SMsil", "STOP")).status_code == 200
    assert as_admin.delete(f"/optouts/{ana}?campaign_id={winter}&reason=asked").status_code == 200
    assert Contact.get(ana).opted_out_campaigns in (None, set())
    assert as_supervisor.delete(f"/contacts/{ana}").status_code == 409
    conversation_id = OpenConversation.get(f"{ana}|{BUSINESS_NUMBER}").conversation_id
    assert team.alex.post(f"/conversations/{conversation_id}/messages", {"body": "hi"}).status_code == 409


@pytest.mark.parametrize("body", ["STOP", "START", "HELP"])
def test_one_keyword_delivered_eight_times_at_once_acts_once(business, spy, body):
    """A carrier's retries racing the first delivery: one message stored, one change, one reply."""
    ana = "+15125550134"
    if body == "START":
        stop(ana)
    sent, history = len(spy.sent), len(optouts.history(ana))
    barrier = threading.Barrier(8)

    def deliver() -> dict[str, Any]:
        barrier.wait()
        return inbound.receive(inbound.InboundSms("twilio", "SMsame", ana, BUSINESS_NUMBER, body))

    results: list[dict[str, Any]] = []
    threads = [threading.Thread(target=lambda: results.append(deliver())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({r["message_id"] for r in results}) == 1
    conversation_id = OpenConversation.get(f"{ana}|{BUSINESS_NUMBER}").conversation_id
    assert [m.body for m in Message.query(conversation_id) if m.direction == "inbound"].count(body) == 1
    assert len(spy.sent) - sent == 1, "one reply"
    assert len(optouts.history(ana)) - history == (0 if body == "HELP" else 1)
