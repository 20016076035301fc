"""The `local` transport: nothing leaves the machine, each message lands in the outbox table.

Local runs and tests read the outbox (through the API and logs) to see what
would have been sent, with the same provider id a real transport would return.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from chalicelib.models.outbox import OUTBOX_PARTITION, Outbox
from chalicelib.timestamps import iso_z, utc_now
from chalicelib.transport.base import OutboundSms, SendReceipt

SENT = "sent"


class LocalOutboxTransport:
    """Records the hand-off as "sent"; `clock` lets tests fix the order of sends."""

    name = "local"

    def __init__(self, clock: Callable[[], datetime] = utc_now) -> None:
        self._clock = clock

    def send(self, message: OutboundSms) -> SendReceipt:
        created_at = self._clock()
        provider_message_id = f"local-{uuid.uuid4().hex}"
        Outbox(
            created_key=f"{iso_z(created_at)}#{message.message_id}",
            message_id=message.message_id,
            to=message.to,
            from_number=message.from_number,
            origination_identity=message.origination_identity,
            body=message.body,
            media_urls=list(message.media_urls),
            status=SENT,
            provider_message_id=provider_message_id,
            created_at=created_at,
        ).save()
        return SendReceipt(provider_message_id=provider_message_id)


def list_outbox(limit: int = 100, to: str | None = None) -> list[dict[str, Any]]:
    """The latest `limit` messages (to the E.164 number `to`, if given), oldest first, like a chat thread reads."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    query, key = (Outbox.query, OUTBOX_PARTITION) if to is None else (Outbox.by_to.query, to)
    newest_first = query(key, scan_index_forward=False, limit=limit)
    return [_as_dict(item) for item in reversed(list(newest_first))]


def _as_dict(item: Outbox) -> dict[str, Any]:
    return {
        "message_id": item.message_id,
        "to": item.to,
        "from": item.from_number,
        "body": item.body,
        "media": list(item.media_urls),
        "status": item.status,
        "provider_message_id": item.provider_message_id,
        "created_at": iso_z(item.created_at),
    }
