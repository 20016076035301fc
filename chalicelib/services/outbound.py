"""The one way a message leaves: every send, on every path, goes through `send` or `send_each`.

Both apply the one opt-out guard (`check_all`) before anything is stored or
handed to a transport. Nothing else in the code base imports a transport, and
a test drives every send path with an opted-out number to prove it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum

from pynamodb.attributes import NumberAttribute
from pynamodb.exceptions import UpdateError
from pynamodb.transactions import TransactWrite

from chalicelib.composition import compose
from chalicelib.errors import ApiError
from chalicelib.models import Broadcast, BusinessNumber, Contact, Message
from chalicelib.models.broadcasts import is_broadcast_id
from chalicelib.models.messages import STATUS_RANK, Media
from chalicelib.models.writes import condition_failed, write_transaction
from chalicelib.observability import logger
from chalicelib.phone import mask
from chalicelib.services import conversations, optouts
from chalicelib.transport.base import OutboundSms, TransportError
from chalicelib.transport.registry import get_transport

RETRY_BASE_SECONDS = 0.25
"""First pause before retrying a transient transport failure; it doubles (with jitter) each attempt."""
NEGATIVE_RECEIPTS = frozenset({"failed", "undelivered", "blocked"})


class Purpose(Enum):
    """Why a message is sent; it decides which opt-out rules apply."""

    AGENT = "agent"
    """Replies and new conversations from people using the API."""
    BROADCAST = "broadcast"
    OPT_IN_CONFIRMATION = "opt_in_confirmation"
    HELP = "help"
    """Answer to HELP/INFO: allowed even when opted out, because the person asked."""
    OPT_OUT_CONFIRMATION = "opt_out_confirmation"
    """The single confirmation an opt-out allows, and only that one."""


class SendRefused(ApiError):
    status = 409
    code = "recipient_opted_out"


@dataclass(frozen=True)
class Outgoing:
    conversation_id: str
    contact_number: str
    business: BusinessNumber
    body: str
    purpose: Purpose
    sender: str
    media: Sequence[Media] = ()
    campaign_id: str | None = None
    optout_scope: optouts.Scope | None = None
    """For OPT_OUT_CONFIRMATION: the opt-out being confirmed."""


@dataclass(frozen=True)
class Refusal:
    code: str
    """blocked, opted_out or confirmation_taken: what a broadcast counts a skip as."""
    message: str


@dataclass(frozen=True)
class Checked:
    """One outgoing message after the guard, with the contact the guard read (None: no such contact)."""

    outgoing: Outgoing
    contact: Contact | None
    refusal: Refusal | None


def check_all(outgoings: Sequence[Outgoing]) -> list[Checked]:
    """The one opt-out guard: why each message may not be sent, from one consistent BatchGetItem per 100 numbers.

    The contact carries its opt-out view (written in the same transaction as
    the store) and `blocked`, so this read is the whole answer; reading it in
    batches is what lets a broadcast check 100 recipients per request, and the
    contacts it returns are what the caller renders placeholders from.
    """
    numbers = {outgoing.contact_number for outgoing in outgoings}
    found = {contact.number: contact for contact in Contact.batch_get(numbers, consistent_read=True)}
    return [
        Checked(outgoing, found.get(outgoing.contact_number), _refusal(outgoing, found.get(outgoing.contact_number)))
        for outgoing in outgoings
    ]


def guard_all(outgoings: Sequence[Outgoing]) -> list[str | None]:
    return [None if checked.refusal is None else checked.refusal.message for checked in check_all(outgoings)]


def guard(outgoing: Outgoing) -> str | None:
    """Why `outgoing` must not be sent, or None when it may be."""
    return guard_all([outgoing])[0]


def _refusal(outgoing: Outgoing, contact: Contact | None) -> Refusal | None:
    number = outgoing.contact_number
    if contact is not None and contact.blocked:
        return Refusal("blocked", f"{number} is blocked")
    if outgoing.purpose is Purpose.OPT_OUT_CONFIRMATION:
        scope = outgoing.optout_scope or optouts.Scope()
        if optouts.claim_confirmation(number, scope):
            return None
        return Refusal("confirmation_taken", f"{number} has already been sent the confirmation of its opt-out")
    if outgoing.purpose is Purpose.HELP:
        return None
    refusing = optouts.refusing_scope(contact, outgoing.campaign_id) if contact is not None else None
    if refusing is not None:
        scope = "company-wide" if refusing.campaign_id is None else f"of campaign {refusing.campaign_id}"
        return Refusal("opted_out", f"{number} has opted out {scope}; no message may be sent until they opt back in")
    return None


def send(outgoing: Outgoing) -> Message:
    """Guard, store, hand to the transport, record the outcome; raises SendRefused when guarded."""
    refusal = guard(outgoing)
    if refusal is not None:
        logger.info("send refused", extra={"to": mask(outgoing.contact_number), "purpose": outgoing.purpose.value})
        raise SendRefused(refusal, field="contact_number")
    composition = compose(outgoing.body, outgoing.business.appended_message, allow_empty=bool(outgoing.media))
    now = datetime.now(UTC)
    message = Message.new(
        outgoing.conversation_id,
        now,
        direction="outbound",
        body=composition.text,
        media=list(outgoing.media),
        status="queued",
        contact_number=outgoing.contact_number,
        business_number=outgoing.business.number,
        sender=outgoing.sender,
        encoding=composition.encoding,
        segments=composition.segments,
    )
    by_agent = outgoing.purpose is Purpose.AGENT
    conversations.append(
        outgoing.conversation_id,
        message,
        unread=False if by_agent else None,
        participant=outgoing.sender if by_agent else None,
    )
    handover = _hand_to_transport(message, outgoing)
    if handover.provider_message_id is not None:
        message.provider_message_id = handover.provider_message_id
    update_status(message, handover.status, error=handover.error, provider_message_id=handover.provider_message_id)
    return message


@dataclass(frozen=True)
class Handed:
    """What became of one message of `send_each`."""

    checked: Checked
    status: str
    """sent, failed or blocked (the transport refused and said why), or refused (the guard did)."""
    message: Message | None = None
    attempts: int = 0
    error: str | None = None


def send_each(
    checked: Iterable[Checked],
    render: Callable[[Checked], str],
    *,
    pace: Callable[[int], None],
    attempts: int = 3,
) -> Iterator[Handed]:
    """The batch form of `send` for broadcasts: one message at a time, each outcome yielded as soon as it is known.

    `checked` must come from `check_all`: a refused message is yielded as such
    and never composed, stored or handed over. The others are rendered from
    the contact the guard read, handed to the transport after `pace(parts)`
    has made room under the sender's rate (transient failures are retried
    with backoff up to `attempts` times), and stored once, with its outcome,
    in the thread their `conversation_id` names (a broadcast's own, not a
    conversation: nothing is appended to or opened in the inbox). One write
    per message instead of two matters at 10,000 recipients; a worker that
    dies between hand-over and write loses only that record, which the
    caller's own claim already marks as unknown. Yielding one by one lets the
    caller record each outcome before the next send, so a crash loses at most
    the message in hand.
    """
    for item in checked:
        if item.refusal is not None:
            yield Handed(item, "refused", error=item.refusal.message)
            continue
        outgoing = item.outgoing
        try:
            composition = compose(render(item), outgoing.business.appended_message)
        except ApiError as error:
            yield Handed(item, "failed", error=error.message)
            continue
        message = Message.new(
            outgoing.conversation_id,
            datetime.now(UTC),
            direction="outbound",
            body=composition.text,
            contact_number=outgoing.contact_number,
            business_number=outgoing.business.number,
            sender=outgoing.sender,
            encoding=composition.encoding,
            segments=composition.segments,
        )
        handover = _hand_to_transport(
            message, outgoing, attempts=attempts, pace=lambda parts=composition.segments: pace(parts)
        )
        message.status, message.status_rank = handover.status, STATUS_RANK[handover.status]
        message.provider_message_id, message.error = handover.provider_message_id, handover.error
        message.save()
        yield Handed(item, handover.status, message, handover.attempts, handover.error)


@dataclass(frozen=True)
class Handover:
    """How a hand-over ended: sent, failed, or blocked (the provider's own opt-out list refused it)."""

    status: str
    attempts: int
    error: str | None = None
    provider_message_id: str | None = None


def _hand_to_transport(
    message: Message, outgoing: Outgoing, *, attempts: int = 1, pace: Callable[[], None] | None = None
) -> Handover:
    """Hand over, retrying transient failures; the caller stores the outcome with the message."""
    sms = OutboundSms(
        message_id=message.id,
        to=outgoing.contact_number,
        from_number=outgoing.business.number,
        origination_identity=outgoing.business.origination_identity,
        body=message.body or "",
        media_urls=tuple(m.url for m in outgoing.media),
    )
    for attempt in range(1, attempts + 1):
        if pace is not None:
            pace()
        try:
            receipt = get_transport().send(sms)
        except TransportError as error:
            logger.warning(
                "transport refused a message", extra={"to": mask(sms.to), "error": str(error), "attempt": attempt}
            )
            if error.recipient_opted_out:
                optouts.opt_out(
                    sms.to, optouts.Scope(), source="carrier", actor=get_transport().name, reason=str(error)
                )
                return Handover("blocked", attempt, str(error))
            if error.permanent or attempt == attempts:
                return Handover("failed", attempt, str(error))
            time.sleep(random.uniform(0, RETRY_BASE_SECONDS * 2**attempt))
            continue
        return Handover("sent", attempt, provider_message_id=receipt.provider_message_id)
    raise AssertionError("unreachable: the last attempt always returns")


def update_status(
    message: Message,
    status: str,
    *,
    error: str | None = None,
    provider_message_id: str | None = None,
    from_receipt: bool = False,
) -> bool:
    """Move a message forward; out-of-order receipts never move it back (False then).

    A receipt that settles a broadcast's message counts in the broadcast's
    totals in the same transaction as the move, so a receipt delivered twice
    (or racing another) counts once. Failures at hand-over are counted by the
    broadcast itself, not here.
    """
    rank = STATUS_RANK[status]
    actions = [
        Message.status.set(status),
        Message.status_rank.set(rank),
        Message.updated_at.set(datetime.now(UTC)),
    ]
    if error is not None:
        actions.append(Message.error.set(error))
    if provider_message_id is not None:
        actions.append(Message.provider_message_id.set(provider_message_id))
    condition = Message.status_rank < rank
    total = _broadcast_total(message, status) if from_receipt else None
    if total is not None:

        def write(tx: TransactWrite) -> None:
            tx.update(message, actions=actions, condition=condition)
            tx.update(
                Broadcast(message.conversation_id),
                actions=[total.add(1), Broadcast.updated_at.set(datetime.now(UTC))],
                condition=Broadcast.id.exists(),
            )

        return not write_transaction(write)
    try:
        message.update(actions=actions, condition=condition)
    except UpdateError as failure:
        if condition_failed(failure):
            return False
        raise
    return True


def _broadcast_total(message: Message, status: str) -> NumberAttribute | None:
    """The broadcast total a receipt moves, if the message is a broadcast's and the receipt settles it."""
    if not is_broadcast_id(message.conversation_id):
        return None
    if status == "delivered":
        return Broadcast.delivered
    return Broadcast.failed if status in NEGATIVE_RECEIPTS else None


def record_receipt(provider_message_id: str, status: str, error: str | None = None) -> bool:
    """Apply a delivery receipt to the message it names; False if unknown or out of date."""
    for message in Message.by_provider_id.query(provider_message_id):
        return update_status(message, status, error=error, from_receipt=True)
    logger.info("receipt for an unknown message", extra={"provider_message_id": provider_message_id})
    return False
