"""The opt-out store and its history.

An item in `OptOut` means "do not text this number in this scope"; its absence
means they may be texted. Every change also writes an `OptOutHistory` item in
the same transaction, so the history can never disagree with the store.
"""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.models.base import table_meta

COMPANY = "company"


CAMPAIGN_PREFIX = "campaign#"
NUMBER_PREFIX = "number#"


def campaign_scope(campaign_id: str) -> str:
    return f"{CAMPAIGN_PREFIX}{campaign_id}"


def number_scope(business_number: str) -> str:
    return f"{NUMBER_PREFIX}{business_number}"


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
    stop_from = UnicodeAttribute(null=True)
    """The business number the person asked to stop (a keyword, or an agent confirming their words): START
    to it lifts this opt-out, and only it may confirm it. Manual, import and carrier opt-outs have none."""

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
    """What a bulk import checks so that a contact it writes without a condition never hides an opt-out.

    Two kinds of item, both written in every opt-out change's transaction:
    - at the number's key, a mark that the number has had an opt-out or
      opt-in recorded, in any scope;
    - at `epoch_key(number)`, one of EPOCH_SHARDS counters of such changes.
    An import reads the counters before it plans a step and again after
    writing it; only when one moved does it read the marks of the step's new
    contacts in that shard (see services/import_steps.py). Ten counters, not
    one, so that opt-outs arriving together rarely meet on the same item.
    """

    Meta = table_meta("OPTOUT_MARKS_TABLE")

    number = UnicodeAttribute(hash_key=True)
    at = UTCDateTimeAttribute(null=True)
    changes = NumberAttribute(null=True)


EPOCH_SHARDS = 10
EPOCH_KEYS = tuple(f"epoch#{digit}" for digit in range(EPOCH_SHARDS))


def epoch_key(number: str) -> str:
    """The counter a number's opt-out changes move: by its last digit, which spreads numbers evenly."""
    return f"epoch#{number[-1]}"
