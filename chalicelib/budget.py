"""How long background work may go on in this Lambda run before handing the rest to a new run."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

UNBOUNDED_SECONDS = 15 * 60
"""Outside Lambda (no context): as long as Lambda's longest run."""


@dataclass(frozen=True)
class Budget:
    """When a run must stop taking steps and hand the rest to a new run."""

    deadline: float

    @classmethod
    def seconds(cls, seconds: float) -> Budget:
        return cls(time.monotonic() + seconds)

    @classmethod
    def from_lambda(cls, context: Any, margin_seconds: float = 30.0) -> Budget:
        if context is None:
            return cls.seconds(UNBOUNDED_SECONDS)
        return cls.seconds(context.get_remaining_time_in_millis() / 1000 - margin_seconds)

    def exhausted(self) -> bool:
        return time.monotonic() >= self.deadline
