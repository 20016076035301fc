"""Composition helpers for clients: segment preview, media uploads, and the local outbox."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib.api.authorizer import cognito
from chalicelib.api.payloads import created, parse_body, parse_query
from chalicelib.api.schemas import MediaUploadRequest, OutboxParams, PreviewRequest
from chalicelib.composition import compose
from chalicelib.config import get_settings
from chalicelib.errors import NotFound
from chalicelib.ids import new_id
from chalicelib.services import business_numbers, contacts
from chalicelib.storage import presigned_upload
from chalicelib.transport.local_outbox import list_outbox

blueprint = Blueprint(__name__)


@blueprint.route("/messages/preview", methods=["POST"], authorizer=cognito)
def preview() -> dict[str, Any]:
    """What a body becomes when sent: appended message, emoji, encoding and segments."""
    payload = parse_body(blueprint.current_request, PreviewRequest)
    appended = business_numbers.load(payload.business_number).appended_message if payload.business_number else None
    return compose(payload.body, appended).as_dict()


@blueprint.route("/media", methods=["POST"], authorizer=cognito)
def upload_media() -> Response:
    payload = parse_body(blueprint.current_request, MediaUploadRequest)
    media_id = new_id("media")
    upload = presigned_upload(f"media/{media_id}", payload.content_type)
    return created({"media_id": media_id, "content_type": payload.content_type, **upload})


@blueprint.route("/dev/outbox", methods=["GET"], authorizer=cognito)
def dev_outbox() -> dict[str, Any]:
    """Messages the local transport "sent", newest last; exists only in the local stage."""
    if not get_settings().is_local:
        raise NotFound("the outbox exists only in the local stage")
    params = parse_query(blueprint.current_request, OutboxParams)
    to = contacts.parse_number(params.to, field="to") if params.to is not None else None
    return {"items": list_outbox(params.limit, to)}
