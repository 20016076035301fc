"""BatchWriteItem in a process of its own, so an import's writes never wait for its planning to let go of the GIL.

An import plans its next step (CSV parsing, phonenumbers, PynamoDB models)
while the step before is written. In one process both are Python under one
GIL, and each 25-item request's ~1.2 ms of serializing and parsing waited for
the planner, so the import's requests took longer than the same requests sent
alone. A child with its own interpreter serializes while the parent plans.

Calls are sent as soon as their items are planned and answered in the order
they were sent, so the child has the next step's items queued while the
parent finishes the step before (opt-out checks, moving the job on). Sent
only once the step before had landed, a 1,000-item call took 46 ms longer
than the child's own writing of it (pickling and piping under the planner's
GIL, 100,000 rows: 16.4 against 15.2 ms a request).

The child is started with `sys.executable -m` and fed pickled put requests
over a pipe: Lambda has no /dev/shm, so multiprocessing's queues and pools do
not work there. It is started on first use, lives as long as the process
(across the invocations of a warm Lambda), takes the environment the parent
has then (credentials, endpoint), and exits when its stdin closes. It writes
through the same PynamoDB connection settings as everything else. X-Ray does
not see its requests; each answer carries the seconds the child spent writing.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pickle
import struct
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence
from typing import IO, Any, NamedTuple

from pynamodb.models import Model

from chalicelib.config import aws_region
from chalicelib.models.writes import ATTEMPTS, backoff, connection

BATCH_WRITE_ITEMS = 25
PIPE_BYTES = 1 << 20
"""The pipe to the child: Linux's default limit for an unprivileged process, about 2.5 calls of 1,000 contacts."""

PutRequest = tuple[str, dict[str, Any]]
"""A table's name and an item serialized for it, built ahead of the write that sends it."""
FAILED_TWICE = "the writer process exited twice with the call unanswered"


class BatchWriteFailed(Exception):
    """The writer process could not write a batch; the message is the error it met (no item values)."""


def put_requests(items: Iterable[Model]) -> list[PutRequest]:
    """Serialize `items` for `send_puts`; done apart from the write, so a pipelined writer only writes."""
    return [(type(item).Meta.table_name, item.serialize()) for item in items]


def write_batches(client: Any, requests: Sequence[PutRequest]) -> int:
    """Put items with BatchWriteItem, 25 a request whatever their tables, retrying unprocessed items with backoff.

    PynamoDB's own batch writer takes one table and retries unprocessed items
    at once, with no pause, which is what a throttled table should not get.
    Returns the number of requests sent, retries included.
    """
    sent = 0
    for start in range(0, len(requests), BATCH_WRITE_ITEMS):
        pending: dict[str, list[dict[str, Any]]] = {}
        for table, item in requests[start : start + BATCH_WRITE_ITEMS]:
            pending.setdefault(table, []).append({"PutRequest": {"Item": item}})
        for attempt in range(ATTEMPTS):
            sent += 1
            pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            if not pending:
                break
            backoff(attempt, 0.05)
        else:
            raise RuntimeError(f"{sum(map(len, pending.values()))} items stayed unprocessed in {sorted(pending)}")
    return sent


class Written(NamedTuple):
    """A call's answer: BatchWriteItem requests sent (retries included) and the seconds the child spent sending them.

    The seconds tell a writer process kept waiting for work from one whose requests are slow.
    """

    requests: int
    seconds: float


class Call:
    """A call sent to the writer process; `result` waits for its answer."""

    def __init__(self, writer: WriterProcess, message: bytes) -> None:
        self._writer = writer
        self.message = message
        """Framed for the pipe, so it can be sent again to a new child."""
        self.answer: Written | str | None = None
        """What the child wrote, or the error it met as text; None until answered."""
        self.deaths = 0
        """Children that died with the call unanswered: at two it fails."""

    def result(self) -> Written:
        """What the call took to write; raises BatchWriteFailed with the child's error."""
        answer = self._writer.wait(self)
        if isinstance(answer, str):
            raise BatchWriteFailed(answer)
        return answer


