"""The opt-out store: who may not be texted, in which scope, and every change ever made.

A change of state is one transaction: the store item, a history item and the
contact's opt-out view move together, so "opted out" can never be true in one
place and false in another, whoever races whom.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pynamodb.exceptions import UpdateError
from pynamodb.transactions import TransactWrite

from chalicelib.errors import ValidationFailed
from chalicelib.models import Contact, OptOut, OptOutHistory, OptOutMark
from chalicelib.models.contacts import sort_key
from chalicelib.models.optouts import COMPANY, EPOCH_KEYS, campaign_scope, epoch_key
from chalicelib.models.writes import ATTEMPTS, Writer, backoff, condition_failed, write_transaction
from chalicelib.phone import mask
from chalicelib.services.contacts import parse_number, upsert_actions
from chalicelib.services.paging import Page, decode_cursor, encode_cursor
from chalicelib.timestamps import iso_z

Source = Literal["keyword", "manual", "import", "carrier"]


@dataclass(frozen=True)
class Scope:
    """Company-wide (campaign_id None) or one campaign."""

    campaign_id: str | None = None

    @property
    def key(self) -> str:
        return COMPANY if self.campaign_id is None else campaign_scope(self.campaign_id)

    @classmethod
    def from_key(cls, key: str) -> Scope:
        return cls(None if key == COMPANY else key.removeprefix("campaign#"))


def opt_out(number: str, scope: Scope, *, source: Source, actor: str, reason: str | None = None) -> bool:
    """Opt `number` out in `scope`; False when it already was (nothing is written then)."""
    return _commit(number, opt_out_writes(number, scope, source, actor, reason, datetime.now(UTC)))


def opt_out_writes(number: str, scope: Scope, source: Source, actor: str, reason: str | None, now: datetime) -> Writer:
    """The writes of one opt-out (store, history, mark, contact view), for a transaction that also holds its epoch.

    The store's write is conditioned on no opt-out existing yet, so a
    transaction holding it fails rather than record an opt-out twice. The
    epoch counter is left to the caller (`epoch_writes`), because a
    transaction of several opt-outs may touch each counter only once.
    """
    record = OptOut(
        number,
        scope.key,
        source=source,
        actor=actor,
        reason=reason,
        created_at=now,
        created_key=sort_key(now.isoformat(), number),
    )
    return _writes(number, scope, "opt_out", source, actor, reason, now, store=record)


def opt_in(number: str, scope: Scope, *, source: Source, actor: str, reason: str | None = None) -> bool:
    """Remove the opt-out in `scope`; False when there was none."""
    return _commit(number, _writes(number, scope, "opt_in", source, actor, reason, datetime.now(UTC), store=None))


def opt_out_numbers(
    raw_numbers: Sequence[str], scope: Scope, *, source: Source, actor: str, reason: str | None
) -> list[dict[str, str]]:
    """Opt out each number, reporting one result per input; a bad number loses none of the others."""
    results = []
    for position, raw in enumerate(raw_numbers):
        try:
            number = parse_number(raw, field=f"numbers.{position}")
        except ValidationFailed as error:
            results.append({"number": raw, "result": "rejected", "reason": error.message})
            continue
        changed = opt_out(number, scope, source=source, actor=actor, reason=reason)
        results.append({"number": number, "result": "opted_out" if changed else "already_opted_out"})
    return results


def _writes(
    number: str,
    scope: Scope,
    action: str,
    source: Source,
    actor: str,
    reason: str | None,
    now: datetime,
    store: OptOut | None,
) -> Writer:
    history = OptOutHistory(
        number,
        sort_key(now.isoformat(), uuid.uuid4().hex),
        action=action,
        scope=scope.key,
        source=source,
        actor=actor,
        reason=reason,
        at=now,
    )
    contact_actions = _contact_actions(number, now, scope, opted_out=store is not None)

    def write(tx: TransactWrite) -> None:
        if store is not None:
            tx.save(store, condition=OptOut.number.does_not_exist())
        else:
            tx.delete(OptOut(number, scope.key), condition=OptOut.number.exists())
        tx.save(history)
        tx.save(OptOutMark(number, at=now))
        tx.update(Contact(number), actions=contact_actions, add_version_condition=False)

    return write


def epoch_writes(numbers: Iterable[str]) -> Writer:
    """Move the epoch counter of each shard `numbers` fall in, once: what every opt-out change's transaction holds."""
    keys = sorted({epoch_key(number) for number in numbers})

    def write(tx: TransactWrite) -> None:
        for key in keys:
            tx.update(OptOutMark(key), actions=[OptOutMark.changes.add(1)])

    return write


