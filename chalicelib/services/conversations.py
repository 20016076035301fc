"""Conversations: exactly one open per contact and business number, and closed ones never change.

Both rules are enforced by DynamoDB, not by reading first: opening is a
transaction that creates the (contact, business number) lock only if absent,
and every later write to a conversation requires it to be open at that
instant. Each write also keeps the conversation's inbox index keys current,
and each action (open, claim, transfer, close) leaves an event in the thread,
written in the same transaction as the change it records.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import UpdateError
from pynamodb.transactions import TransactWrite

from chalicelib.errors import Conflict, NotFound
from chalicelib.ids import new_id
from chalicelib.models import Conversation, ConversationAccess, Message, OpenConversation
from chalicelib.models.conversations import (
    agent_principal,
    contact_key,
    contact_search,
    date_key,
    group_principal,
    pair_key,
    state_partition,
)
from chalicelib.models.writes import ATTEMPTS, Writer, backoff, condition_failed, write_transaction
from chalicelib.services.visibility import Viewer, require_visible
from chalicelib.timestamps import iso_z

PREVIEW_CHARS = 80
TRANSACTION_ITEMS = 100
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


def open_or_join(contact_number: str, business_number: str, now: datetime, contact_name: str | None = None) -> Opened:
    """The open conversation for the pair, opening one if there is none (safe under any race)."""
    for _ in range(_OPEN_ATTEMPTS):
        existing = open_conversation_id(contact_number, business_number)
        if existing is not None:
            return Opened(existing, created=False)
        created = try_open(contact_number, business_number, now, contact_name=contact_name, actor=contact_number)
        if created is not None:
            return Opened(created, created=True)
    raise Conflict("the conversation changed repeatedly while opening; retry", field="conversation")


def try_open(
    contact_number: str,
    business_number: str,
    now: datetime,
    *,
    contact_name: str | None,
    actor: str,
    agent: str | None = None,
) -> str | None:
    """Open a new conversation (assigned to `agent`, if named); None when another one holds the pair's lock."""
    conversation = Conversation(
        new_id("conv"),
        contact_number=contact_number,
        contact_name=contact_name or None,
        business_number=business_number,
        assigned_agent=agent,
        participants={agent} if agent else None,
        created_at=now,
    )
    lock = OpenConversation(pair_key(contact_number, business_number), conversation_id=conversation.id)

    def write(tx: TransactWrite) -> None:
        tx.save(lock, condition=OpenConversation.pair.does_not_exist())
        tx.save(conversation)
        tx.save(event(conversation, now, actor, "opened"))

    return None if write_transaction(write) else conversation.id


def append(
    conversation_id: str,
    message: Message,
    *,
    unread: bool | None,
    contact_name: str | None = None,
    participant: str | None = None,
) -> None:
    """Add a message to an open conversation; raises ConversationClosed if it is not open.

    `unread` True marks the conversation for attention, False clears it (an
    agent answered), None leaves it. A `contact_name` refreshes the name the
    inbox sorts and searches by; a `participant` is an agent who wrote.
    """
    if write_transaction(append_writes(conversation_id, message, unread, contact_name, participant)):
        raise appended_to_closed()


def append_writes(
    conversation_id: str,
    message: Message,
    unread: bool | None,
    contact_name: str | None = None,
    participant: str | None = None,
) -> Writer:
    """`append` as writes for a larger transaction: a put of the message, then the conversation's conditional update."""
    preview = (message.body or "")[:PREVIEW_CHARS] or ("[media]" if message.media else "")
    actions = [
        Conversation.last_message_at.set(message.created_at),
        Conversation.last_message_preview.set(preview),
        Conversation.message_count.add(1),
        Conversation.date_key.set(date_key(message.created_at, conversation_id)),
        Conversation.revision.add(1),
    ]
    if unread is not None:
        actions.append(Conversation.unread.set(unread))
    if contact_name is not None:
        actions += [
            Conversation.contact_name.set(contact_name or None),
            Conversation.contact_key.set(contact_key(contact_name, message.contact_number, conversation_id)),
            Conversation.contact_search.set(contact_search(contact_name, message.contact_number)),
        ]
    if participant is not None:
        actions.append(Conversation.participants.add({participant}))
    if message.possible_optout:
        actions.append(Conversation.possible_optout.set(message.id))

    def write(tx: TransactWrite) -> None:
        tx.save(message)
        tx.update(Conversation(conversation_id), actions=actions, condition=Conversation.status == "open")

    return write


def settle_possible_optout(conversation_id: str) -> None:
    """An agent confirmed or dismissed the flag: it goes until another message may ask to stop."""
    Conversation(conversation_id).update(
        actions=[Conversation.possible_optout.remove(), Conversation.revision.add(1)],
        condition=Conversation.id.exists(),
    )


def appended_to_closed() -> ConversationClosed:
    return ConversationClosed(
        "the conversation is closed and read-only; a new message opens a new conversation", field="conversation"
    )


def rename_contact(conversation: Conversation, name: str) -> None:
    """Bring the name the inbox sorts and searches by up to date (a contact renamed since the last message)."""
    number = conversation.contact_number
    try:
        Conversation(conversation.id).update(
            actions=[
                Conversation.contact_name.set(name or None),
                Conversation.contact_key.set(contact_key(name, number, conversation.id)),
                Conversation.contact_search.set(contact_search(name, number)),
            ],
            condition=Conversation.status == "open",
        )
    except UpdateError as error:
        if not condition_failed(error):
            raise


