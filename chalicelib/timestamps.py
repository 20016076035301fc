"""The one way times leave the API: fixed-width UTC ISO 8601 with a Z.

Fixed width (microseconds always present) also makes the text sort in time
order, which the local outbox relies on for its sort key.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload


def utc_now() -> datetime:
    return datetime.now(UTC)


@overload
def iso_z(moment: datetime) -> str: ...


@overload
def iso_z(moment: None) -> None: ...


def iso_z(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") if moment else None
