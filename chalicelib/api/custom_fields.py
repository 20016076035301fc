"""Custom contact field definitions (`/fields`)."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib.api.authorizer import cognito
from chalicelib.api.payloads import created, parse_body
from chalicelib.api.schemas import FieldCreate
from chalicelib.services import custom_fields

blueprint = Blueprint(__name__)


@blueprint.route("/fields", methods=["GET"], authorizer=cognito)
def list_fields() -> dict[str, Any]:
    fields = custom_fields.list_fields()
    return {"items": [fields[name] for name in sorted(fields)], "limit": custom_fields.MAX_CUSTOM_FIELDS}


@blueprint.route("/fields", methods=["POST"], authorizer=cognito)
def create_field() -> Response:
    payload = parse_body(blueprint.current_request, FieldCreate)
    return created(custom_fields.create_field(payload.name, payload.label))


@blueprint.route("/fields/{name}", methods=["DELETE"], authorizer=cognito)
def delete_field(name: str) -> Response:
    custom_fields.delete_field(name)
    return Response(body="", status_code=204)
