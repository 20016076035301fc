"""Quick notes and quick replies: short texts agents insert instead of typing.

A team keeps tens of them, so each kind is one partition and listing is one Query.
"""

from __future__ import annotations

from pynamodb.attributes import UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.models import Model

from chalicelib.models.base import table_meta


class QuickText(Model):
    Meta = table_meta("QUICK_TEXTS_TABLE")

    kind = UnicodeAttribute(hash_key=True)
    """quick_note or quick_reply."""
    id = UnicodeAttribute(range_key=True)
    title = UnicodeAttribute()
    text = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