def _commit(number: str, writes: Writer) -> bool:
    """One opt-out change and the epoch counter it moves, as one transaction; False when its condition failed."""

    def write(tx: TransactWrite) -> None:
        writes(tx)
        epoch_writes([number])(tx)

    return not write_transaction(write)


def epochs() -> dict[str, int]:
    """Every epoch counter now (consistent reads); a shard no opt-out has touched yet is absent."""
    return {mark.number: int(mark.changes) for mark in OptOutMark.batch_get(list(EPOCH_KEYS), consistent_read=True)}


def _contact_actions(number: str, now: datetime, scope: Scope, *, opted_out: bool) -> list[Any]:
    """Create the contact if needed and bring its opt-out view in line with the store."""
    if scope.campaign_id is None:
        return upsert_actions(number, now, opt_status="opted_out" if opted_out else "opted_in")
    campaigns = {scope.campaign_id}
    view = Contact.opted_out_campaigns.add(campaigns) if opted_out else Contact.opted_out_campaigns.delete(campaigns)
    return [*upsert_actions(number, now), view]


def marked(numbers: Sequence[str]) -> set[str]:
    """The numbers among `numbers` that have ever had an opt-out change recorded (consistent reads)."""
    if not numbers:
        return set()
    return {mark.number for mark in OptOutMark.batch_get(list(numbers), consistent_read=True)}


def restore_view(number: str) -> None:
    """Rewrite a contact's opt-out view from the store, for a contact written without regard to it.

    Conditioned on the contact's version, so an opt-out landing meanwhile
    (which writes the view itself) sends this round again with its change in.
    """
    for attempt in range(ATTEMPTS):
        contact = Contact.get(number, consistent_read=True)
        scopes = [Scope.from_key(item.scope) for item in OptOut.query(number, consistent_read=True)]
        campaigns = {scope.campaign_id for scope in scopes if scope.campaign_id is not None}
        opted_out = any(scope.campaign_id is None for scope in scopes)
        actions = [
            Contact.opt_status.set("opted_out" if opted_out else "opted_in"),
            Contact.opted_out_campaigns.set(campaigns) if campaigns else Contact.opted_out_campaigns.remove(),
        ]
        try:
            contact.update(actions=actions)
        except UpdateError as error:
            if not condition_failed(error):
                raise
            backoff(attempt)
        else:
            return
    raise RuntimeError(f"the contact {mask(number)} kept changing while its opt-out view was restored")


def refusing_scope(contact: Contact, campaign_id: str | None) -> Scope | None:
    """The opt-out that forbids a message for `campaign_id` (None: not for a campaign), if any.

    Read from the contact: its opt-out view is written in the same transaction
    as the store, so the one GetItem the guard already makes is the whole answer.
    """
    if contact.opt_status == "opted_out":
        return Scope()
    if campaign_id is not None and campaign_id in (contact.opted_out_campaigns or set()):
        return Scope(campaign_id)
    return None


def claim_confirmation(number: str, scope: Scope) -> bool:
    """Atomically take the one confirmation an opt-out allows; False if taken or not opted out."""
    try:
        OptOut(number, scope.key).update(
            actions=[OptOut.confirmation_sent.set(True)],
            condition=OptOut.number.exists() & (OptOut.confirmation_sent != True),  # noqa: E712
        )
    except UpdateError as error:
        if condition_failed(error):
            return False
        raise
    return True


def history(number: str) -> list[dict[str, Any]]:
    return [
        {
            "action": item.action,
            **_scope_view(item.scope),
            "source": item.source,
            "actor": item.actor,
            "reason": item.reason,
            "at": iso_z(item.at),
        }
        for item in OptOutHistory.query(number, scan_index_forward=True)
    ]


def list_optouts(scope: Scope, limit: int, cursor: str | None) -> Page:
    params = {"scope": scope.key}
    after = decode_cursor(cursor, params)
    condition = OptOut.created_key < after if after else None
    results = OptOut.by_scope.query(scope.key, range_key_condition=condition, scan_index_forward=False, limit=limit + 1)
    items = list(results)
    page, more = items[:limit], len(items) > limit
    return Page(
        [_view(item) for item in page],
        encode_cursor(page[-1].created_key, params) if more else None,
    )


def _view(item: OptOut) -> dict[str, Any]:
    return {
        "number": item.number,
        **_scope_view(item.scope),
        "source": item.source,
        "actor": item.actor,
        "reason": item.reason,
        "created_at": iso_z(item.created_at),
    }


def _scope_view(key: str) -> dict[str, Any]:
    campaign_id = Scope.from_key(key).campaign_id
    return {"scope": "company" if campaign_id is None else "campaign", "campaign_id": campaign_id}
