"""Broadcast routes: send one text to groups, campaign subscribers and numbers; follow and cancel it."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib.api.authorizer import cognito
from chalicelib.api.payloads import caller_name, json_response, parse_body, parse_query
from chalicelib.api.schemas import BroadcastCreate, BroadcastListParams
from chalicelib.services import broadcasts

blueprint = Blueprint(__name__)


@blueprint.route("/broadcasts", methods=["POST"], authorizer=cognito)
def create_broadcast() -> Response:
    request = blueprint.current_request
    payload = parse_body(request, BroadcastCreate)
    return json_response(broadcasts.create(payload.model_dump(), caller_name(request)), 202)


@blueprint.route("/broadcasts", methods=["GET"], authorizer=cognito)
def list_broadcasts() -> dict[str, Any]:
    params = parse_query(blueprint.current_request, BroadcastListParams)
    return broadcasts.list_broadcasts(params.limit, params.cursor).body()


@blueprint.route("/broadcasts/{broadcast_id}", methods=["GET"], authorizer=cognito)
def get_broadcast(broadcast_id: str) -> dict[str, Any]:
    return broadcasts.get(broadcast_id)


@blueprint.route("/broadcasts/{broadcast_id}/cancel", methods=["POST"], authorizer=cognito)
def cancel_broadcast(broadcast_id: str) -> dict[str, Any]:
    return broadcasts.cancel(broadcast_id)
