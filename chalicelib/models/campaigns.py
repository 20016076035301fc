"""Campaigns, the keywords that join them, and who has joined.

An account runs tens of campaigns, so they share one partition and listing
them is one Query. A keyword is unique per business number: the
`CampaignKeyword` item is the lock, written with a does-not-exist condition in
the same transaction as the campaign, so two campaigns racing for one word
cannot both win.
"""

from __future__ import annotations

from pynamodb.attributes import ListAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.models.base import table_meta
from chalicelib.models.business_numbers import ACCOUNT


class Campaign(Model):
    Meta = table_meta("CAMPAIGNS_TABLE")

    account = UnicodeAttribute(hash_key=True, default=ACCOUNT)
    id = UnicodeAttribute(range_key=True)
    name = UnicodeAttribute()
    business_number = UnicodeAttribute()
    keywords = ListAttribute(of=UnicodeAttribute, default=list)
    welcome_text = UnicodeAttribute()
    help_text = UnicodeAttribute(null=True)
    status = UnicodeAttribute(default="active")
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()


class CampaignKeyword(Model):
    """One keyword on one business number, and the campaign that owns it."""

    Meta = table_meta("CAMPAIGN_KEYWORDS_TABLE")

    business_number = UnicodeAttribute(hash_key=True)
    keyword = UnicodeAttribute(range_key=True)
    """Normalized with `keywords.normalize`, as inbound texts are before lookup."""
    campaign_id = UnicodeAttribute()


class ByNumber(GlobalSecondaryIndex):
    """A sender's subscriptions, so an inbound text finds them with one Query."""

    class Meta:
        index_name = "by_number"
        projection = AllProjection()

    number = UnicodeAttribute(hash_key=True)
    campaign_id = UnicodeAttribute(range_key=True)


class Subscription(Model):
    Meta = table_meta("SUBSCRIPTIONS_TABLE")

    campaign_id = UnicodeAttribute(hash_key=True)
    number = UnicodeAttribute(range_key=True)
    subscribed_at = UTCDateTimeAttribute()
    source = UnicodeAttribute()
    """keyword, api or import."""

    by_number = ByNumber()
