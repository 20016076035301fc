"""Business numbers and the compliance texts each one answers keywords with."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import PutError

from chalicelib.errors import Conflict, NotFound, ValidationFailed
from chalicelib.models import BusinessNumber, Campaign
from chalicelib.models.business_numbers import ACCOUNT
from chalicelib.models.writes import condition_failed
from chalicelib.services.contacts import parse_number
from chalicelib.timestamps import iso_z

DEFAULT_MPS = {"long_code": 1, "toll_free": 3, "short_code": 100}
SHORT_CODE_DIGITS = range(5, 7)


def default_texts(name: str) -> dict[str, str]:
    """CTIA-style defaults: who is texting, how to stop, how to get help, that rates may apply."""
    return {
        "help_text": f"{name}: for help reply HELP or contact us. Msg&data rates may apply. Reply STOP to opt out.",
        "optout_text": f"{name}: you are unsubscribed and will receive no more messages. Reply START to resubscribe.",
        "optin_text": f"{name}: you are subscribed again. Msg&data rates may apply. Reply HELP for help, STOP to end.",
    }


def parse_business_number(raw: str, kind: str | None = None, field: str = "number") -> str:
    """E.164 for long codes and toll-free numbers; short codes stay their 5-6 digits.

    Without a `kind` (looking one up), a bare 5-6 digit string is read as a short code.
    """
    digits = raw.strip()
    is_short = digits.isascii() and digits.isdigit() and len(digits) in SHORT_CODE_DIGITS
    if kind == "short_code" and not is_short:
        raise ValidationFailed(f"{field}: a short code is 5 or 6 digits", field=field)
    if kind == "short_code" or (kind is None and is_short):
        return digits
    return parse_number(raw, field=field)


def create(data: Mapping[str, Any]) -> dict[str, Any]:
    kind = data.get("kind", "long_code")
    number = parse_business_number(data["number"], kind)
    now = datetime.now(UTC)
    texts = default_texts(data["name"])
    item = BusinessNumber(
        ACCOUNT,
        number,
        name=data["name"],
        kind=kind,
        origination_identity=data.get("origination_identity") or number,
        appended_message=data.get("appended_message"),
        help_text=data.get("help_text") or texts["help_text"],
        optout_text=data.get("optout_text") or texts["optout_text"],
        optout_text_es=data.get("optout_text_es"),
        optin_text=data.get("optin_text") or texts["optin_text"],
        optout_scope=data.get("optout_scope", "company"),
        campaign_id=data.get("campaign_id"),
        mps=data.get("mps"),
        created_at=now,
        updated_at=now,
    )
    _check_scope(item)
    try:
        item.save(condition=BusinessNumber.number.does_not_exist())
    except PutError as error:
        if condition_failed(error):
            raise Conflict(f"business number {number} already exists", field="number") from None
        raise
    return view(item)


REQUIRED_FIELDS = ("name", "origination_identity", "help_text", "optout_text", "optin_text", "optout_scope")


def update(raw_number: str, changes: Mapping[str, Any]) -> dict[str, Any]:
    for name in REQUIRED_FIELDS:
        if name in changes and changes[name] is None:
            raise ValidationFailed(f"{name} cannot be null", field=name)
    item = load(raw_number)
    for name, value in changes.items():
        setattr(item, name, value)
    _check_scope(item)
    item.updated_at = datetime.now(UTC)
    item.save()
    return view(item)


def list_all() -> list[dict[str, Any]]:
    return [view(item) for item in BusinessNumber.query(ACCOUNT)]


def load(raw_number: str) -> BusinessNumber:
    """The business number, given as E.164 (with or without +) or a short code."""
    key = parse_business_number(raw_number, field="business_number")
    try:
        return BusinessNumber.get(ACCOUNT, key)
    except BusinessNumber.DoesNotExist:
        raise NotFound(f"{key} is not one of this account's business numbers", field="business_number") from None


def _check_scope(item: BusinessNumber) -> None:
    """A number's default campaign must be one of its own: STOP there opts out of it."""
    if item.optout_scope == "campaign" and not item.campaign_id:
        raise ValidationFailed("campaign-scoped opt-outs need a campaign_id", field="campaign_id")
    if item.campaign_id is None:
        return
    try:
        campaign = Campaign.get(ACCOUNT, item.campaign_id)
    except Campaign.DoesNotExist:
        raise ValidationFailed(f"campaign_id: no campaign {item.campaign_id}", field="campaign_id") from None
    if campaign.business_number != item.number:
        raise ValidationFailed(
            f"campaign {item.campaign_id} texts from {campaign.business_number}, not {item.number}", field="campaign_id"
        )


def mps(item: BusinessNumber) -> int:
    return int(item.mps) if item.mps else DEFAULT_MPS.get(item.kind, 1)


def view(item: BusinessNumber) -> dict[str, Any]:
    return {
        "number": item.number,
        "name": item.name,
        "kind": item.kind,
        "origination_identity": item.origination_identity,
        "appended_message": item.appended_message,
        "help_text": item.help_text,
        "optout_text": item.optout_text,
        "optout_text_es": item.optout_text_es,
        "optin_text": item.optin_text,
        "optout_scope": item.optout_scope,
        "campaign_id": item.campaign_id,
        "mps": mps(item),
        "created_at": iso_z(item.created_at),
        "updated_at": iso_z(item.updated_at),
    }
