"""Messages handed to the local transport, for local runs and tests to inspect.

Every item shares one partition (`box`), sorted by `created_key` (time, then
our message id), so "the latest N, in order" is one backwards Query, never a
table scan. One partition is fine here: this table only ever sees local traffic.
The `by_to` index keeps the same order per recipient, so "the latest N to one
number" is one backwards Query too.
"""

from __future__ import annotations

from pynamodb.attributes import ListAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.models.base import table_meta

OUTBOX_PARTITION = "outbox"


class ByRecipient(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_to"
        projection = AllProjection()

    to = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)


class Outbox(Model):
    Meta = table_meta("OUTBOX_TABLE")

    box = UnicodeAttribute(hash_key=True, default=OUTBOX_PARTITION)
    created_key = UnicodeAttribute(range_key=True)
    """`created_at` as fixed-width ISO, "#", `message_id`: sorts chronologically, unique per message."""
    message_id = UnicodeAttribute()
    to = UnicodeAttribute()
    from_number = UnicodeAttribute()
    origination_identity = UnicodeAttribute()
    body = UnicodeAttribute()
    media_urls = ListAttribute(of=UnicodeAttribute, default=list)
    status = UnicodeAttribute()
    provider_message_id = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()

    by_to = ByRecipient()
