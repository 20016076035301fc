"""A broadcast's work in the background: resolve its recipients into send batches, then send each batch.

Both steps travel on the send queue, so both may run twice (SQS delivers at
least once, and a worker that dies leaves its message to be redelivered).
They are written to make a second run harmless:

- Resolution reads one source (the numbers given, a group, a campaign's
  subscribers) per message, in pages, and queues batches of `SEND_BATCH`
  numbers with ids derived from their position; a rerun queues the same
  batches again.
- A send batch first reads its recipients' items (one BatchGetItem per 100).
  A number is claimed by a conditional create of its recipient item just
  before it is handed over, so a number already claimed (by another source of the
  same broadcast, or by an earlier run of this batch) is never sent again.
  The one recipient a dead worker can leave in `sending` is unknowable: the
  carrier may or may not have it. A rerun marks it failed ("interrupted")
  rather than send it again: at most once is the safe answer for texts
  people pay for and can't unsend. (Infra's visibility timeout is six times
  the worker timeout, so a redelivered batch's first run is over.)
- A finished batch adds its outcome to the broadcast's totals once: the
  update is conditional on the batch id not yet being in `settled_batches`,
  and the outcome is read from the recipient items, so it is the same
  whichever run settles it.

Opt-outs, blocks and inactive contacts are checked with the one guard twice:
early, in chunks of at most one second's allowance (`outbound.check_all`), so
the refused are skipped before any wait and the contacts read are the ones the
text is rendered from; and finally in the transaction that claims the
recipient, after the pacing wait and right before the hand-over, so an opt-out
that lands while a number waits for its turn always wins. Messages are stored in the broadcast's own thread
(its id), not in a conversation per recipient: a broadcast to 10,000 people
does not open 10,000 conversations, and a reply opens one as usual.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import PutError, UpdateError
from pynamodb.transactions import TransactWrite

from chalicelib import placeholders
from chalicelib.errors import NotFound
from chalicelib.models import Broadcast, BroadcastRecipient, BusinessNumber
from chalicelib.models.business_numbers import ACCOUNT
from chalicelib.models.writes import Writer, condition_failed
from chalicelib.observability import logger
from chalicelib.queues import enqueue, enqueue_all
from chalicelib.services import business_numbers, campaigns, contacts, groups, outbound
from chalicelib.services.broadcasts import QUEUE_ENV, resolve_message, seconds_until
from chalicelib.services.send_rate import SendRate

SEND_BATCH = 100
"""Numbers per send message: one BatchGetItem reads all their recipient items."""
RESOLVE_PAGE = 1000
"""Members read per Query while resolving: resolution costs one request per thousand recipients."""
SEND_ATTEMPTS = 3
SKIP_TOTALS = {"opted_out": "skipped_opted_out", "blocked": "skipped_blocked", "inactive": "skipped_inactive"}
STOPPED = ("cancelled", "failed", "done")

Source = tuple[str, str | None]
"""("numbers", None), ("group", id) or ("campaign", id)."""


def handle(message: dict[str, Any], time_left: Callable[[], float]) -> None:
    """Run one queue message; `time_left` is the seconds the worker may still spend."""
    if message["step"] == "resolve":
        resolve(message["broadcast"], message["source"], message["batches"])
    else:
        send_batch(message, time_left)


def sources(item: Broadcast) -> list[Source]:
    return [
        ("numbers", None),
        *(("group", group_id) for group_id in item.groups or []),
        *(("campaign", campaign_id) for campaign_id in item.campaigns or []),
    ]


def resolve(broadcast_id: str, source: int, batches: int) -> None:
    """Queue the send batches of one source, then the step for the next (or mark resolution finished)."""
    item = Broadcast.get(broadcast_id, consistent_read=True)
    if item.status in (*STOPPED, "sending"):
        return
    if item.status == "scheduled":
        wait = seconds_until(item.send_at)
        if wait > 0:
            enqueue(QUEUE_ENV, resolve_message(broadcast_id, source, batches), delay_seconds=wait)
            return
        if not _start(item):
            return
    chain = sources(item)
    if source >= len(chain):
        _finish_resolving(item, batches)
        return
    kind, source_id = chain[source]
    campaign_id = source_id if kind == "campaign" else None
    queued = 0
    pending: list[dict[str, Any]] = []
    for page in _pages(item, kind, source_id):
        for start in range(0, len(page), SEND_BATCH):
            pending.append(
                {
                    "broadcast": broadcast_id,
                    "step": "send",
                    "batch": f"{source}.{queued}",
                    "campaign_id": campaign_id,
                    "numbers": page[start : start + SEND_BATCH],
                }
            )
            queued += 1
        enqueue_all(QUEUE_ENV, pending)
        pending = []
    enqueue(QUEUE_ENV, resolve_message(broadcast_id, source + 1, batches + queued))


def _pages(item: Broadcast, kind: str, source_id: str | None) -> Iterator[list[str]]:
    """Pages of numbers from one source; a group or campaign deleted since the broadcast was made gives none."""
    if kind == "numbers":
        numbers = list(item.numbers or [])
        for start in range(0, len(numbers), RESOLVE_PAGE):
            yield numbers[start : start + RESOLVE_PAGE]
        return
    assert source_id is not None
    read = groups.member_numbers if kind == "group" else campaigns.subscriber_numbers
    try:
        yield from read(source_id, page_size=RESOLVE_PAGE)
    except NotFound:
        logger.warning("broadcast source is gone", extra={"broadcast_id": item.id, "kind": kind, "id": source_id})


def _start(item: Broadcast) -> bool:
    now = datetime.now(UTC)
    try:
        item.update(
            actions=[Broadcast.status.set("resolving"), Broadcast.started_at.set(now), Broadcast.updated_at.set(now)],
            condition=Broadcast.status == "scheduled",
        )
    except UpdateError as error:
        if condition_failed(error):
            return Broadcast.get(item.id, consistent_read=True).status == "resolving"
        raise
    return True


def _finish_resolving(item: Broadcast, batches: int) -> None:
    try:
        item.update(
            actions=[
                Broadcast.status.set("sending"),
                Broadcast.batches_total.set(batches),
                Broadcast.updated_at.set(datetime.now(UTC)),
            ],
            condition=Broadcast.status == "resolving",
        )
    except UpdateError as error:
        if condition_failed(error):
            return
        raise
    _close_if_settled(item)


def send_batch(message: dict[str, Any], time_left: Callable[[], float]) -> None:
    """Send one batch; if time runs short, queue the same batch again to carry on where this run stopped.

    Each run sends at least one chunk before it looks at the clock, so a
    batch always moves forward, however little time a run is given.
    """
    broadcast_id, batch = message["broadcast"], message["batch"]
    item = Broadcast.get(broadcast_id, consistent_read=True)
    if item.status in STOPPED or batch in (item.settled_batches or set()):
        return
    try:
        business = BusinessNumber.get(ACCOUNT, item.business_number)
    except BusinessNumber.DoesNotExist:
        _fail(item, f"business number {item.business_number} no longer exists")
        return
    numbers = list(dict.fromkeys(message["numbers"]))
    known = _recipients(broadcast_id, numbers)
    for recipient in known.values():
        if recipient.batch == batch and recipient.state == "sending":
            _move(recipient, "failed", reason="interrupted: the worker stopped after claiming it; not sent again")
    fresh = [number for number in numbers if number not in known]
    mps = business_numbers.mps(business)
    rate = SendRate(business.number, mps)
    chunk = max(1, min(SEND_BATCH, mps))
    campaign_id = message.get("campaign_id") or business.campaign_id
    for start in range(0, len(fresh), chunk):
        if start and time_left() <= 0:
            enqueue(QUEUE_ENV, message)
            return
        outgoings = [
            outbound.Outgoing(
                broadcast_id, number, business, item.body, outbound.Purpose.BROADCAST, item.created_by,
                campaign_id=campaign_id,
            )
            for number in fresh[start : start + chunk]
        ]  # fmt: skip
        checked = outbound.check_all(outgoings)
        for handed in outbound.send_each(
            checked,
            _renderer(item.body),
            pace=rate.acquire,
            claim=lambda checked: _claim(broadcast_id, batch, checked.outgoing.contact_number),
            attempts=SEND_ATTEMPTS,
        ):
            _record(broadcast_id, batch, handed)
    _settle(item, batch, message["numbers"])


def _recipients(broadcast_id: str, numbers: Sequence[str]) -> dict[str, BroadcastRecipient]:
    keys = [(broadcast_id, number) for number in numbers]
    return {r.number: r for r in BroadcastRecipient.batch_get(keys, consistent_read=True)}


def _claim(broadcast_id: str, batch: str, number: str) -> Writer:
    """Take the number for this batch, to send it: fails when another batch or run has it already."""
    recipient = BroadcastRecipient(broadcast_id, number, state="sending", batch=batch, updated_at=datetime.now(UTC))

    def write(tx: TransactWrite) -> None:
        tx.save(recipient, condition=BroadcastRecipient.number.does_not_exist())

    return write


def _unsent(broadcast_id: str, batch: str, number: str, state: str, reason: str) -> None:
    """Record why the number was never handed over, unless another batch or run has it already."""
    recipient = BroadcastRecipient(
        broadcast_id, number, state=state, batch=batch, reason=reason, updated_at=datetime.now(UTC)
    )
    try:
        recipient.save(condition=BroadcastRecipient.number.does_not_exist())
    except PutError as error:
        if not condition_failed(error):
            raise


def _renderer(template: str) -> Callable[[outbound.Checked], str]:
    def render(checked: outbound.Checked) -> str:
        contact = checked.contact
        values = contacts.values_of(contact) if contact is not None else {"number": checked.outgoing.contact_number}
        return placeholders.render(template, values)

    return render


def _record(broadcast_id: str, batch: str, handed: outbound.Handed) -> None:
    number = handed.checked.outgoing.contact_number
    if handed.status == "taken":
        return
    if handed.refusal is not None:
        _unsent(broadcast_id, batch, number, "skipped", handed.refusal.code)
        return
    if handed.message is None:
        _unsent(broadcast_id, batch, number, "failed", f"{handed.status}: {handed.error}")
        return
    recipient = BroadcastRecipient(broadcast_id, number)
    state = "sent" if handed.status == "sent" else "failed"
    reason = None if state == "sent" else f"{handed.status}: {handed.error}"
    _move(
        recipient,
        state,
        reason=reason,
        message_id=handed.message.id if handed.message is not None else None,
        attempts=handed.attempts,
    )


def _move(
    recipient: BroadcastRecipient,
    state: str,
    *,
    reason: str | None = None,
    message_id: str | None = None,
    attempts: int | None = None,
) -> bool:
    """sending -> a final state; False when something else already settled it."""
    actions = [BroadcastRecipient.state.set(state), BroadcastRecipient.updated_at.set(datetime.now(UTC))]
    if reason is not None:
        actions.append(BroadcastRecipient.reason.set(reason))
    if message_id is not None:
        actions.append(BroadcastRecipient.message_id.set(message_id))
    if attempts is not None:
        actions.append(BroadcastRecipient.attempts.set(attempts))
    try:
        recipient.update(actions=actions, condition=BroadcastRecipient.state == "sending")
    except UpdateError as error:
        if condition_failed(error):
            return False
        raise
    return True


def _settle(item: Broadcast, batch: str, numbers: Sequence[str]) -> None:
    """Add the batch's outcome to the totals, once, read from its recipient items."""
    unique = list(dict.fromkeys(numbers))
    outcome: Counter[str] = Counter(duplicates=len(numbers) - len(unique))
    for recipient in _recipients(item.id, unique).values():
        if recipient.batch != batch:
            outcome["duplicates"] += 1
            continue
        outcome["recipients"] += 1
        if recipient.state == "skipped":
            outcome[SKIP_TOTALS.get(recipient.reason or "", "skipped_opted_out")] += 1
        elif recipient.state in ("sent", "failed"):
            outcome[recipient.state] += 1
    actions = [getattr(Broadcast, name).add(count) for name, count in outcome.items() if count]
    actions += [Broadcast.settled_batches.add({batch}), Broadcast.updated_at.set(datetime.now(UTC))]
    try:
        item.update(actions=actions, condition=~Broadcast.settled_batches.contains(batch))
    except UpdateError as error:
        if condition_failed(error):
            return
        raise
    _close_if_settled(item)


def _close_if_settled(item: Broadcast) -> None:
    """Mark the broadcast done once resolution has finished and every batch it queued is settled."""
    if item.status != "sending" or item.batches_total is None:
        return
    if len(item.settled_batches or set()) < int(item.batches_total):
        return
    now = datetime.now(UTC)
    try:
        item.update(
            actions=[Broadcast.status.set("done"), Broadcast.finished_at.set(now), Broadcast.updated_at.set(now)],
            condition=Broadcast.status == "sending",
        )
    except UpdateError as error:
        if not condition_failed(error):
            raise
        return
    logger.info("broadcast done", extra={"broadcast_id": item.id, "sent": int(item.sent or 0)})


def _fail(item: Broadcast, reason: str) -> None:
    now = datetime.now(UTC)
    item.update(actions=[Broadcast.status.set("failed"), Broadcast.error.set(reason), Broadcast.finished_at.set(now)])
