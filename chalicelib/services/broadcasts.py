"""Broadcasts: one text to many recipients (groups, campaign subscribers, numbers), sent in the background.

A request only validates and records the broadcast and queues its first
resolution step on the send queue; `broadcast_fanout` does the rest. The
response carries the segment preview of the template as typed (placeholders
unrendered: each recipient's text may differ once their values are filled in)
and the numbers that were not valid, which are reported and counted, never fatal.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.exceptions import UpdateError

from chalicelib import placeholders
from chalicelib.composition import compose
from chalicelib.errors import Conflict, NotFound, ValidationFailed
from chalicelib.ids import new_id
from chalicelib.models import Broadcast
from chalicelib.models.broadcasts import ID_PREFIX, TOTALS, InvalidNumber
from chalicelib.models.business_numbers import ACCOUNT
from chalicelib.models.contacts import sort_key
from chalicelib.models.writes import condition_failed
from chalicelib.queues import enqueue
from chalicelib.services import business_numbers, campaigns, contacts, groups
from chalicelib.services.paging import Page, decode_cursor, encode_cursor
from chalicelib.timestamps import iso_z

QUEUE_ENV = "SEND_QUEUE_URL"
RUNNING = ("scheduled", "resolving", "sending")
"""States a broadcast can be cancelled in; the others are final."""
PAST_TOLERANCE = timedelta(minutes=5)
"""A `send_at` this far in the past is a mistake, not "now": refuse it rather than send unexpectedly."""


def create(data: Mapping[str, Any], actor: str) -> dict[str, Any]:
    """Check everything a caller can get wrong now (a 4xx beats a broadcast that fails later), then queue it."""
    body = data["body"]
    placeholders.check(body, contacts.placeholder_names(), field="body")
    business = business_numbers.load(data["business_number"])
    composition = compose(body, business.appended_message)
    group_ids = list(dict.fromkeys(data.get("groups") or []))
    campaign_ids = list(dict.fromkeys(data.get("campaigns") or []))
    raw_numbers = data.get("numbers") or []
    if not (group_ids or campaign_ids or raw_numbers):
        raise ValidationFailed("give at least one recipient: groups, campaigns or numbers", field="numbers")
    _check_sources(group_ids, campaign_ids)
    given, invalid = _parse_numbers(raw_numbers)
    numbers = list(dict.fromkeys(given))
    send_at = _parse_send_at(data.get("send_at"))
    now = datetime.now(UTC)
    broadcast_id = new_id(ID_PREFIX)
    item = Broadcast(
        broadcast_id,
        created_key=sort_key(now.isoformat(), broadcast_id),
        body=body,
        business_number=business.number,
        groups=group_ids,
        campaigns=campaign_ids,
        numbers=numbers,
        invalid_numbers=[InvalidNumber(number=n, reason=r) for n, r in invalid],
        skipped_invalid=len(invalid),
        duplicates=len(given) - len(numbers),
        send_at=send_at,
        status="scheduled",
        encoding=composition.encoding,
        segments=composition.segments,
        characters=composition.characters,
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    item.save()
    enqueue(QUEUE_ENV, resolve_message(broadcast_id, 0, 0), delay_seconds=seconds_until(send_at))
    return view(item)


def _check_sources(group_ids: list[str], campaign_ids: list[str]) -> None:
    for position, group_id in enumerate(group_ids):
        try:
            groups.get_group(group_id)
        except NotFound as missing:
            raise NotFound(missing.message, field=f"groups.{position}") from None
    for position, campaign_id in enumerate(campaign_ids):
        try:
            campaigns.get_campaign(campaign_id)
        except NotFound as missing:
            raise NotFound(missing.message, field=f"campaigns.{position}") from None


def _parse_numbers(raw_numbers: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    numbers, invalid = [], []
    for position, raw in enumerate(raw_numbers):
        try:
            numbers.append(contacts.parse_number(raw, field=f"numbers.{position}"))
        except ValidationFailed as error:
            invalid.append((raw, error.message))
    return numbers, invalid


def _parse_send_at(raw: str | None) -> datetime | None:
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationFailed("send_at: not an ISO 8601 date and time", field="send_at") from None
    if moment.tzinfo is None:
        raise ValidationFailed("send_at: give a time zone offset (or Z for UTC)", field="send_at")
    moment = moment.astimezone(UTC)
    if moment < datetime.now(UTC) - PAST_TOLERANCE:
        raise ValidationFailed("send_at is in the past", field="send_at")
    return moment


def seconds_until(moment: datetime | None) -> int:
    if moment is None:
        return 0
    return max(0, int((moment - datetime.now(UTC)).total_seconds() + 0.999))


def resolve_message(broadcast_id: str, source: int, batches: int) -> dict[str, Any]:
    """The queue message for reading source number `source`; `batches` send batches are already queued."""
    return {"broadcast": broadcast_id, "step": "resolve", "source": source, "batches": batches}


def load(broadcast_id: str) -> Broadcast:
    try:
        return Broadcast.get(broadcast_id, consistent_read=True)
    except Broadcast.DoesNotExist:
        raise NotFound(f"no broadcast {broadcast_id}", field="broadcast_id") from None


def get(broadcast_id: str) -> dict[str, Any]:
    return view(load(broadcast_id))


def list_broadcasts(limit: int, cursor: str | None) -> Page:
    """Newest first, from the one index partition all broadcasts share (an account sends a few a day)."""
    params: dict[str, Any] = {}
    after = decode_cursor(cursor, params)
    condition = Broadcast.created_key < after if after else None
    results = Broadcast.by_created.query(
        ACCOUNT, range_key_condition=condition, scan_index_forward=False, limit=limit + 1
    )
    items = list(results)
    page, more = items[:limit], len(items) > limit
    return Page([view(item) for item in page], encode_cursor(page[-1].created_key, params) if more else None)


def cancel(broadcast_id: str) -> dict[str, Any]:
    """Stop a scheduled or running broadcast; workers see it at their next batch, sends already made stay made."""
    item = load(broadcast_id)
    now = datetime.now(UTC)
    try:
        item.update(
            actions=[Broadcast.status.set("cancelled"), Broadcast.finished_at.set(now), Broadcast.updated_at.set(now)],
            condition=Broadcast.status.is_in(*RUNNING),
        )
    except UpdateError as error:
        if condition_failed(error):
            raise Conflict(
                f"broadcast {broadcast_id} is {load(broadcast_id).status}; only a running one can be cancelled",
                field="broadcast_id",
            ) from None
        raise
    return view(item)


def view(item: Broadcast) -> dict[str, Any]:
    return {
        "id": item.id,
        "body": item.body,
        "business_number": item.business_number,
        "groups": list(item.groups or []),
        "campaigns": list(item.campaigns or []),
        "numbers": list(item.numbers or []),
        "invalid_numbers": [{"number": i.number, "reason": i.reason} for i in item.invalid_numbers or []],
        "send_at": iso_z(item.send_at),
        "status": item.status,
        "error": item.error,
        "preview": {"encoding": item.encoding, "segments": int(item.segments), "characters": int(item.characters)},
        "totals": {name: int(getattr(item, name) or 0) for name in TOTALS},
        "created_by": item.created_by,
        "created_at": iso_z(item.created_at),
        "updated_at": iso_z(item.updated_at),
        "started_at": iso_z(item.started_at),
        "finished_at": iso_z(item.finished_at),
    }
