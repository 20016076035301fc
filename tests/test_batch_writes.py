"""Batch puts: unprocessed items retried, written by a child process that errors and deaths cannot lose a call in."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.client import BaseClient

from chalicelib.config import aws_region
from chalicelib.models import Contact, batch_writes
from chalicelib.models.batch_writes import BatchWriteFailed, WriterProcess, put_requests, write_batches
from chalicelib.models.writes import connection


def contacts(count: int, first: int = 0) -> list[Contact]:
    now = datetime.now(UTC)
    return [
        Contact(f"+151255{n:05d}", first_name=f"Name{n}", created_at=now, updated_at=now, version=1)
        for n in range(first, first + count)
    ]


def stored(items: list[Contact]) -> list[str]:
    return sorted(c.first_name for c in Contact.batch_get([c.number for c in items]))


def gone(pid: int) -> None:
    """Wait until `pid` has died (a zombie its parent has not reaped, or reaped)."""
    for _ in range(500):
        try:
            if Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
                return
        except FileNotFoundError:
            return
        time.sleep(0.01)
    raise AssertionError(f"process {pid} did not die")


def write(writer: WriterProcess, requests: list[Any]) -> int:
    return writer.send(requests).result().requests


@pytest.fixture
def writer() -> Iterator[WriterProcess]:
    process = WriterProcess()
    yield process
    process.close()


def test_items_a_batch_write_hands_back_unprocessed_are_sent_again_until_they_land(monkeypatch):
    """DynamoDB under throttling writes part of a BatchWriteItem and returns the rest as UnprocessedItems."""
    original = BaseClient._make_api_call
    calls: list[int] = []

    def throttled(self: BaseClient, operation_name: str, api_params: dict) -> Any:
        if operation_name != "BatchWriteItem":
            return original(self, operation_name, api_params)
        requests = api_params["RequestItems"]
        calls.append(sum(map(len, requests.values())))
        if len(calls) > 3:
            return original(self, operation_name, api_params)
        sent = {table: items[:-5] for table, items in requests.items() if items[:-5]}
        answer = original(self, operation_name, {**api_params, "RequestItems": sent}) if sent else {}
        return {**answer, "UnprocessedItems": {table: items[-5:] for table, items in requests.items()}}

    monkeypatch.setattr(BaseClient, "_make_api_call", throttled)
    items = contacts(60)

    assert write_batches(connection(aws_region()).client, put_requests(items)) == 6
    assert len(calls) == 6, "3 requests of up to 25, and one more for each of the 3 that handed 5 items back"
    assert sorted(calls).count(5) >= 3, "a retry sends only the items handed back"
    assert stored(items) == sorted(f"Name{n}" for n in range(60))


def test_the_writer_process_writes_in_requests_of_25(writer):
    items = contacts(60)

    assert writer.send(put_requests(items)).result().requests == 3
    assert writer.pid is not None and writer.pid != os.getpid()
    assert stored(items) == sorted(f"Name{n}" for n in range(60))


def test_an_error_in_the_writer_process_is_raised_in_the_caller_and_the_process_carries_on(writer):
    write(writer, put_requests(contacts(1)))
    pid = writer.pid
    missing = [("no-such-table", item) for _, item in put_requests(contacts(1, first=1))]

    with pytest.raises(BatchWriteFailed, match="ResourceNotFoundException"):
        write(writer, missing)
    items = contacts(30, first=2)
    assert write(writer, put_requests(items)) == 2
    assert writer.pid == pid, "an error the child answered with does not cost a new child"
    assert len(stored(items)) == 30


def test_a_writer_process_that_died_between_calls_is_replaced(writer):
    write(writer, put_requests(contacts(1)))
    pid = writer.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    gone(pid)
    items = contacts(30, first=1)

    assert write(writer, put_requests(items)) == 2
    assert writer.pid not in (None, pid)
    assert len(stored(items)) == 30


def test_a_call_whose_writer_process_dies_is_sent_again_to_a_new_one(writer, monkeypatch):
    """Killed after the call reached it (out of memory, say): the parent sees the pipe close, not an answer."""
    write(writer, put_requests(contacts(1)))
    original_send = batch_writes.send
    killed: list[int] = []

    def send_then_kill(stream: Any, message: Any) -> None:
        original_send(stream, message)
        if not killed:
            killed.append(writer.pid)
            os.kill(killed[0], signal.SIGKILL)
            gone(killed[0])

    monkeypatch.setattr(batch_writes, "send", send_then_kill)
    items = contacts(30, first=1)

    assert write(writer, put_requests(items)) == 2
    assert writer.pid not in (None, killed[0])
    assert stored(items) == sorted(f"Name{n}" for n in range(1, 31))


def test_calls_queue_in_the_writer_process_and_are_answered_in_the_order_sent(writer):
    first, second = contacts(60), contacts(30, first=100)
    calls = [writer.send(put_requests(first)), writer.send(put_requests(second))]

    assert calls[1].result().requests == 2, "the second call waited through the first's answer"
    assert calls[0].result().requests == 3
    assert 0 < calls[0].result().seconds < 60, "the child timed its own writing"
    assert len(stored(first + second)) == 90


def test_a_call_can_be_queued_while_another_thread_waits_for_the_one_before(writer, monkeypatch):
    """The planner queues the next step while the writer thread waits: sending must not wait for an answer."""
    first = writer.send(put_requests(contacts(25)))
    answering = threading.Event()
    original_receive = batch_writes.receive

    def slow_receive(stream: Any) -> Any:
        answering.set()
        time.sleep(0.5)
        return original_receive(stream)

    monkeypatch.setattr(batch_writes, "receive", slow_receive)
    waiter = threading.Thread(target=first.result)
    waiter.start()
    assert answering.wait(5)
    started = time.monotonic()
    second = writer.send(put_requests(contacts(25, first=25)))
    queued_in = time.monotonic() - started
    waiter.join()

    assert queued_in < 0.4, f"the send waited {queued_in:.2f} s for the answer being read"
    assert second.result().requests == 1


def test_a_call_two_writer_processes_died_on_fails_and_the_next_one_is_written(writer, monkeypatch):
    original_send = batch_writes.send
    kills = [2]

    def send_then_kill(stream: Any, framed: bytes) -> None:
        original_send(stream, framed)
        if kills[0]:
            kills[0] -= 1
            pid = writer.pid
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            gone(pid)

    monkeypatch.setattr(batch_writes, "send", send_then_kill)
    doomed = writer.send(put_requests(contacts(1)))

    with pytest.raises(BatchWriteFailed, match="exited twice"):
        doomed.result()
    items = contacts(30, first=1)
    assert write(writer, put_requests(items)) == 2
    assert len(stored(items)) == 30


def test_calls_queue_in_the_pipe_while_the_child_is_busy(writer):
    """A planner can queue two 1,000-contact calls behind the one being written instead of waiting for each."""
    write(writer, put_requests(contacts(1)))
    pid = writer.pid
    assert pid is not None
    calls = [put_requests(contacts(1000, first=first)) for first in (1000, 2000)]
    os.kill(pid, signal.SIGSTOP)  # the child busy with a call: it reads nothing meanwhile
    try:
        sending = threading.Thread(target=lambda: [writer.send(call) for call in calls])
        sending.start()
        sending.join(5)
        queued = not sending.is_alive()
    finally:
        os.kill(pid, signal.SIGCONT)
    sending.join()

    assert queued, "a send waited for the child to read the call before it"
    assert write(writer, put_requests(contacts(1, first=5000))) == 1
    assert len(stored(contacts(2000, first=1000))) == 2000
