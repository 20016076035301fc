"""A conversation's thread in order (messages, internal notes, events) and the index receipts find messages by.

Notes and events share the messages' key, so one Query reads the whole thread
in the order things happened. `direction` says which kind an entry is.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.ids import new_id
from chalicelib.models.base import table_meta

STATUS_RANK = {"received": 0, "queued": 0, "sent": 1, "delivered": 2, "failed": 2, "undelivered": 2, "blocked": 2}
"""Receipts may arrive out of order; a status only ever moves to a higher rank."""


class Media(MapAttribute):
    url = UnicodeAttribute()
    content_type = UnicodeAttribute(null=True)


class ByProviderId(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_provider_id"
        projection = AllProjection()

    provider_message_id = UnicodeAttribute(hash_key=True)


class Message(Model):
    Meta = table_meta("MESSAGES_TABLE")

    conversation_id = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    """Creation time then id: the thread reads in order with one Query."""
    id = UnicodeAttribute()
    direction = UnicodeAttribute()
    """inbound, outbound, note (internal, never sent) or event (an action on the conversation)."""
    body = UnicodeAttribute(null=True)
    media = ListAttribute(of=Media, default=list)
    status = UnicodeAttribute(null=True)
    """Delivery status of a message; notes and events have none."""
    event = UnicodeAttribute(null=True)
    details = MapAttribute(null=True)
    status_rank = NumberAttribute(default=0)
    error = UnicodeAttribute(null=True)
    contact_number = UnicodeAttribute()
    business_number = UnicodeAttribute()
    sender = UnicodeAttribute(null=True)
    provider_message_id = UnicodeAttribute(null=True)
    encoding = UnicodeAttribute(null=True)
    segments = NumberAttribute(null=True)
    possible_optout = BooleanAttribute(null=True)
    """An inbound message whose words may revoke consent: flagged for an agent to confirm."""
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute(null=True)

    by_provider_id = ByProviderId()

    @classmethod
    def new(cls, conversation_id: str, created_at: datetime, id_prefix: str = "msg", **fields: Any) -> Message:
        """A thread entry with a fresh id, keyed so the thread reads in creation order.

        At the same instant, ids break the tie: events ("evt_") sort before
        messages ("msg_"), so "opened" precedes the text that opened it.
        """
        message_id = new_id(id_prefix)
        return cls(
            conversation_id, f"{created_at.isoformat()}#{message_id}", id=message_id, created_at=created_at, **fields
        )
