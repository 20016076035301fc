"""Contact routes: parse, call the contacts service, shape the response."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib.api.authorizer import cognito
from chalicelib.api.payloads import created, parse_body, parse_query, path_value
from chalicelib.api.schemas import ContactChanges, ContactCreate, ContactListParams
from chalicelib.services import contacts

blueprint = Blueprint(__name__)


@blueprint.route("/contacts", methods=["GET"], authorizer=cognito)
def list_contacts() -> dict[str, Any]:
    params = parse_query(blueprint.current_request, ContactListParams)
    return contacts.list_contacts(contacts.ContactQuery(**params.model_dump())).body()


@blueprint.route("/contacts", methods=["POST"], authorizer=cognito)
def create_contact() -> Response:
    payload = parse_body(blueprint.current_request, ContactCreate)
    return created(contacts.create_contact(payload.model_dump(exclude_unset=True)))


@blueprint.route("/contacts/{number}", methods=["GET"], authorizer=cognito)
def get_contact(number: str) -> dict[str, Any]:
    return contacts.get_contact(path_value(number))


@blueprint.route("/contacts/{number}", methods=["PATCH"], authorizer=cognito)
def update_contact(number: str) -> dict[str, Any]:
    payload = parse_body(blueprint.current_request, ContactChanges)
    return contacts.update_contact(path_value(number), payload.model_dump(exclude_unset=True))


@blueprint.route("/contacts/{number}", methods=["DELETE"], authorizer=cognito)
def delete_contact(number: str) -> Response:
    contacts.delete_contact(path_value(number))
    return Response(body="", status_code=204)
