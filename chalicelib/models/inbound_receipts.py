"""Every inbound message id ever received, kept for good: what makes a message acted on once, ever.

A carrier retries for hours, but a captured signed request can be replayed at
any time; a record that expires (as an idempotency window does) would let a
replayed START opt a person back in. The receipt is written in the same
transaction as the message, and a keyword's action marks it in the same
transaction as the change it makes.
"""

from __future__ import annotations

from pynamodb.attributes import UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.models import Model

from chalicelib.models.base import table_meta


class InboundReceipt(Model):
    Meta = table_meta("INBOUND_RECEIPTS_TABLE")

    message_key = UnicodeAttribute(hash_key=True)
    """The provider and its message id."""
    conversation_id = UnicodeAttribute()
    message_id = UnicodeAttribute()
    keyword = UnicodeAttribute(null=True)
    received_at = UTCDateTimeAttribute()
    acted_at = UTCDateTimeAttribute(null=True)
    """When the message's keyword (or possible opt-out) was acted on; set once, never again."""
