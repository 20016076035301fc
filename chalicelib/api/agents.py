"""Agent and agent group routes: who works the inbox, and in which teams."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib.api.authorizer import cognito
from chalicelib.api.payloads import created, parse_body, path_value
from chalicelib.api.schemas import AgentChanges, AgentCreate, AgentGroupChanges, AgentGroupCreate, MemberAdd
from chalicelib.services import agents

blueprint = Blueprint(__name__)


@blueprint.route("/agents", methods=["GET"], authorizer=cognito)
def list_agents() -> dict[str, Any]:
    return {"items": agents.list_agents()}


@blueprint.route("/agents", methods=["POST"], authorizer=cognito)
def create_agent() -> Response:
    payload = parse_body(blueprint.current_request, AgentCreate)
    return created(agents.create_agent(payload.model_dump()))


@blueprint.route("/agents/{username}", methods=["PATCH"], authorizer=cognito)
def update_agent(username: str) -> dict[str, Any]:
    payload = parse_body(blueprint.current_request, AgentChanges)
    return agents.update_agent(path_value(username), payload.model_dump(exclude_unset=True))


@blueprint.route("/agent-groups", methods=["GET"], authorizer=cognito)
def list_agent_groups() -> dict[str, Any]:
    return {"items": agents.list_groups()}


@blueprint.route("/agent-groups", methods=["POST"], authorizer=cognito)
def create_agent_group() -> Response:
    payload = parse_body(blueprint.current_request, AgentGroupCreate)
    return created(agents.create_group(payload.name, payload.members))


@blueprint.route("/agent-groups/{group_id}", methods=["GET"], authorizer=cognito)
def get_agent_group(group_id: str) -> dict[str, Any]:
    return agents.get_group(group_id)


@blueprint.route("/agent-groups/{group_id}", methods=["PATCH"], authorizer=cognito)
def update_agent_group(group_id: str) -> dict[str, Any]:
    payload = parse_body(blueprint.current_request, AgentGroupChanges)
    return agents.update_group(group_id, payload.model_dump(exclude_unset=True))


@blueprint.route("/agent-groups/{group_id}", methods=["DELETE"], authorizer=cognito)
def delete_agent_group(group_id: str) -> Response:
    agents.delete_group(group_id)
    return Response(body="", status_code=204)


@blueprint.route("/agent-groups/{group_id}/members", methods=["POST"], authorizer=cognito)
def add_agent_group_member(group_id: str) -> dict[str, Any]:
    payload = parse_body(blueprint.current_request, MemberAdd)
    return agents.add_member(group_id, payload.username)


@blueprint.route("/agent-groups/{group_id}/members/{username}", methods=["DELETE"], authorizer=cognito)
def remove_agent_group_member(group_id: str, username: str) -> dict[str, Any]:
    return agents.remove_member(group_id, path_value(username))
