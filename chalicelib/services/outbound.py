"""The one way a message leaves: every send, on every path, goes through `send` or `send_each`.

Both apply the one rule of services/consent.py twice: early, from the contact
read (`check_all`), and finally as the condition of the write that records the
message or claims the recipient, right before the transport is called. Nothing
else in the code base imports a transport, and a test drives every send path
with an opted-out number to prove it.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from pynamodb.attributes import NumberAttribute
from pynamodb.exceptions import UpdateError
from pynamodb.transactions import TransactWrite

from chalicelib.composition import Composition, compose
from chalicelib.errors import ApiError
from chalicelib.models import Broadcast, BusinessNumber, Contact, Message
from chalicelib.models.broadcasts import is_broadcast_id
from chalicelib.models.messages import STATUS_RANK, Media
from chalicelib.models.writes import Writer, condition_failed, write_transaction
from chalicelib.observability import logger
from chalicelib.phone import mask
from chalicelib.services import consent, conversations, optouts
from chalicelib.services.consent import Purpose, Refusal, Sending
from chalicelib.transport.base import OutboundSms, TransportError
from chalicelib.transport.registry import get_transport

RETRY_BASE_SECONDS = 0.25
"""First pause before retrying a transient transport failure; it doubles (with jitter) each attempt."""
NEGATIVE_RECEIPTS = frozenset({"failed", "undelivered", "blocked"})


REFUSAL_CODES = {"blocked": "recipient_blocked", "inactive": "recipient_inactive"}
"""The API error code of a refusal; every other refusal is an opt-out's."""
STOP_INSTRUCTION = "Reply STOP to opt out."
_NAMES_STOP = re.compile(r"\bSTOP\b", re.IGNORECASE)


class SendRefused(ApiError):
    status = 409
    code = "recipient_opted_out"

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.message, field="contact_number")
        self.code = REFUSAL_CODES.get(refusal.code, SendRefused.code)


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

    @property
    def sending(self) -> Sending:
        return Sending(self.business.number, self.purpose, self.campaign_id)


@dataclass(frozen=True)
class Checked:
    """One outgoing message after the guard, with the contact the guard read (None: no such contact)."""

    outgoing: Outgoing
    contact: Contact | None
    refusal: Refusal | None


def check_all(outgoings: Sequence[Outgoing]) -> list[Checked]:
    """The guard's early answer for each message, from one consistent BatchGetItem per 100 numbers.

    Early because the answer that counts is the one the hand-over's own write
    checks (`consent.permits`); this one lets a broadcast skip the refused
    before it waits for its turn, and the contacts it returns are what the
    caller renders placeholders from.
    """
    numbers = {outgoing.contact_number for outgoing in outgoings}
    found = {contact.number: contact for contact in Contact.batch_get(numbers, consistent_read=True)}
    return [_checked(outgoing, found.get(outgoing.contact_number)) for outgoing in outgoings]


def _checked(outgoing: Outgoing, contact: Contact | None) -> Checked:
    return Checked(outgoing, contact, consent.refusal(contact, outgoing.contact_number, outgoing.sending))


def guard(outgoing: Outgoing) -> Refusal | None:
    """Why `outgoing` must not be sent, as things stand now, or None when it may be."""
    return check_all([outgoing])[0].refusal