class WriterProcess:
    """The parent's end of a writer child: calls queue in the child and are answered in the order they were sent.

    A child that is gone (killed, out of memory) is replaced by the next
    caller waiting for an answer, and sent every call it left unanswered:
    putting an item twice leaves what putting it once does, so the part the
    first child wrote does no harm. A call two children died on fails.

    Sending and waiting take different locks, so the next step's items can
    be queued while the step before is awaited. A send blocks while the pipe
    to the child is full, which is the backpressure a planner ahead of its
    writes should get. The pipe is made as large as Linux lets a process make
    one (`PIPE_BYTES`): at the default 64 KB a send waited until the child
    had taken the call before it, so the child ran dry each time the planner
    paused to parse a step's rows (it was idle 16% of a 100,000-row import).
    Replacing the child takes both locks, the receiving one first.
    """

    def __init__(self) -> None:
        self._sending = threading.Lock()
        self._receiving = threading.Lock()
        self._child: subprocess.Popen[bytes] | None = None
        self._unanswered: deque[Call] = deque()

    @property
    def pid(self) -> int | None:
        return self._child.pid if self._child is not None else None

    def send(self, requests: Sequence[PutRequest]) -> Call:
        """Queue `requests` for the child; the returned call's `result` waits for them to land.

        A child that has died takes the call with it: whoever waits next finds
        it gone and sends its unanswered calls to a new one.
        """
        call = Call(self, frame((aws_region(), requests)))
        with self._sending:
            if self._child is None:
                self._child = self._start()
            self._unanswered.append(call)
            assert self._child.stdin is not None
            with contextlib.suppress(BrokenPipeError):
                send(self._child.stdin, call.message)
        return call

    def wait(self, call: Call) -> Written | str:
        """Read answers, in order, until `call` has its own."""
        with self._receiving:
            while call.answer is None:
                assert self._child is not None and self._child.stdout is not None
                answer = receive(self._child.stdout)
                if answer is None:
                    with self._sending:
                        self._replace()
                else:
                    self._unanswered.popleft().answer = answer if isinstance(answer, str) else Written(*answer)
        return call.answer

    def close(self) -> None:
        """End the child (it exits when its stdin closes) and wait for it; calls still unanswered fail."""
        with self._receiving, self._sending:
            if self._child is not None:
                self._stop(self._child)
            for call in self._unanswered:
                call.answer = "the writer process was closed with the call unanswered"
            self._unanswered.clear()

    def _replace(self) -> None:
        """Stop the child that has gone, fail the calls a second child died on, and send the rest to a new one."""
        while True:
            if self._child is not None:
                self._stop(self._child)
            for call in self._unanswered:
                call.deaths += 1
                if call.deaths >= 2:
                    call.answer = FAILED_TWICE
            self._unanswered = deque(call for call in self._unanswered if call.answer is None)
            self._child = child = self._start()
            assert child.stdin is not None
            try:
                for call in self._unanswered:
                    send(child.stdin, call.message)
            except BrokenPipeError:
                continue
            return

    def _start(self) -> subprocess.Popen[bytes]:
        """The child runs this module: on the parent's `sys.path`, which in Lambda is not the working directory's."""
        environment = {**os.environ, "PYTHONPATH": os.pathsep.join(path for path in sys.path if path)}
        child = subprocess.Popen(
            [sys.executable, "-m", __name__], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=environment
        )
        assert child.stdin is not None
        with contextlib.suppress(PermissionError):  # a host with a lower limit: sends only wait sooner
            fcntl.fcntl(child.stdin.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        return child

    def _stop(self, child: subprocess.Popen[bytes]) -> None:
        assert child.stdin is not None and child.stdout is not None
        with contextlib.suppress(BrokenPipeError):
            child.stdin.close()
        child.stdout.close()
        try:
            child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        self._child = None


_writer = WriterProcess()


def send_puts(requests: Sequence[PutRequest]) -> Call:
    """Queue `requests` for the writer process; `result()` waits for them to land."""
    return _writer.send(requests)


def frame(message: Any) -> bytes:
    """One length-prefixed pickle: the pipe carries whole messages, not a stream of objects."""
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return struct.pack("<Q", len(data)) + data


def send(stream: IO[bytes], framed: bytes) -> None:
    stream.write(framed)
    stream.flush()


def receive(stream: IO[bytes]) -> Any:
    """The next message, or None when the other end has closed the pipe."""
    head = stream.read(8)
    if len(head) < 8:
        return None
    (size,) = struct.unpack("<Q", head)
    data = stream.read(size)
    return pickle.loads(data) if len(data) == size else None


def serve(calls: IO[bytes], answers: IO[bytes]) -> None:
    """The child's loop: each call's requests and seconds, or its error as text, until the parent closes the pipe."""
    while (message := receive(calls)) is not None:
        region, requests = message
        started = time.perf_counter()
        try:
            sent = write_batches(connection(region).client, requests)
        except Exception as error:
            send(answers, frame(f"{type(error).__name__}: {error}"))
        else:
            send(answers, frame((sent, time.perf_counter() - started)))  # a tuple: this module is __main__ here


def main() -> None:
    """Answers go on a copy of stdout, and stdout itself to stderr, so nothing a library prints can corrupt them."""
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    serve(sys.stdin.buffer, answers)


if __name__ == "__main__":
    main()
