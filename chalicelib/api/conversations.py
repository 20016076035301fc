"""Conversation routes: start one, reply in one, read its thread, a contact's history."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib.api.authorizer import cognito
from chalicelib.api.payloads import caller_name, created, parse_body, path_value
from chalicelib.api.schemas import ConversationCreate, MessageCreate
from chalicelib.models.messages import Media
from chalicelib.services import agent_messages, contacts, conversations

blueprint = Blueprint(__name__)


def _media(payload: MessageCreate) -> list[Media]:
    return [Media(url=m.url, content_type=m.content_type) for m in payload.media]


@blueprint.route("/conversations", methods=["POST"], authorizer=cognito)
def start_conversation() -> Response:
    payload = parse_body(blueprint.current_request, ConversationCreate)
    started = agent_messages.start_conversation(
        payload.business_number,
        payload.contact_number,
        payload.body,
        _media(payload),
        caller_name(blueprint.current_request),
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
    message = agent_messages.reply(
        conversation_id, payload.body, _media(payload), caller_name(blueprint.current_request)
    )
    return created(message)


@blueprint.route("/contacts/{number}/conversations", methods=["GET"], authorizer=cognito)
def contact_conversations(number: str) -> dict[str, Any]:
    return {"items": conversations.for_contact(contacts.parse_number(path_value(number)))}
