"""Conversations, the lock that keeps one open per contact and business number, and the inbox indexes.

DynamoDB cannot enforce uniqueness through an index, so an open conversation
owns an item keyed by its (contact, business number) pair: opening one is a
transaction that creates that item only if absent, closing one deletes it.

Every inbox view is a Query on an index whose partition says who may see the
conversation: `queue` (open only) is the one agent, the one agent group, or
"unassigned"; `state` is the status split into a few shards (the staff views).
Closed conversations an agent may see live in `ConversationAccess`, one item
per agent or group that took part, written when the conversation closes.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.models.base import table_meta
from chalicelib.models.contacts import fold, sort_key

STATE_SHARDS = 4
UNASSIGNED = "unassigned"
UNNAMED = "\U0010ffff"
"""Stands in for a missing contact name in `contact_key`, so unnamed contacts sort after named ones."""


def pair_key(contact_number: str, business_number: str) -> str:
    return f"{contact_number}|{business_number}"


def agent_principal(username: str) -> str:
    return f"agent#{username}"


def group_principal(group_id: str) -> str:
    return f"group#{group_id}"


def queue_of(agent: str | None, group: str | None) -> str:
    """The one queue an open conversation sits in: its agent's, else its group's, else unassigned."""
    if agent:
        return agent_principal(agent)
    if group:
        return group_principal(group)
    return UNASSIGNED


def state_partition(status: str, conversation_id: str) -> str:
    shard = hashlib.blake2b(conversation_id.encode(), digest_size=2).digest()[0] % STATE_SHARDS
    return f"{status}#{shard}"


def state_partitions(status: str) -> list[str]:
    return [f"{status}#{shard}" for shard in range(STATE_SHARDS)]


def date_key(when: datetime, conversation_id: str) -> str:
    return sort_key(when.isoformat(), conversation_id)


NAME_KEY_CHARS = 200
"""An index sort key holds at most 1024 bytes; 200 characters of name (at most 800 bytes) leave room for the rest."""


def contact_key(name: str | None, number: str, conversation_id: str) -> str:
    return sort_key(fold(name)[:NAME_KEY_CHARS] or UNNAMED, number, conversation_id)


def contact_search(name: str | None, number: str) -> str:
    """What `q` is matched against: the folded name and the number's digits."""
    return f"{fold(name)} {number.lstrip('+')}".strip()


def _index(name: str, hash_attr: str, range_attr: str) -> GlobalSecondaryIndex:
    meta = type("Meta", (), {"index_name": name, "projection": AllProjection()})
    cls = type(
        name,
        (GlobalSecondaryIndex,),
        {
            "Meta": meta,
            hash_attr: UnicodeAttribute(hash_key=True),
            range_attr: UnicodeAttribute(range_key=True),
        },
    )
    return cls()


class Conversation(Model):
    Meta = table_meta("CONVERSATIONS_TABLE")

    id = UnicodeAttribute(hash_key=True)
    contact_number = UnicodeAttribute()
    contact_name = UnicodeAttribute(null=True)
    business_number = UnicodeAttribute()
    status = UnicodeAttribute(default="open")
    assigned_agent = UnicodeAttribute(null=True)
    assigned_group = UnicodeAttribute(null=True)
    assigned_at = UTCDateTimeAttribute(null=True)
    taken_from = UnicodeAttribute(null=True)
    """The queue the conversation was in when an agent last took it: who may be told they lost a claim race."""
    participants = UnicodeSetAttribute(null=True)
    """Agents who were assigned it or wrote in it: they keep seeing it once closed."""
    groups_seen = UnicodeSetAttribute(null=True)
    """Groups it was ever assigned to: their members keep seeing it once closed."""
    unread = BooleanAttribute(default=False)
    message_count = NumberAttribute(default=0)
    last_message_preview = UnicodeAttribute(null=True)
    last_message_at = UTCDateTimeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    closed_at = UTCDateTimeAttribute(null=True)
    closed_by = UnicodeAttribute(null=True)
    revision = NumberAttribute(default=0)
    """Bumped by every write, so closing can require that nothing changed since it read."""
    possible_optout = UnicodeAttribute(null=True)
    """The id of the newest inbound message that may have asked to stop, until an agent confirms or dismisses it."""

    queue = UnicodeAttribute(null=True)
    """Set only while open; see `queue_of`."""
    state = UnicodeAttribute()
    date_key = UnicodeAttribute()
    contact_key = UnicodeAttribute()
    contact_search = UnicodeAttribute()

    by_contact = _index("by_contact", "contact_number", "id")
    queue_by_date = _index("queue_by_date", "queue", "date_key")
    queue_by_contact = _index("queue_by_contact", "queue", "contact_key")
    state_by_date = _index("state_by_date", "state", "date_key")
    state_by_contact = _index("state_by_contact", "state", "contact_key")

    def serialize(self, null_check: bool = True) -> dict[str, dict[str, Any]]:
        """Derive the index keys on full writes; updates set the keys they change (see the services)."""
        self.queue = queue_of(self.assigned_agent, self.assigned_group) if self.status == "open" else None
        self.state = state_partition(self.status, self.id)
        self.date_key = date_key(self.last_message_at or self.created_at, self.id)
        self.contact_key = contact_key(self.contact_name, self.contact_number, self.id)
        self.contact_search = contact_search(self.contact_name, self.contact_number)
        return super().serialize(null_check=null_check)


class OpenConversation(Model):
    """Exists exactly while the conversation it names is open."""

    Meta = table_meta("OPEN_CONVERSATIONS_TABLE")

    pair = UnicodeAttribute(hash_key=True)
    conversation_id = UnicodeAttribute()


class ConversationAccess(Model):
    """One closed conversation an agent (or an agent group's members) may still see.

    Carries the conversation's list keys and filter fields, so the agents'
    Closed view pages and filters on its indexes alone; the page's
    conversations are then read with one BatchGetItem.
    """

    Meta = table_meta("CONVERSATION_ACCESS_TABLE")

    principal = UnicodeAttribute(hash_key=True)
    conversation_id = UnicodeAttribute(range_key=True)
    business_number = UnicodeAttribute()
    assigned_agent = UnicodeAttribute(null=True)
    assigned_group = UnicodeAttribute(null=True)
    unread = BooleanAttribute(default=False)
    date_key = UnicodeAttribute()
    contact_key = UnicodeAttribute()
    contact_search = UnicodeAttribute()

    by_date = _index("access_by_date", "principal", "date_key")
    by_contact = _index("access_by_contact", "principal", "contact_key")
