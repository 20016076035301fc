"""Conversations, and the lock that keeps one open per contact and business number.

DynamoDB cannot enforce uniqueness through an index, so an open conversation
owns an item keyed by its (contact, business number) pair: opening one is a
transaction that creates that item only if absent, closing one deletes it.
"""

from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.models.base import table_meta


def pair_key(contact_number: str, business_number: str) -> str:
    return f"{contact_number}|{business_number}"


class ByContact(GlobalSecondaryIndex):
    """A contact's conversations, newest first (the manual's "previous conversations")."""

    class Meta:
        index_name = "by_contact"
        projection = AllProjection()

    contact_number = UnicodeAttribute(hash_key=True)
    id = UnicodeAttribute(range_key=True)


class Conversation(Model):
    Meta = table_meta("CONVERSATIONS_TABLE")

    id = UnicodeAttribute(hash_key=True)
    contact_number = UnicodeAttribute()
    business_number = UnicodeAttribute()
    status = UnicodeAttribute(default="open")
    assigned_agent = UnicodeAttribute(null=True)
    assigned_group = UnicodeAttribute(null=True)
    unread = BooleanAttribute(default=False)
    message_count = NumberAttribute(default=0)
    last_message_preview = UnicodeAttribute(null=True)
    last_message_at = UTCDateTimeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    closed_at = UTCDateTimeAttribute(null=True)
    closed_by = UnicodeAttribute(null=True)

    by_contact = ByContact()


class OpenConversation(Model):
    """Exists exactly while the conversation it names is open."""

    Meta = table_meta("OPEN_CONVERSATIONS_TABLE")

    pair = UnicodeAttribute(hash_key=True)
    conversation_id = UnicodeAttribute()
