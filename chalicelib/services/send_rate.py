"""Pacing a business number's sends to its messages-per-second, counting message parts, across every worker.

Carriers meter an origination identity by message parts per second, and a
broadcast's send batches run in as many Lambda workers as SQS starts, so the
count must be shared: each wall-clock second of each business number is one
`SendWindow` item, and a worker reserves parts in it with a conditional ADD
that fails once the second is full. A failed reservation reads what is left
and takes that, or waits for the next second. Workers reserve a small block at
a time (not one part per request) and spend it locally within that second;
what a worker reserved and did not use in its second is lost, so the rate can
fall short of the limit but never exceed it. Seconds come from each worker's
clock; Lambda hosts keep theirs NTP-synchronised well below a second.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from pynamodb.exceptions import UpdateError

from chalicelib.models import SendWindow
from chalicelib.models.writes import condition_failed

BLOCK_MESSAGES = 10
SHARE = 4
"""A reservation asks for up to ten messages' worth of parts but at most a quarter of the second's
allowance, so concurrent workers share a second instead of the first one taking all of it."""
WINDOW_KEEP_SECONDS = 3600
"""Windows expire (DynamoDB TTL) an hour after their second; nothing reads them after it has passed."""
_RESERVE_TRIES = 3


class SendRate:
    """The sending allowance of one business number for one worker; `clock` and `sleep` are injectable for tests."""

    def __init__(
        self,
        number: str,
        mps: int,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if mps < 1:
            raise ValueError("mps must be at least 1")
        self._number = number
        self._mps = mps
        self._clock = clock
        self._sleep = sleep
        self._second = -1
        self._credit = 0

    def acquire(self, parts: int) -> None:
        """Return once `parts` message parts may be handed to the carrier now.

        A message longer than a whole second's allowance first consumes whole
        seconds, so the average still holds.
        """
        parts = max(parts, 1)
        while parts > self._mps:
            self._take(self._mps, self._mps)
            parts -= self._mps
        self._take(parts, max(parts, min(parts * BLOCK_MESSAGES, self._mps // SHARE)))

    def _take(self, parts: int, block: int) -> None:
        while True:
            second = int(self._clock())
            if second != self._second:
                self._second, self._credit = second, 0
            if self._credit >= parts:
                self._credit -= parts
                return
            self._credit += self._reserve(second, max(block, parts) - self._credit, parts - self._credit)
            if self._credit < parts:
                self._sleep(max(0.0, second + 1 - self._clock()))

    def _reserve(self, second: int, want: int, least: int) -> int:
        """Reserve up to `want` parts in `second` (at least `least`, or nothing); how many were reserved."""
        key = f"{self._number}#{second}"
        expires = datetime.fromtimestamp(second + WINDOW_KEEP_SECONDS, UTC)
        for _ in range(_RESERVE_TRIES):
            try:
                SendWindow(key).update(
                    actions=[SendWindow.parts.add(want), SendWindow.expires.set(expires)],
                    condition=SendWindow.parts.does_not_exist() | (SendWindow.parts <= self._mps - want),
                )
            except UpdateError as error:
                if not condition_failed(error):
                    raise
            else:
                return want
            free = self._mps - self._used(key)
            if free < least:
                return 0
            want = free
        return 0

    @staticmethod
    def _used(key: str) -> int:
        try:
            return int(SendWindow.get(key, consistent_read=True).parts)
        except SendWindow.DoesNotExist:
            return 0
