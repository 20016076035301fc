"""The opt-out store and its history.

An item in `OptOut` means "do not text this number in this scope"; its absence
means they may be texted. Every change also writes an `OptOutHistory` item in
the same transaction, so the history can never disagree with the store.
"""

from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.models.base import table_meta

COMPANY = "company"


def campaign_scope(campaign_id: str) -> str:
    return f"campaign#{campaign_id}"


class ByScope(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_scope"
        projection = AllProjection()

    scope = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)


class OptOut(Model):
    Meta = table_meta("OPTOUTS_TABLE")

    number = UnicodeAttribute(hash_key=True)
    scope = UnicodeAttribute(range_key=True)
    source = UnicodeAttribute()
    actor = UnicodeAttribute()
    reason = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    created_key = UnicodeAttribute()
    confirmation_sent = BooleanAttribute(default=False)
    """The single confirmation text this opt-out allows has been handed to the transport."""

    by_scope = ByScope()


class OptOutHistory(Model):
    Meta = table_meta("OPTOUT_HISTORY_TABLE")

    number = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    action = UnicodeAttribute()
    scope = UnicodeAttribute()
    source = UnicodeAttribute()
    actor = UnicodeAttribute()
    reason = UnicodeAttribute(null=True)
    at = UTCDateTimeAttribute()


class OptOutMark(Model):
    """Exists once a number has had any opt-out or opt-in recorded, in any scope.

    One item per number at a known key, so a bulk import that writes contacts
    without conditions can tell, with one BatchGetItem per hundred numbers,
    which of the contacts it just created may have had an opt-out view that
    its write replaced (see services/imports.py).
    """

    Meta = table_meta("OPTOUT_MARKS_TABLE")

    number = UnicodeAttribute(hash_key=True)
    at = UTCDateTimeAttribute()