def send(outgoing: Outgoing) -> Message:
    """Guard, store, hand to the transport, record the outcome; raises SendRefused when guarded.

    The message is recorded in one transaction with the guard's condition on
    the contact (and, for an opt-out confirmation, the claim of the one
    confirmation it allows), so nothing is handed over on an answer older than
    that write.
    """
    refusal = guard(outgoing)
    if refusal is not None:
        raise _refused(outgoing, refusal)
    composition = _compose(outgoing, outgoing.body)
    message = Message.new(
        outgoing.conversation_id,
        datetime.now(UTC),
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
    record = conversations.append_writes(
        outgoing.conversation_id,
        message,
        unread=False if by_agent else None,
        participant=outgoing.sender if by_agent else None,
    )

    def write(tx: TransactWrite) -> None:
        tx.condition_check(Contact, outgoing.contact_number, condition=consent.permits(outgoing.sending))
        record(tx)
        if outgoing.purpose is Purpose.OPT_OUT_CONFIRMATION:
            scope = outgoing.optout_scope or optouts.Scope()
            optouts.confirmation_claim(outgoing.contact_number, scope, outgoing.business.number)(tx)

    failed = write_transaction(write)
    if failed == [_CONVERSATION_UPDATE]:
        raise conversations.appended_to_closed()
    if failed:
        raise _refused(outgoing, guard(outgoing) or _CONFIRMED)
    handover = _hand_to_transport(message, outgoing)
    if handover.provider_message_id is not None:
        message.provider_message_id = handover.provider_message_id
    update_status(message, handover.status, error=handover.error, provider_message_id=handover.provider_message_id)
    return message


_CONVERSATION_UPDATE = 2
"""Its position in `send`'s transaction: the contact's check, the message's put, then the conversation's update."""
_CONFIRMED = Refusal("confirmation_taken", "the opt-out has been confirmed already, or not from this number")


def _refused(outgoing: Outgoing, refusal: Refusal) -> SendRefused:
    logger.info(
        "send refused",
        extra={"to": mask(outgoing.contact_number), "purpose": outgoing.purpose.value, "refusal": refusal.code},
    )
    return SendRefused(refusal)


def _compose(outgoing: Outgoing, text: str) -> Composition:
    """The text as sent: answers the person asked for go without the appended message, HELP naming STOP once."""
    if outgoing.purpose is Purpose.HELP and not _NAMES_STOP.search(text):
        text = f"{text.rstrip()} {STOP_INSTRUCTION}"
    appended = None if outgoing.purpose in consent.ASKED_FOR else outgoing.business.appended_message
    return compose(text, appended, allow_empty=bool(outgoing.media))


@dataclass(frozen=True)
class Handed:
    """What became of one message of `send_each`."""

    checked: Checked
    status: str
    """sent, failed or blocked (the transport refused and said why), refused (the guard did), or taken (the
    claim found the recipient claimed already: nothing to record)."""
    message: Message | None = None
    attempts: int = 0
    error: str | None = None
    refusal: Refusal | None = None


def send_each(
    checked: Iterable[Checked],
    render: Callable[[Checked], str],
    *,
    pace: Callable[[int], None],
    claim: Callable[[Checked], Writer],
    attempts: int = 3,
) -> Iterator[Handed]:
    """The batch form of `send` for broadcasts: one message at a time, each outcome yielded as soon as it is known.

    `checked` must come from `check_all`: a refused message is yielded as such
    and never composed, stored or handed over. The others are rendered from
    the contact the guard read; once `pace(parts)` has made room under the
    sender's rate, the caller's `claim` of the recipient is written in one
    transaction with the guard's condition on the contact, then the message is
    handed over (transient failures retried with backoff up to `attempts`
    times) and stored once, with its outcome, in the thread its
    `conversation_id` names (a broadcast's own: nothing is appended to or
    opened in the inbox). One write per message instead of two matters at
    10,000 recipients; a worker that dies between hand-over and write loses
    only that record, which the claim already marks as unknown. Yielding one by
    one lets the caller record each outcome before the next send.
    """
    for item in checked:
        if item.refusal is not None:
            yield Handed(item, "refused", error=item.refusal.message, refusal=item.refusal)
            continue
        outgoing = item.outgoing
        try:
            composition = _compose(outgoing, render(item))
        except ApiError as error:
            yield Handed(item, "failed", error=error.message)
            continue
        pace(composition.segments)
        lost = _claim(item, claim(item))
        if lost is not None:
            yield lost
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


def _claim(item: Checked, claim: Writer) -> Handed | None:
    """Write the claim with the guard's condition: None when taken for sending, else why not (refused or taken)."""
    outgoing = item.outgoing

    def write(tx: TransactWrite) -> None:
        tx.condition_check(Contact, outgoing.contact_number, condition=consent.permits(outgoing.sending))
        claim(tx)

    failed = write_transaction(write)
    if not failed:
        return None
    if failed != [0]:
        return Handed(item, "taken")
    fresh = guard(outgoing) or Refusal("opted_out", f"{outgoing.contact_number} may not be texted now")
    return Handed(item, "refused", error=fresh.message, refusal=fresh)


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
    """Hand over, retrying transient failures (each retry paced); the caller stores the outcome with the message."""
    sms = OutboundSms(
        message_id=message.id,
        to=outgoing.contact_number,
        from_number=outgoing.business.number,
        origination_identity=outgoing.business.origination_identity,
        body=message.body or "",
        media_urls=tuple(m.url for m in outgoing.media),
    )
    for attempt in range(1, attempts + 1):
        if pace is not None and attempt > 1:
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
