"""Broadcasts, the state of each of their recipients, and the per-second send windows that pace them.

A `BroadcastRecipient` item exists once per broadcast and number: creating it
is conditional, so the first batch that reaches a number owns it and every
other sighting (another group, a redelivered batch) finds it taken. Its
`state` only moves forward (pending or sending, then sent, skipped or failed)
and each move is conditional on the state before it, which is what makes a
send happen at most once per broadcast and recipient.
"""

from __future__ import annotations

from pynamodb.attributes import (
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.models.base import table_meta
from chalicelib.models.business_numbers import ACCOUNT

ID_PREFIX = "bc"
"""Broadcast ids start "bc_"; a broadcast's messages are stored in a thread of that id, not a conversation."""

TOTALS = (
    "recipients",
    "skipped_opted_out",
    "skipped_blocked",
    "skipped_inactive",
    "skipped_invalid",
    "duplicates",
    "sent",
    "delivered",
    "failed",
)


def is_broadcast_id(thread_id: str) -> bool:
    return thread_id.startswith(f"{ID_PREFIX}_")


class InvalidNumber(MapAttribute):
    number = UnicodeAttribute()
    reason = UnicodeAttribute()


class ByCreated(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_created"
        projection = AllProjection()

    account = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)


class Broadcast(Model):
    Meta = table_meta("BROADCASTS_TABLE")

    id = UnicodeAttribute(hash_key=True)
    account = UnicodeAttribute(default=ACCOUNT)
    created_key = UnicodeAttribute()
    """Creation time then id: the list reads newest first from one index partition."""
    body = UnicodeAttribute()
    business_number = UnicodeAttribute()
    groups = ListAttribute(of=UnicodeAttribute, default=list)
    campaigns = ListAttribute(of=UnicodeAttribute, default=list)
    numbers = ListAttribute(of=UnicodeAttribute, default=list)
    """The valid numbers given directly, E.164."""
    invalid_numbers = ListAttribute(of=InvalidNumber, default=list)
    send_at = UTCDateTimeAttribute(null=True)
    status = UnicodeAttribute(default="scheduled")
    """scheduled, resolving, sending, done, cancelled or failed."""
    error = UnicodeAttribute(null=True)
    encoding = UnicodeAttribute()
    segments = NumberAttribute()
    characters = NumberAttribute()

    recipients = NumberAttribute(default=0)
    skipped_opted_out = NumberAttribute(default=0)
    skipped_blocked = NumberAttribute(default=0)
    skipped_inactive = NumberAttribute(default=0)
    skipped_invalid = NumberAttribute(default=0)
    duplicates = NumberAttribute(default=0)
    sent = NumberAttribute(default=0)
    delivered = NumberAttribute(default=0)
    failed = NumberAttribute(default=0)

    batches_total = NumberAttribute(null=True)
    """How many send batches resolution enqueued; known once every source has been read."""
    settled_batches = UnicodeSetAttribute(default=set)
    """Batches whose outcome is already in the totals: a redelivered batch adds nothing twice."""

    created_by = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    started_at = UTCDateTimeAttribute(null=True)
    finished_at = UTCDateTimeAttribute(null=True)

    by_created = ByCreated()


class BroadcastRecipient(Model):
    Meta = table_meta("BROADCAST_RECIPIENTS_TABLE")

    broadcast_id = UnicodeAttribute(hash_key=True)
    number = UnicodeAttribute(range_key=True)
    state = UnicodeAttribute()
    """sending, sent, skipped or failed."""
    batch = UnicodeAttribute()
    """The send batch that owns the number; any other batch that meets it counts a duplicate."""
    reason = UnicodeAttribute(null=True)
    message_id = UnicodeAttribute(null=True)
    attempts = NumberAttribute(default=0)
    updated_at = UTCDateTimeAttribute()


class SendWindow(Model):
    """Message parts already reserved for one business number in one wall-clock second."""

    Meta = table_meta("SEND_WINDOWS_TABLE")

    key = UnicodeAttribute(hash_key=True)
    """Business number and epoch second."""
    parts = NumberAttribute(default=0)
    expires = TTLAttribute()
