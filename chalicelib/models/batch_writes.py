"""BatchWriteItem in a process of its own, so an import's writes never wait for its planning to let go of the GIL.

An import plans its next step (CSV parsing, phonenumbers, PynamoDB models)
while the step before is written. In one process both are Python under one
GIL, and each 25-item request's ~1.2 ms of serializing and parsing waited for
the planner, so the import's requests took longer than the same requests sent
alone. A child with its own interpreter serializes while the parent plans.

The child is started with `sys.executable -m` and fed pickled put requests
over a pipe: Lambda has no /dev/shm, so multiprocessing's queues and pools do
not work there. It is started on first use, lives as long as the process
(across the invocations of a warm Lambda), takes the environment the parent
has then (credentials, endpoint), and exits when its stdin closes. It writes
through the same PynamoDB connection settings as everything else. X-Ray does
not see its requests; the parent's time in `batch_put` is the writes' time.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import struct
import subprocess
import sys
import threading
from collections.abc import Iterable, Sequence
from typing import IO, Any

from pynamodb.models import Model

from chalicelib.config import aws_region
from chalicelib.models.writes import ATTEMPTS, backoff, connection

BATCH_WRITE_ITEMS = 25

PutRequest = tuple[str, dict[str, Any]]
"""A table's name and an item serialized for it, built ahead of the write that sends it."""


class BatchWriteFailed(Exception):
    """The writer process could not write a batch; the message is the error it met (no item values)."""


def put_requests(items: Iterable[Model]) -> list[PutRequest]:
    """Serialize `items` for `batch_put`; done apart from the write, so a pipelined writer only writes."""
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


class WriterProcess:
    """The parent's end of a writer child: one call at a time, a child that died replaced on the next call."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._child: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._child.pid if self._child is not None else None

    def write(self, requests: Sequence[PutRequest]) -> int:
        """Write `requests` in the child; the number of BatchWriteItem requests it took.

        A child that is gone (killed, out of memory) is replaced and sent the
        whole call again: putting an item twice leaves what putting it once
        does, so the part the first child wrote does no harm.
        """
        message = (aws_region(), requests)
        with self._lock:
            answer = self._exchange(message)
            if answer is None:
                answer = self._exchange(message)
        if answer is None:
            raise BatchWriteFailed("the writer process exited twice in a row")
        if isinstance(answer, str):
            raise BatchWriteFailed(answer)
        return answer

    def close(self) -> None:
        """End the child (it exits when its stdin closes) and wait for it."""
        with self._lock:
            if self._child is not None:
                self._stop(self._child)

    def _exchange(self, message: tuple[str, Sequence[PutRequest]]) -> int | str | None:
        """Send one call and wait for its answer; None when the child is gone, which is then stopped."""
        if self._child is None or self._child.poll() is not None:
            self._child = self._start()
        child = self._child
        assert child.stdin is not None and child.stdout is not None
        try:
            send(child.stdin, message)
            answer = receive(child.stdout)
        except BrokenPipeError:
            answer = None
        if answer is None:
            self._stop(child)
        return answer

    def _start(self) -> subprocess.Popen[bytes]:
        """The child runs this module: on the parent's `sys.path`, which in Lambda is not the working directory's."""
        environment = {**os.environ, "PYTHONPATH": os.pathsep.join(path for path in sys.path if path)}
        return subprocess.Popen(
            [sys.executable, "-m", __name__], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=environment
        )

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


def batch_put(requests: Sequence[PutRequest]) -> int:
    """Put items with BatchWriteItem in the writer process; the number of requests it took."""
    return _writer.write(requests) if requests else 0


def send(stream: IO[bytes], message: Any) -> None:
    """One length-prefixed pickle: the pipe carries whole messages, not a stream of objects."""
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(struct.pack("<Q", len(data)) + data)
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
    """The child's loop: each call's request count, or its error as text, until the parent closes the pipe."""
    while (message := receive(calls)) is not None:
        region, requests = message
        try:
            answer: int | str = write_batches(connection(region).client, requests)
        except Exception as error:
            answer = f"{type(error).__name__}: {error}"
        send(answers, answer)


def main() -> None:
    """Answers go on a copy of stdout, and stdout itself to stderr, so nothing a library prints can corrupt them."""
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    serve(sys.stdin.buffer, answers)


if __name__ == "__main__":
    main()
