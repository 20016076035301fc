"""Conversation routes: start one, reply in one, read its thread, a contact's history."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from chalice import Blueprint, Response

from chalicelib.api.authorizer import cognito
from chalicelib.api.payloads import created, parse_body
from chalicelib.api.schemas import ConversationCreate, MessageCreate
from chalicelib.auth import caller_from_context
from chalicelib.models.messages import Media
from chalicelib.services import agent_messages, contacts, conversations

blueprint = Blueprint(__name__)


def _username() -> str:
    caller = caller_from_context(blueprint.current_request.context)
    return caller.username if caller else "unknown"


def _media(payload: MessageCreate) -> list[Media]:
    return [Media(url=m.url, content_type=m.content_type) for m in payload.media]


@blueprint.route("/conversations", methods=["POST"], authorizer=cognito)
def start_conversation() -> Response:
    payload = parse_body(blueprint.current_request, ConversationCreate)
    started = agent_messages.start_conversation(
        payload.business_number, payload.contact_number, payload.body, _media(payload), _username()
    )
    return created(started)


@blueprint.route("/conversations/{conversation_id}", methods=["GET"], authorizer=cognito)
def get_conversation(conversation_id: str) -> dict[str, Any]:
    conversation = conversations.load(conversation_id)
    return {
        **conversations.view(conversation),
        "messages": [conversations.message_view(m) for m in conversations.thread(conversation_id)],
    }


@blueprint.route("/conversations/{conversation_id}/messages", methods=["POST"], authorizer=cognito)
def reply(conversation_id: str) -> Response:
    payload = parse_body(blueprint.current_request, MessageCreate)
    message = agent_messages.reply(conversation_id, payload.body, _media(payload), _username())
    return created(message)


@blueprint.route("/contacts/{number}/conversations", methods=["GET"], authorizer=cognito)
def contact_conversations(number: str) -> dict[str, Any]:
    return {"items": conversations.for_contact(contacts.parse_number(unquote(number)))}
