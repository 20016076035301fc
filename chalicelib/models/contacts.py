"""The contact ("mobile end user") table and the indexes its list views query.

Every list, search and sort the API offers is a Query on one of the global
secondary indexes below. Their partition key is a small fixed set of shards
(`shard`), so that no single index partition takes every contact write; a list
request queries each shard and merges the sorted results.
"""

from __future__ import annotations

import hashlib
from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    MapAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.models.base import table_meta

INDEX_SHARDS = 4
KEY_SEPARATOR = "\x1f"
"""Joins the parts of a composite sort key; sorts below every printable character."""

PROFILE_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "address",
    "address2",
    "city",
    "state",
    "zip",
    "country",
    "extra1",
    "extra2",
    "extra3",
    "extra4",
    "extra5",
)


def _index(name: str, range_attr: str) -> type[GlobalSecondaryIndex]:
    meta = type("Meta", (), {"index_name": name, "projection": AllProjection()})
    return type(
        name,
        (GlobalSecondaryIndex,),
        {
            "Meta": meta,
            "shard": UnicodeAttribute(hash_key=True),
            range_attr: UnicodeAttribute(range_key=True),
        },
    )


def shard_of(number: str) -> str:
    """Stable shard for a number; hashing spreads sequential numbers evenly."""
    return str(hashlib.blake2b(number.encode(), digest_size=2).digest()[0] % INDEX_SHARDS)


def sort_key(*parts: str) -> str:
    return KEY_SEPARATOR.join(parts)


def fold(text: str | None) -> str:
    """Case-insensitive form used in name keys and name searches."""
    return (text or "").strip().casefold()


class Contact(Model):
    Meta = table_meta("CONTACTS_TABLE")

    number = UnicodeAttribute(hash_key=True)
    first_name = UnicodeAttribute(null=True)
    last_name = UnicodeAttribute(null=True)
    email = UnicodeAttribute(null=True)
    address = UnicodeAttribute(null=True)
    address2 = UnicodeAttribute(null=True)
    city = UnicodeAttribute(null=True)
    state = UnicodeAttribute(null=True)
    zip = UnicodeAttribute(null=True)
    country = UnicodeAttribute(null=True)
    extra1 = UnicodeAttribute(null=True)
    extra2 = UnicodeAttribute(null=True)
    extra3 = UnicodeAttribute(null=True)
    extra4 = UnicodeAttribute(null=True)
    extra5 = UnicodeAttribute(null=True)
    custom = MapAttribute(default=dict)
    status = UnicodeAttribute(default="active")
    blocked = BooleanAttribute(default=False)
    channel = UnicodeAttribute(default="sms")
    groups = UnicodeSetAttribute(default=set)
    opt_status = UnicodeAttribute(default="opted_in")
    opted_out_campaigns = UnicodeSetAttribute(default=set)
    opted_out_numbers = UnicodeSetAttribute(default=set)
    """Business numbers this person texted STOP to: each stays silent to them whatever its scope."""
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    first_contact_at = UTCDateTimeAttribute(null=True)
    last_message_at = UTCDateTimeAttribute(null=True)
    version = VersionAttribute()
    import_stamp = UnicodeAttribute(null=True)
    """`job#step offset#outcome` of the import that last wrote the contact (see services/import_steps.py)."""

    shard = UnicodeAttribute()
    created_key = UnicodeAttribute()
    activity_key = UnicodeAttribute()
    last_name_key = UnicodeAttribute()
    first_name_key = UnicodeAttribute()

    by_number = _index("by_number", "number")()
    by_created = _index("by_created", "created_key")()
    by_activity = _index("by_activity", "activity_key")()
    by_last_name = _index("by_last_name", "last_name_key")()
    by_first_name = _index("by_first_name", "first_name_key")()

    def serialize(self, null_check: bool = True) -> dict[str, dict[str, Any]]:
        """Derive the index keys from the fields on every write path.

        Save, batch write and transactions all serialize through here, so the
        keys can never disagree with the fields they are built from.
        """
        last, first = fold(self.last_name), fold(self.first_name)
        self.shard = shard_of(self.number)
        self.created_key = sort_key(self.created_at.isoformat(), self.number)
        activity = self.last_message_at.isoformat() if self.last_message_at else ""
        self.activity_key = sort_key(activity, self.number)
        self.last_name_key = sort_key(last, first, self.number)
        self.first_name_key = sort_key(first, last, self.number)
        return super().serialize(null_check=null_check)