def add_note(conversation: Conversation, author: str, text: str) -> Message:
    """An internal note in the thread: stored like a message, never handed to a transport."""
    note = Message.new(
        conversation.id,
        datetime.now(UTC),
        direction="note",
        body=text,
        contact_number=conversation.contact_number,
        business_number=conversation.business_number,
        sender=author,
    )

    def write(tx: TransactWrite) -> None:
        tx.save(note)
        tx.update(
            Conversation(conversation.id),
            actions=[Conversation.participants.add({author}), Conversation.revision.add(1)],
            condition=Conversation.status == "open",
        )

    if write_transaction(write):
        raise closed_error()
    return note


def load(conversation_id: str) -> Conversation:
    conversation = find(conversation_id)
    if conversation is None:
        raise NotFound(f"no conversation {conversation_id}", field="conversation_id")
    return conversation


ID_PATTERN = re.compile(r"conv_[0-9a-z]{1,64}")


def find(conversation_id: str) -> Conversation | None:
    """The conversation, or None; an id that cannot be one of ours is not looked up at all."""
    if not ID_PATTERN.fullmatch(conversation_id):
        return None
    try:
        return Conversation.get(conversation_id, consistent_read=True)
    except Conversation.DoesNotExist:
        return None


def closed_error() -> ConversationClosed:
    return ConversationClosed(
        "the conversation is closed and read-only: it cannot be replied to, noted, claimed, transferred or "
        "reopened; a new message opens a new conversation",
        field="conversation_id",
    )


def close(conversation_id: str, actor: str, viewer: Viewer | None = None) -> None:
    """Close for good: the lock goes, so the pair's next message opens a new conversation.

    Agents and groups that took part get an access entry in the same
    transaction, which is what the agents' Closed view lists. The write is
    conditioned on the revision read, so an entry is never built from stale
    data: a conversation that changed in between is read again, and, for a
    `viewer`, checked again (an agent cannot close what another agent claimed
    a moment ago).
    """
    for attempt in range(ATTEMPTS):
        conversation = load(conversation_id)
        if viewer is not None:
            require_visible(conversation, conversation_id, viewer)
        if conversation.status != "open":
            raise closed_error()
        if _try_close(conversation, actor):
            return
        backoff(attempt)
    raise Conflict("the conversation kept changing while closing; retry", field="conversation_id")


def _try_close(conversation: Conversation, actor: str) -> bool:
    now = datetime.now(UTC)
    entries = access_entries(conversation, extra_participant=actor)
    in_transaction = TRANSACTION_ITEMS - 3

    def write(tx: TransactWrite) -> None:
        tx.delete(
            OpenConversation(pair_key(conversation.contact_number, conversation.business_number)),
            condition=OpenConversation.conversation_id == conversation.id,
        )
        tx.update(
            Conversation(conversation.id),
            actions=[
                Conversation.status.set("closed"),
                Conversation.closed_at.set(now),
                Conversation.closed_by.set(actor),
                Conversation.participants.add({actor}),
                Conversation.queue.remove(),
                Conversation.state.set(state_partition("closed", conversation.id)),
                Conversation.revision.add(1),
            ],
            condition=(Conversation.status == "open") & (Conversation.revision == conversation.revision),
        )
        tx.save(event(conversation, now, actor, "closed"))
        for entry in entries[:in_transaction]:
            tx.save(entry)

    if write_transaction(write):
        return False
    with ConversationAccess.batch_write() as batch:
        for entry in entries[in_transaction:]:
            batch.save(entry)
    return True


def access_entries(conversation: Conversation, extra_participant: str) -> list[ConversationAccess]:
    principals = [agent_principal(a) for a in sorted({*(conversation.participants or ()), extra_participant})]
    principals += [group_principal(g) for g in sorted(conversation.groups_seen or ())]
    return [
        ConversationAccess(
            principal,
            conversation.id,
            business_number=conversation.business_number,
            assigned_agent=conversation.assigned_agent,
            assigned_group=conversation.assigned_group,
            unread=conversation.unread,
            date_key=conversation.date_key,
            contact_key=conversation.contact_key,
            contact_search=conversation.contact_search,
        )
        for principal in principals
    ]


def event(conversation: Conversation, when: datetime, actor: str, name: str, **details: Any) -> Message:
    """An action recorded in the thread: who did what, when, with what."""
    return Message.new(
        conversation.id,
        when,
        id_prefix="evt",
        direction="event",
        event=name,
        details=details or None,
        contact_number=conversation.contact_number,
        business_number=conversation.business_number,
        sender=actor,
    )


def thread(conversation_id: str) -> list[Message]:
    return list(Message.query(conversation_id, consistent_read=True))


def view(conversation: Conversation) -> dict[str, Any]:
    return {
        "id": conversation.id,
        "contact_number": conversation.contact_number,
        "contact_name": conversation.contact_name,
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
        "closed_by": conversation.closed_by,
        "possible_optout": conversation.possible_optout is not None,
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
        "event": message.event,
        "details": message.details.as_dict() if message.details is not None else None,
        "provider_message_id": message.provider_message_id,
        "encoding": message.encoding,
        "segments": int(message.segments) if message.segments is not None else None,
        "possible_optout": bool(message.possible_optout),
        "created_at": iso_z(message.created_at),
    }
