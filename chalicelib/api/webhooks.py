"""Carrier webhooks: verify the signature, hand the message to the inbound pipeline, answer fast.

These routes carry no user token; the signature is the proof. A bad or missing
signature gets 403 before anything is parsed into the system.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any
from urllib.parse import parse_qsl

from chalice import Blueprint, Response
from chalice.app import Request

from chalicelib.api.payloads import validate
from chalicelib.api.schemas import InboundWebhook
from chalicelib.errors import Forbidden, ValidationFailed
from chalicelib.services import inbound
from chalicelib.services.outbound import record_receipt
from chalicelib.signatures import verify_inbound, verify_twilio

blueprint = Blueprint(__name__)
FORM = ["application/x-www-form-urlencoded"]
TWIML_EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
TWILIO_STATUS = {
    "sending": "sent",
    "sent": "sent",
    "delivered": "delivered",
    "undelivered": "undelivered",
    "failed": "failed",
}


def public_url(request: Request) -> str:
    """The URL the carrier called, which is what it signed: WEBHOOK_BASE_URL (or API_URL) + path."""
    base = os.environ.get("WEBHOOK_BASE_URL") or os.environ.get("API_URL")
    if not base:
        headers = request.headers or {}
        stage = (request.context or {}).get("stage", "")
        scheme = headers.get("x-forwarded-proto", "https")
        base = f"{scheme}://{headers.get('host', '')}" + (f"/{stage}" if stage else "")
    query = f"?{request.raw_query_string}" if getattr(request, "raw_query_string", "") else ""
    return base.rstrip("/") + request.path + query


def _secret(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise Forbidden(f"this webhook is not configured ({name} is not set)")
    return value


def _twilio_form(request: Request) -> list[tuple[str, str]]:
    params = parse_qsl((request.raw_body or b"").decode("utf-8", "replace"), keep_blank_values=True)
    signature = (request.headers or {}).get("x-twilio-signature")
    if not verify_twilio(public_url(request), params, signature, _secret("TWILIO_AUTH_TOKEN")):
        raise Forbidden("X-Twilio-Signature does not match this request")
    return params


def _twiml() -> Response:
    return Response(body=TWIML_EMPTY, status_code=200, headers={"Content-Type": "text/xml"})


@blueprint.route("/webhooks/twilio", methods=["POST"], content_types=FORM)
def twilio_inbound() -> Response:
    form = dict(_twilio_form(blueprint.current_request))
    missing = [name for name in ("MessageSid", "From", "To") if not form.get(name)]
    if missing:
        raise ValidationFailed(f"{missing[0]} is required", field=missing[0])
    try:
        media_count = int(form.get("NumMedia") or 0)
    except ValueError:
        raise ValidationFailed("NumMedia must be a whole number", field="NumMedia") from None
    media = [
        {"url": form[f"MediaUrl{i}"], "content_type": form.get(f"MediaContentType{i}")}
        for i in range(media_count)
        if form.get(f"MediaUrl{i}")
    ]
    inbound.receive(
        inbound.InboundSms("twilio", form["MessageSid"], form["From"], form["To"], form.get("Body", ""), media)
    )
    return _twiml()


@blueprint.route("/webhooks/twilio/status", methods=["POST"], content_types=FORM)
def twilio_status() -> Response:
    form = dict(_twilio_form(blueprint.current_request))
    status = TWILIO_STATUS.get(form.get("MessageStatus", ""))
    if form.get("MessageSid") and status:
        record_receipt(form["MessageSid"], status, error=form.get("ErrorCode"))
    return _twiml()


@blueprint.route("/webhooks/inbound", methods=["POST"])
def json_inbound() -> dict[str, Any]:
    request = blueprint.current_request
    headers = request.headers or {}
    body = request.raw_body or b""
    reason = verify_inbound(
        headers.get("x-timestamp"), body, headers.get("x-signature"), _secret("INBOUND_WEBHOOK_SECRET"), time.time()
    )
    if reason is not None:
        raise Forbidden(f"signature refused: {reason}")
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValidationFailed(f"body is not valid JSON: {error}") from None
    payload = validate(InboundWebhook, data if isinstance(data, dict) else {})
    result = inbound.receive(
        inbound.InboundSms(
            "webhook",
            payload.id,
            payload.from_,
            payload.to,
            payload.body,
            [m.model_dump() for m in payload.media],
        )
    )
    return {"accepted": True, **result}
