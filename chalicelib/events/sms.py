"""AWS End User Messaging events arriving through SNS: inbound texts and delivery receipts."""

from __future__ import annotations

import json

from chalice import Blueprint
from chalice.app import SNSEvent

from chalicelib.observability import logger
from chalicelib.services import inbound
from chalicelib.services.outbound import record_receipt

blueprint = Blueprint(__name__)

EUM_STATUS = {
    "TEXT_SUCCESSFUL": "sent",
    "TEXT_DELIVERED": "delivered",
    "TEXT_BLOCKED": "blocked",
    "TEXT_CARRIER_BLOCKED": "blocked",
    "TEXT_SPAM": "blocked",
    "TEXT_INVALID": "failed",
    "TEXT_INVALID_MESSAGE": "failed",
    "TEXT_UNREACHABLE": "undelivered",
    "TEXT_CARRIER_UNREACHABLE": "undelivered",
    "TEXT_TTL_EXPIRED": "undelivered",
    "TEXT_UNKNOWN": "failed",
}
"""Event types that settle a message; queued/pending events change nothing."""


@blueprint.on_sns_message(topic="inbound-sms")
def eum_inbound(event: SNSEvent) -> None:
    data = json.loads(event.message)
    inbound.receive(
        inbound.InboundSms(
            "eum",
            data["inboundMessageId"],
            data["originationNumber"],
            data["destinationNumber"],
            data.get("messageBody", ""),
        )
    )


@blueprint.on_sns_message(topic="delivery-events")
def eum_delivery_event(event: SNSEvent) -> None:
    data = json.loads(event.message)
    status = EUM_STATUS.get(data.get("eventType", ""))
    if status is None or not data.get("messageId"):
        logger.info("delivery event ignored", extra={"event_type": data.get("eventType")})
        return
    record_receipt(data["messageId"], status, error=data.get("messageStatusDescription"))
