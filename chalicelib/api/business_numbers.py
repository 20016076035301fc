"""Business number routes (admins configure what the account texts from)."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib.api.authorizer import cognito
from chalicelib.api.payloads import created, parse_body, path_value
from chalicelib.api.schemas import BusinessNumberChanges, BusinessNumberCreate
from chalicelib.services import business_numbers

blueprint = Blueprint(__name__)


@blueprint.route("/business-numbers", methods=["GET"], authorizer=cognito)
def list_business_numbers() -> dict[str, Any]:
    return {"items": business_numbers.list_all()}


@blueprint.route("/business-numbers", methods=["POST"], authorizer=cognito)
def create_business_number() -> Response:
    payload = parse_body(blueprint.current_request, BusinessNumberCreate)
    return created(business_numbers.create(payload.model_dump(exclude_unset=True)))


@blueprint.route("/business-numbers/{number}", methods=["PATCH"], authorizer=cognito)
def update_business_number(number: str) -> dict[str, Any]:
    payload = parse_body(blueprint.current_request, BusinessNumberChanges)
    return business_numbers.update(path_value(number), payload.model_dump(exclude_unset=True))
