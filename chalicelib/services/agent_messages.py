"""Messages people send through the API: starting a conversation and replying in one."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from chalicelib.composition import compose
from chalicelib.errors import Conflict
from chalicelib.models.messages import Media
from chalicelib.services import business_numbers, contacts, conversations
from chalicelib.services.outbound import Outgoing, Purpose, SendRefused, guard, send


class ConversationExists(Conflict):
    code = "conversation_exists"


def start_conversation(
    business_number: str, contact_number: str, body: str, media: Sequence[Media], sender: str
) -> dict[str, Any]:
    """Open a conversation with a first message; an unknown number becomes a contact.

    The body is validated and the guard asked before anything is created, so a
    refused first message leaves no empty conversation behind; `send` does both
    again as always.
    """
    business = business_numbers.load(business_number)
    number = contacts.parse_number(contact_number, field="contact_number")
    compose(body, business.appended_message, allow_empty=bool(media))
    probe = Outgoing("", number, business, body, Purpose.AGENT, sender, media)
    refusal = guard(probe)
    if refusal is not None:
        raise SendRefused(refusal, field="contact_number")
    now = datetime.now(UTC)
    contacts.record_activity(number, now)
    conversation_id = conversations.try_open(number, business.number, now)
    if conversation_id is None:
        existing = conversations.open_conversation_id(number, business.number)
        raise ConversationExists(
            "an open conversation with this contact on this business number already exists",
            field="contact_number",
            extra={"conversation_id": existing},
        )
    message = send(Outgoing(conversation_id, number, business, body, Purpose.AGENT, sender, media))
    return {
        "conversation": conversations.view(conversations.load(conversation_id)),
        "message": conversations.message_view(message),
    }


def reply(conversation_id: str, body: str, media: Sequence[Media], sender: str) -> dict[str, Any]:
    conversation = conversations.load(conversation_id)
    if conversation.status != "open":
        raise conversations.ConversationClosed(
            "the conversation is closed and read-only; start a new one", field="conversation"
        )
    business = business_numbers.load(conversation.business_number)
    message = send(Outgoing(conversation_id, conversation.contact_number, business, body, Purpose.AGENT, sender, media))
    contacts.record_activity(conversation.contact_number, message.created_at)
    return conversations.message_view(message)
