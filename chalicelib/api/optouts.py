"""Opt-out routes: the store, manual changes, and a contact's history."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib.api.authorizer import cognito
from chalicelib.api.payloads import caller_name, json_response, parse_body, parse_query, path_value
from chalicelib.api.schemas import OptInParams, OptOutCreate, OptOutListParams
from chalicelib.errors import ValidationFailed
from chalicelib.services import business_numbers, campaigns, contacts, optouts

blueprint = Blueprint(__name__)


@blueprint.route("/optouts", methods=["GET"], authorizer=cognito)
def list_optouts() -> dict[str, Any]:
    params = parse_query(blueprint.current_request, OptOutListParams)
    if params.business_number is None:
        scope = _scope(params.campaign_id)
    elif params.campaign_id is not None:
        raise ValidationFailed("give campaign_id or business_number, not both", field="business_number")
    else:
        scope = optouts.Scope(business_number=business_numbers.load(params.business_number).number)
    return optouts.list_optouts(scope, params.limit, params.cursor).body()


@blueprint.route("/optouts", methods=["POST"], authorizer=cognito)
def create_optouts() -> Response:
    """Opt out several numbers; each is reported, and one bad number loses none of the others."""
    payload = parse_body(blueprint.current_request, OptOutCreate)
    results = optouts.opt_out_numbers(
        payload.numbers,
        _scope(payload.campaign_id),
        source="manual",
        actor=caller_name(blueprint.current_request),
        reason=payload.reason,
    )
    return json_response({"results": results}, 200)


@blueprint.route("/optouts/{number}", methods=["DELETE"], authorizer=cognito)
def opt_back_in(number: str) -> dict[str, Any]:
    """Lift an opt-out, checking the campaign only when there was none.

    So an opt-out stored before campaigns were checked can still be lifted,
    and a mistyped id answers 404 rather than "was not opted out".
    """
    params = parse_query(blueprint.current_request, OptInParams)
    parsed = contacts.parse_number(path_value(number))
    changed = optouts.opt_in(
        parsed,
        optouts.Scope(params.campaign_id),
        source="manual",
        actor=caller_name(blueprint.current_request),
        reason=params.reason,
    )
    if not changed:
        campaigns.require(params.campaign_id)
    return {"number": parsed, "result": "opted_in" if changed else "was_not_opted_out"}


@blueprint.route("/contacts/{number}/optout-history", methods=["GET"], authorizer=cognito)
def optout_history(number: str) -> dict[str, Any]:
    return {"items": optouts.history(contacts.parse_number(path_value(number)))}


def _scope(campaign_id: str | None) -> optouts.Scope:
    campaigns.require(campaign_id)
    return optouts.Scope(campaign_id)
