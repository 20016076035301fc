"""Account-wide singleton records, one item per kind of setting.

Custom field definitions live in one item: "at most 20" then becomes a single
conditional write (`size(fields) < 20`) that is safe under concurrent requests
without a counter or a transaction, and reading every definition is one GetItem.
"""

from __future__ import annotations

from pynamodb.attributes import MapAttribute, UnicodeAttribute
from pynamodb.models import Model

from chalicelib.models.base import table_meta


class AccountSettings(Model):
    Meta = table_meta("SETTINGS_TABLE")

    key = UnicodeAttribute(hash_key=True)
    fields = MapAttribute(default=dict)
