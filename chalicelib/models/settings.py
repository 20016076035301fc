"""Account-wide singleton records, one item per kind of setting.

Custom field definitions live in one item: "at most 20" then becomes a single
conditional write (`size(fields) < 20`) that is safe under concurrent requests
without a counter or a transaction, and reading every definition is one GetItem.
Agent group names are claimed the same way, in the same transaction that
writes the group.
"""

from __future__ import annotations

from pynamodb.attributes import MapAttribute, UnicodeAttribute
from pynamodb.models import Model

from chalicelib.models.base import table_meta


class AccountSettings(Model):
    Meta = table_meta("SETTINGS_TABLE")

    key = UnicodeAttribute(hash_key=True)
    fields = MapAttribute(default=dict)
    group_names = MapAttribute(null=True)
    """On the `agent_group_names` item: each agent group's case-folded name to its id, so names stay unique."""
