"""Conversation routes: the inbox views, a thread, and everything agents do in one.

Every route that names a conversation first checks the caller may see it, so a
conversation an agent may not see answers 404 to every action, as if absent.
"""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response
from chalice.app import Request

from chalicelib.api.authorizer import cognito
from chalicelib.api.payloads import created, parse_body, parse_query, path_value
from chalicelib.api.schemas import (
    BulkClose,
    ConversationCreate,
    ConversationListParams,
    MessageCreate,
    NoteCreate,
    TransferRequest,
)
from chalicelib.auth import caller_from_context
from chalicelib.errors import Unauthorized, ValidationFailed
from chalicelib.models import Conversation
from chalicelib.models.messages import Media
from chalicelib.services import (
    agent_messages,
    agents,
    assignment,
    contacts,
    conversations,
    inbox,
    optout_review,
    optouts,
)
from chalicelib.services.visibility import Viewer, require_visible

blueprint = Blueprint(__name__)


def _viewer(request: Request) -> Viewer:
    caller = caller_from_context(request.context)
    if caller is None or caller.role is None:
        raise Unauthorized("a valid user token is required")
    return Viewer(caller.username, caller.role, agents.caller_groups(caller.username))


def _visible(conversation_id: str, viewer: Viewer) -> Conversation:
    return require_visible(conversations.find(conversation_id), conversation_id, viewer)


def _draft(payload: MessageCreate) -> agent_messages.Draft:
    media = [Media(url=m.url, content_type=m.content_type) for m in payload.media]
    return agent_messages.Draft(payload.body, media, payload.quick_reply)


@blueprint.route("/conversations", methods=["GET"], authorizer=cognito)
def list_conversations() -> dict[str, Any]:
    request = blueprint.current_request
    params = parse_query(request, ConversationListParams)
    return inbox.list_conversations(inbox.InboxQuery(**params.model_dump()), _viewer(request)).body()


@blueprint.route("/conversations", methods=["POST"], authorizer=cognito)
def start_conversation() -> Response:
    request = blueprint.current_request
    payload = parse_body(request, ConversationCreate)
    started = agent_messages.start_conversation(
        payload.business_number, payload.contact_number, _draft(payload), _viewer(request).username
    )
    return created(started)


@blueprint.route("/conversations/close", methods=["POST"], authorizer=cognito)
def close_conversations() -> dict[str, Any]:
    """Bulk close (staff only, by the route table): the ids given, or open ones in batches until `more` is false."""
    request = blueprint.current_request
    payload = parse_body(request, BulkClose)
    if payload.all == (payload.ids is not None):
        raise ValidationFailed('give either "ids" or "all": true', field="ids")
    actor = _viewer(request).username
    return inbox.close_all_open(actor) if payload.all else inbox.close_many(list(payload.ids or ()), actor)


@blueprint.route("/conversations/{conversation_id}", methods=["GET"], authorizer=cognito)
def get_conversation(conversation_id: str) -> dict[str, Any]:
    viewer = _viewer(blueprint.current_request)
    conversation = _visible(conversation_id, viewer)
    return {
        **conversations.view(conversation),
        "messages": [conversations.message_view(m) for m in conversations.thread(conversation_id)],
    }


@blueprint.route("/conversations/{conversation_id}/messages", methods=["POST"], authorizer=cognito)
def reply(conversation_id: str) -> Response:
    request = blueprint.current_request
    payload = parse_body(request, MessageCreate)
    viewer = _viewer(request)
    return created(agent_messages.reply(_visible(conversation_id, viewer), viewer, _draft(payload)))


@blueprint.route("/conversations/{conversation_id}/notes", methods=["POST"], authorizer=cognito)
def add_note(conversation_id: str) -> Response:
    request = blueprint.current_request
    payload = parse_body(request, NoteCreate)
    viewer = _viewer(request)
    conversation = _visible(conversation_id, viewer)
    return created(agent_messages.add_note(conversation, viewer.username, payload.body, payload.quick_note))


@blueprint.route("/conversations/{conversation_id}/optout", methods=["POST"], authorizer=cognito)
def confirm_optout(conversation_id: str) -> dict[str, Any]:
    """The contact asked to stop in words the rules could not be sure of; the agent confirms it."""
    viewer = _viewer(blueprint.current_request)
    done = optout_review.confirm(_visible(conversation_id, viewer), viewer.username)
    return {
        "result": "opted_out" if done.changed else "already_opted_out",
        "scopes": [optouts.scope_view(scope) for scope in done.changed],
        "confirmation_sent": done.confirmation_sent,
        "conversation": conversations.view(conversations.load(conversation_id)),
    }


@blueprint.route("/conversations/{conversation_id}/optout/dismiss", methods=["POST"], authorizer=cognito)
def dismiss_optout(conversation_id: str) -> dict[str, Any]:
    """The flagged words were not a request to stop: the flag goes, nothing else changes."""
    viewer = _viewer(blueprint.current_request)
    optout_review.dismiss(_visible(conversation_id, viewer))
    return conversations.view(conversations.load(conversation_id))


@blueprint.route("/conversations/{conversation_id}/claim", methods=["POST"], authorizer=cognito)
def claim(conversation_id: str) -> dict[str, Any]:
    viewer = _viewer(blueprint.current_request)
    return conversations.view(assignment.claim(assignment.claim_target(conversation_id, viewer), viewer))


@blueprint.route("/conversations/{conversation_id}/transfer", methods=["POST"], authorizer=cognito)
def transfer(conversation_id: str) -> dict[str, Any]:
    request = blueprint.current_request
    payload = parse_body(request, TransferRequest)
    viewer = _viewer(request)
    moved = assignment.transfer(_visible(conversation_id, viewer), viewer, payload.agent, payload.group)
    return conversations.view(moved)


@blueprint.route("/conversations/{conversation_id}/close", methods=["POST"], authorizer=cognito)
def close(conversation_id: str) -> dict[str, Any]:
    viewer = _viewer(blueprint.current_request)
    conversations.close(conversation_id, viewer.username, viewer)
    return conversations.view(conversations.load(conversation_id))


@blueprint.route("/contacts/{number}/conversations", methods=["GET"], authorizer=cognito)
def contact_conversations(number: str) -> dict[str, Any]:
    viewer = _viewer(blueprint.current_request)
    return {"items": inbox.for_contact(contacts.parse_number(path_value(number)), viewer)}
