"""Conversations: exactly one open per contact and business number, and closed ones never change.

Both rules are enforced by DynamoDB, not by reading first: opening is a
transaction that creates the (contact, business number) lock only if absent,
and adding a message is a transaction that requires the conversation to be
open at that instant.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pynamodb.transactions import TransactWrite

from chalicelib.errors import Conflict, NotFound
from chalicelib.ids import new_id
from chalicelib.models import Conversation, Message, OpenConversation
from chalicelib.models.conversations import pair_key
from chalicelib.models.writes import write_transaction
from chalicelib.timestamps import iso_z

PREVIEW_CHARS = 80
_OPEN_ATTEMPTS = 5


class ConversationClosed(Conflict):
    code = "conversation_closed"


@dataclass(frozen=True)
class Opened:
    conversation_id: str
    created: bool


def open_conversation_id(contact_number: str, business_number: str) -> str | None:
    try:
        return OpenConversation.get(pair_key(contact_number, business_number), consistent_read=True).conversation_id
    except OpenConversation.DoesNotExist:
        return None


def open_or_join(contact_number: str, business_number: str, now: datetime) -> Opened:
    """The open conversation for the pair, opening one if there is none (safe under any race)."""
    for _ in range(_OPEN_ATTEMPTS):
        existing = open_conversation_id(contact_number, business_number)
        if existing is not None:
            return Opened(existing, created=False)
        created = try_open(contact_number, business_number, now)
        if created is not None:
            return Opened(created, created=True)
    raise Conflict("the conversation changed repeatedly while opening; retry", field="conversation")


def try_open(contact_number: str, business_number: str, now: datetime) -> str | None:
    """Open a new conversation; None when another one holds the pair's lock."""
    conversation = Conversation(
        new_id("conv"), contact_number=contact_number, business_number=business_number, created_at=now
    )
    lock = OpenConversation(pair_key(contact_number, business_number), conversation_id=conversation.id)

    def write(tx: TransactWrite) -> None:
        tx.save(lock, condition=OpenConversation.pair.does_not_exist())
        tx.save(conversation)

    return None if write_transaction(write) else conversation.id


def append(conversation_id: str, message: Message, *, unread: bool) -> None:
    """Add a message to an open conversation; raises ConversationClosed if it is not open."""
    preview = (message.body or "")[:PREVIEW_CHARS] or ("[media]" if message.media else "")
    actions = [
        Conversation.last_message_at.set(message.created_at),
        Conversation.last_message_preview.set(preview),
        Conversation.message_count.add(1),
    ]
    if unread:
        actions.append(Conversation.unread.set(True))

    def write(tx: TransactWrite) -> None:
        tx.save(message)
        tx.update(Conversation(conversation_id), actions=actions, condition=Conversation.status == "open")

    if write_transaction(write):
        raise ConversationClosed(
            "the conversation is closed and read-only; a new message opens a new conversation",
            field="conversation",
        )


def load(conversation_id: str) -> Conversation:
    try:
        return Conversation.get(conversation_id, consistent_read=True)
    except Conversation.DoesNotExist:
        raise NotFound(f"no conversation {conversation_id}", field="conversation") from None


def close(conversation_id: str, actor: str) -> None:
    """Close for good: the lock goes, so the pair's next message opens a new conversation."""
    conversation = load(conversation_id)
    now = datetime.now(UTC)

    def write(tx: TransactWrite) -> None:
        tx.delete(
            OpenConversation(pair_key(conversation.contact_number, conversation.business_number)),
            condition=OpenConversation.conversation_id == conversation_id,
        )
        tx.update(
            Conversation(conversation_id),
            actions=[
                Conversation.status.set("closed"),
                Conversation.closed_at.set(now),
                Conversation.closed_by.set(actor),
            ],
            condition=Conversation.status == "open",
        )

    if write_transaction(write):
        raise ConversationClosed("the conversation is already closed", field="conversation")


def for_contact(number: str) -> list[dict[str, Any]]:
    """A contact's conversations, newest first."""
    return [view(c) for c in Conversation.by_contact.query(number, scan_index_forward=False)]


def thread(conversation_id: str) -> list[Message]:
    return list(Message.query(conversation_id, consistent_read=True))


def view(conversation: Conversation) -> dict[str, Any]:
    return {
        "id": conversation.id,
        "contact_number": conversation.contact_number,
        "business_number": conversation.business_number,
        "status": conversation.status,
        "assigned_agent": conversation.assigned_agent,
        "assigned_group": conversation.assigned_group,
        "unread": conversation.unread,
        "message_count": int(conversation.message_count or 0),
        "last_message_preview": conversation.last_message_preview,
        "last_message_at": iso_z(conversation.last_message_at),
        "created_at": iso_z(conversation.created_at),
        "closed_at": iso_z(conversation.closed_at),
    }


def message_view(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "direction": message.direction,
        "body": message.body,
        "media": [{"url": m.url, "content_type": m.content_type} for m in message.media or []],
        "status": message.status,
        "error": message.error,
        "sender": message.sender,
        "provider_message_id": message.provider_message_id,
        "encoding": message.encoding,
        "segments": int(message.segments) if message.segments is not None else None,
        "created_at": iso_z(message.created_at),
    }
