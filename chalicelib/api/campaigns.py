"""Campaign routes: admins manage campaigns and subscriptions, staff read subscriber lists, everyone reads campaigns."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib.api.authorizer import cognito
from chalicelib.api.payloads import created, json_response, parse_body, parse_query, path_value
from chalicelib.api.schemas import CampaignChanges, CampaignCreate, SubscriberListParams, SubscriptionCreate
from chalicelib.services import campaigns
from chalicelib.services.contacts import parse_number

blueprint = Blueprint(__name__)


@blueprint.route("/campaigns", methods=["GET"], authorizer=cognito)
def list_campaigns() -> dict[str, Any]:
    return {"items": campaigns.list_campaigns()}


@blueprint.route("/campaigns", methods=["POST"], authorizer=cognito)
def create_campaign() -> Response:
    payload = parse_body(blueprint.current_request, CampaignCreate)
    return created(campaigns.create(payload.model_dump(exclude_unset=True)))


@blueprint.route("/campaigns/{campaign_id}", methods=["GET"], authorizer=cognito)
def get_campaign(campaign_id: str) -> dict[str, Any]:
    return campaigns.view(campaigns.get_campaign(campaign_id))


@blueprint.route("/campaigns/{campaign_id}", methods=["PATCH"], authorizer=cognito)
def update_campaign(campaign_id: str) -> dict[str, Any]:
    payload = parse_body(blueprint.current_request, CampaignChanges)
    return campaigns.update(campaign_id, payload.model_dump(exclude_unset=True))


@blueprint.route("/campaigns/{campaign_id}/subscribers", methods=["GET"], authorizer=cognito)
def list_subscribers(campaign_id: str) -> dict[str, Any]:
    params = parse_query(blueprint.current_request, SubscriberListParams)
    return campaigns.list_subscribers(campaign_id, params.limit, params.cursor).body()


@blueprint.route("/campaigns/{campaign_id}/subscribers", methods=["POST"], authorizer=cognito)
def subscribe(campaign_id: str) -> Response:
    payload = parse_body(blueprint.current_request, SubscriptionCreate)
    number = parse_number(payload.number)
    added = campaigns.subscribe(campaign_id, number, source="api")
    body = {"number": number, "result": "subscribed" if added else "already_subscribed"}
    return json_response(body, 201 if added else 200)


@blueprint.route("/campaigns/{campaign_id}/subscribers/{number}", methods=["DELETE"], authorizer=cognito)
def unsubscribe(campaign_id: str, number: str) -> dict[str, Any]:
    parsed = parse_number(path_value(number))
    removed = campaigns.unsubscribe(campaign_id, parsed)
    return {"number": parsed, "result": "unsubscribed" if removed else "was_not_subscribed"}
