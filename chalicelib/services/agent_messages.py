"""What agents write through the API: starting a conversation, replying in one, internal notes.

A reply or note may name a quick reply or quick note instead of typing the
text; a quick reply's placeholders are filled in for the contact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chalicelib.composition import compose
from chalicelib.errors import Conflict, ValidationFailed
from chalicelib.models import Conversation
from chalicelib.models.messages import Media
from chalicelib.services import assignment, business_numbers, contacts, conversations, quick_texts
from chalicelib.services.outbound import Outgoing, Purpose, SendRefused, guard, send
from chalicelib.services.visibility import Viewer


class ConversationExists(Conflict):
    code = "conversation_exists"


@dataclass(frozen=True)
class Draft:
    body: str
    media: Sequence[Media]
    quick_reply: str | None = None

    def text_for(self, contact_number: str) -> str:
        if self.quick_reply is None:
            return self.body
        if self.body:
            raise ValidationFailed("send either body or quick_reply, not both", field="quick_reply")
        return quick_texts.reply_text(self.quick_reply, contact_number)


def start_conversation(business_number: str, contact_number: str, draft: Draft, sender: str) -> dict[str, Any]:
    """Open a conversation with a first message, assigned to its sender; an unknown number becomes a contact.

    The body is validated and the guard asked before anything is created, so a
    refused first message leaves no empty conversation behind; `send` does both
    again as always.
    """
    business = business_numbers.load(business_number)
    number = contacts.parse_number(contact_number, field="contact_number")
    body, media = draft.text_for(number), draft.media
    compose(body, business.appended_message, allow_empty=bool(media))
    probe = Outgoing("", number, business, body, Purpose.AGENT, sender, media)
    refusal = guard(probe)
    if refusal is not None:
        raise SendRefused(refusal)
    now = datetime.now(UTC)
    contact_name = contacts.record_activity(number, now)
    conversation_id = conversations.try_open(
        number, business.number, now, contact_name=contact_name, actor=sender, agent=sender
    )
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


def reply(conversation: Conversation, viewer: Viewer, draft: Draft) -> dict[str, Any]:
    """Send in the conversation; answering one nobody has claimed claims it for the sender."""
    if conversation.status != "open":
        raise conversations.closed_error()
    body = draft.text_for(conversation.contact_number)
    business = business_numbers.load(conversation.business_number)
    compose(body, business.appended_message, allow_empty=bool(draft.media))
    outgoing = Outgoing(
        conversation.id, conversation.contact_number, business, body, Purpose.AGENT, viewer.username, draft.media
    )
    if not conversation.assigned_agent:
        refusal = guard(outgoing)
        if refusal is not None:
            raise SendRefused(refusal)
        assignment.claim(conversation, viewer)
    message = send(outgoing)
    name = contacts.record_activity(conversation.contact_number, message.created_at)
    if name != (conversation.contact_name or ""):
        conversations.rename_contact(conversation, name)
    return conversations.message_view(message)


def add_note(conversation: Conversation, author: str, body: str, quick_note: str | None) -> dict[str, Any]:
    if conversation.status != "open":
        raise conversations.closed_error()
    if quick_note is not None:
        if body:
            raise ValidationFailed("write either body or quick_note, not both", field="quick_note")
        body = quick_texts.note_text(quick_note)
    if not body.strip():
        raise ValidationFailed("a note needs a body or a quick_note", field="body")
    return conversations.message_view(conversations.add_note(conversation, author, body))
