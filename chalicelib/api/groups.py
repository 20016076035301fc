"""Contact group routes: parse, call the groups service, shape the response.

Work that can outgrow a request answers 202 with the group, whose `state` is
"pending" until the background job is done.
"""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib.api.authorizer import cognito
from chalicelib.api.payloads import created, json_response, parse_body, parse_query
from chalicelib.api.schemas import GroupChanges, GroupCreate, GroupMemberListParams, GroupMembersChange, GroupMerge
from chalicelib.errors import ValidationFailed
from chalicelib.services import groups

blueprint = Blueprint(__name__)


@blueprint.route("/groups", methods=["GET"], authorizer=cognito)
def list_groups() -> dict[str, Any]:
    return groups.list_groups()


@blueprint.route("/groups", methods=["POST"], authorizer=cognito)
def create_group() -> Response:
    payload = parse_body(blueprint.current_request, GroupCreate)
    return created(groups.create_group(payload.model_dump(exclude_unset=True)))


@blueprint.route("/groups/{group_id}", methods=["GET"], authorizer=cognito)
def get_group(group_id: str) -> dict[str, Any]:
    return groups.get_group(group_id)


@blueprint.route("/groups/{group_id}", methods=["PATCH"], authorizer=cognito)
def update_group(group_id: str) -> dict[str, Any]:
    payload = parse_body(blueprint.current_request, GroupChanges)
    return groups.update_group(group_id, payload.model_dump(exclude_unset=True))


@blueprint.route("/groups/{group_id}", methods=["DELETE"], authorizer=cognito)
def delete_group(group_id: str) -> Response:
    view, finished = groups.delete_group(group_id)
    if finished:
        return Response(body="", status_code=204)
    return json_response(view, 202)


@blueprint.route("/groups/{group_id}/members", methods=["GET"], authorizer=cognito)
def list_members(group_id: str) -> dict[str, Any]:
    params = parse_query(blueprint.current_request, GroupMemberListParams)
    return groups.list_members(group_id, params.limit, params.cursor)


@blueprint.route("/groups/{group_id}/members", methods=["POST"], authorizer=cognito)
def add_members(group_id: str) -> Response:
    return _change_members(group_id, adding=True)


@blueprint.route("/groups/{group_id}/members/remove", methods=["POST"], authorizer=cognito)
def remove_members(group_id: str) -> Response:
    return _change_members(group_id, adding=False)


@blueprint.route("/groups/{group_id}/merge", methods=["POST"], authorizer=cognito)
def merge_groups(group_id: str) -> Response:
    payload = parse_body(blueprint.current_request, GroupMerge)
    view, finished = groups.merge_groups(group_id, payload.source)
    return json_response(view, 200 if finished else 202)


@blueprint.route("/groups/{group_id}/refresh", methods=["POST"], authorizer=cognito)
def refresh_group(group_id: str) -> Response:
    return json_response(groups.refresh_group(group_id), 202)


def _change_members(group_id: str, *, adding: bool) -> Response:
    payload = parse_body(blueprint.current_request, GroupMembersChange)
    if (payload.numbers is None) == (payload.query is None):
        raise ValidationFailed("give either numbers or query", field="numbers")
    if payload.query is not None:
        filters = payload.query.model_dump(exclude_none=True)
        return json_response(groups.change_members_by_query(group_id, filters, adding=adding), 202)
    assert payload.numbers is not None
    change = groups.add_members if adding else groups.remove_members
    return json_response(change(group_id, payload.numbers), 200)
