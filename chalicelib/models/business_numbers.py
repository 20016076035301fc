"""Business numbers: the numbers (long codes, toll-free, short codes) the account texts from.

An account has a handful, so they share one partition: listing them is a
single Query and no index is needed.
"""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.models import Model

from chalicelib.models.base import table_meta

ACCOUNT = "account"
"""The one partition; a field rather than a constant in queries so a tenant id can replace it."""


class BusinessNumber(Model):
    Meta = table_meta("BUSINESS_NUMBERS_TABLE")

    account = UnicodeAttribute(hash_key=True, default=ACCOUNT)
    number = UnicodeAttribute(range_key=True)
    name = UnicodeAttribute()
    kind = UnicodeAttribute(default="long_code")
    origination_identity = UnicodeAttribute()
    appended_message = UnicodeAttribute(null=True)
    help_text = UnicodeAttribute()
    optout_text = UnicodeAttribute()
    optout_text_es = UnicodeAttribute(null=True)
    """The opt-out confirmation in Spanish; optional, as a number whose senders all write English needs none."""
    optin_text = UnicodeAttribute()
    optout_scope = UnicodeAttribute(default="company")
    campaign_id = UnicodeAttribute(null=True)
    mps = NumberAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
