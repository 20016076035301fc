"""The opt-out store: who may not be texted, in which scope, and every change ever made.

A change of state is one transaction: the store item, a history item and the
contact's opt-out view move together, so "opted out" can never be true in one
place and false in another, whoever races whom.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pynamodb.exceptions import UpdateError
from pynamodb.transactions import TransactWrite

from chalicelib.errors import ValidationFailed
from chalicelib.models import Contact, OptOut, OptOutHistory, OptOutMark
from chalicelib.models.contacts import sort_key
from chalicelib.models.optouts import (
    CAMPAIGN_PREFIX,
    COMPANY,
    EPOCH_KEYS,
    NUMBER_PREFIX,
    campaign_scope,
    epoch_key,
    number_scope,
)
from chalicelib.models.writes import ATTEMPTS, Writer, backoff, condition_failed, write_transaction
from chalicelib.phone import mask
from chalicelib.services.contacts import parse_number, upsert_actions
from chalicelib.services.paging import Page, decode_cursor, encode_cursor
from chalicelib.timestamps import iso_z

Source = Literal["keyword", "agent", "manual", "import", "carrier"]


@dataclass(frozen=True)
class Scope:
    """Company-wide (neither set), one campaign, or one business number (a STOP texted to it)."""

    campaign_id: str | None = None
    business_number: str | None = None

    @property
    def key(self) -> str:
        if self.business_number is not None:
            return number_scope(self.business_number)
        return COMPANY if self.campaign_id is None else campaign_scope(self.campaign_id)

    @classmethod
    def from_key(cls, key: str) -> Scope:
        if key.startswith(NUMBER_PREFIX):
            return cls(business_number=key.removeprefix(NUMBER_PREFIX))
        return cls(None if key == COMPANY else key.removeprefix(CAMPAIGN_PREFIX))

    def describe(self) -> str:
        if self.business_number is not None:
            return f"of {self.business_number}"
        return "company-wide" if self.campaign_id is None else f"of campaign {self.campaign_id}"


@dataclass(frozen=True)
class Once:
    """A write that lets a change happen once only (an inbound message acted on), and how to tell it did."""

    write: Writer
    done: Callable[[], bool]


def opt_out(number: str, scope: Scope, *, source: Source, actor: str, reason: str | None = None) -> bool:
    """Opt `number` out in `scope`; False when it already was (nothing is written then)."""
    return bool(change(number, "opt_out", [scope], source=source, actor=actor, reason=reason))


def opt_in(number: str, scope: Scope, *, source: Source, actor: str, reason: str | None = None) -> bool:
    """Remove the opt-out in `scope`; False when there was none."""
    return bool(change(number, "opt_in", [scope], source=source, actor=actor, reason=reason))


def change(
    number: str,
    action: Literal["opt_out", "opt_in"],
    scopes: Sequence[Scope],
    *,
    source: Source,
    actor: str,
    reason: str | None,
    stop_from: str | None = None,
    once: Once | None = None,
) -> list[Scope]:
    """Move every scope of `scopes` not yet in the wanted state, in one transaction; the scopes it moved.

    One transaction, so a STOP that silences a number and the campaigns it
    covers can never land half. Each opt-out it writes names `stop_from`, the
    number the person asked to stop: START to that number lifts exactly those
    (services/consent.py), and the first scope moved is the one whose
    confirmation that number may send. `once`, when given, joins the
    transaction; if it was already taken nothing is written and nothing is
    returned.
    """
    for attempt in range(ATTEMPTS):
        present = current(number)
        wanted = [s for s in dict.fromkeys(scopes) if (s.key in present) is (action == "opt_in")]
        if not wanted:
            return []
        now = datetime.now(UTC)
        writes = _writes(number, wanted, action, source, actor, reason, now, stop_from)

        def write(tx: TransactWrite, writes: Writer = writes) -> None:
            writes(tx)
            epoch_writes([number])(tx)
            if once is not None:
                once.write(tx)

        if not write_transaction(write):
            return wanted
        if once is not None and once.done():
            return []
        backoff(attempt)
    raise RuntimeError(f"the opt-outs of {mask(number)} kept changing while they were changed")


def current(number: str) -> dict[str, OptOut]:
    """Every opt-out of `number` now, by scope key (one consistent Query)."""
    return {item.scope: item for item in OptOut.query(number, consistent_read=True)}


def opt_out_writes(number: str, scope: Scope, source: Source, actor: str, reason: str | None, now: datetime) -> Writer:
    """The writes of one opt-out (store, history, mark, contact view), for a transaction that also holds its epoch.

    The store's write is conditioned on no opt-out existing yet, so a
    transaction holding it fails rather than record an opt-out twice. The
    epoch counter is left to the caller (`epoch_writes`), because a
    transaction of several opt-outs may touch each counter only once.
    """
    return _writes(number, [scope], "opt_out", source, actor, reason, now, None)


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
    scopes: Sequence[Scope],
    action: str,
    source: Source,
    actor: str,
    reason: str | None,
    now: datetime,
    stop_from: str | None,
) -> Writer:
    opting_out = action == "opt_out"
    history = [
        OptOutHistory(
            number,
            sort_key(now.isoformat(), uuid.uuid4().hex),
            action=action,
            scope=scope.key,
            source=source,
            actor=actor,
            reason=reason,
            at=now,
        )
        for scope in scopes
    ]
    contact_actions = _contact_actions(number, now, scopes, opted_out=opting_out)

    def record(scope: Scope) -> OptOut:
        return OptOut(
            number,
            scope.key,
            source=source,
            actor=actor,
            reason=reason,
            created_at=now,
            created_key=sort_key(now.isoformat(), number),
            stop_from=stop_from,
        )

    def write(tx: TransactWrite) -> None:
        for scope in scopes:
            if opting_out:
                tx.save(record(scope), condition=OptOut.number.does_not_exist())
            else:
                tx.delete(OptOut(number, scope.key), condition=OptOut.number.exists())
        for item in history:
            tx.save(item)
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


def epochs() -> dict[str, int]:
    """Every epoch counter now (consistent reads); a shard no opt-out has touched yet is absent."""
    return {mark.number: int(mark.changes) for mark in OptOutMark.batch_get(list(EPOCH_KEYS), consistent_read=True)}


def _contact_actions(number: str, now: datetime, scopes: Sequence[Scope], *, opted_out: bool) -> list[Any]:
    """Create the contact if needed and bring its opt-out view in line with the store."""
    company = any(scope.key == COMPANY for scope in scopes)
    status = "opted_out" if opted_out else "opted_in"
    actions = upsert_actions(number, now, opt_status=status if company else None)
    for attribute, values in (
        (Contact.opted_out_campaigns, {s.campaign_id for s in scopes if s.campaign_id is not None}),
        (Contact.opted_out_numbers, {s.business_number for s in scopes if s.business_number is not None}),
    ):
        if values:
            actions.append(attribute.add(values) if opted_out else attribute.delete(values))
    return actions


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
        scopes = [Scope.from_key(key) for key in current(number)]
        campaigns = {scope.campaign_id for scope in scopes if scope.campaign_id is not None}
        numbers = {scope.business_number for scope in scopes if scope.business_number is not None}
        opted_out = any(scope.key == COMPANY for scope in scopes)
        actions = [Contact.opt_status.set("opted_out" if opted_out else "opted_in")]
        for attribute, values in ((Contact.opted_out_campaigns, campaigns), (Contact.opted_out_numbers, numbers)):
            actions.append(attribute.set(values) if values else attribute.remove())
        try:
            contact.update(actions=actions)
        except UpdateError as error:
            if not condition_failed(error):
                raise
            backoff(attempt)
        else:
            return
    raise RuntimeError(f"the contact {mask(number)} kept changing while its opt-out view was restored")


def confirmation_claim(number: str, scope: Scope, business_number: str) -> Writer:
    """Take the one confirmation an opt-out allows, from the number it was asked of: a transaction's update.

    Its condition fails when there is no such opt-out, it was confirmed
    already, or another number (or nobody: a manual opt-out) may confirm it.
    """

    def write(tx: TransactWrite) -> None:
        tx.update(
            OptOut(number, scope.key),
            actions=[OptOut.confirmation_sent.set(True)],
            condition=OptOut.number.exists()
            & (OptOut.confirmation_sent != True)  # noqa: E712
            & (OptOut.stop_from == business_number),
        )

    return write


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


def scope_kind(scope: Scope) -> str:
    if scope.business_number is not None:
        return "number"
    return "company" if scope.campaign_id is None else "campaign"


def _scope_view(key: str) -> dict[str, Any]:
    return scope_view(Scope.from_key(key))


def scope_view(scope: Scope) -> dict[str, Any]:
    return {"scope": scope_kind(scope), "campaign_id": scope.campaign_id, "business_number": scope.business_number}
