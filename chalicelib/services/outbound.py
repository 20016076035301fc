"""The one way a message leaves: every send, on every path, goes through `send`.

`send` applies the opt-out guard before anything is stored or handed to a
transport. Nothing else in the code base imports a transport, and a test
drives every send path with an opted-out number to prove it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum

from pynamodb.exceptions import UpdateError

from chalicelib.composition import compose
from chalicelib.errors import ApiError
from chalicelib.models import BusinessNumber, Contact, Message
from chalicelib.models.messages import STATUS_RANK, Media
from chalicelib.models.writes import condition_failed
from chalicelib.observability import logger
from chalicelib.phone import mask
from chalicelib.services import conversations, optouts
from chalicelib.transport.base import OutboundSms, TransportError
from chalicelib.transport.registry import get_transport


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


def guard(outgoing: Outgoing) -> str | None:
    """Why `outgoing` must not be sent, or None when it may be."""
    number = outgoing.contact_number
    try:
        contact = Contact.get(number, consistent_read=True)
    except Contact.DoesNotExist:
        contact = None
    if contact is not None and contact.blocked:
        return f"{number} is blocked"
    if outgoing.purpose is Purpose.OPT_OUT_CONFIRMATION:
        scope = outgoing.optout_scope or optouts.Scope()
        if optouts.claim_confirmation(number, scope):
            return None
        return f"{number} has already been sent the confirmation of its opt-out"
    if outgoing.purpose is Purpose.HELP:
        return None
    refusing = optouts.refusing_scope(contact, outgoing.campaign_id) if contact is not None else None
    if refusing is not None:
        scope = "company-wide" if refusing.campaign_id is None else f"of campaign {refusing.campaign_id}"
        return f"{number} has opted out {scope}; no message may be sent until they opt back in"
    return None


def send(outgoing: Outgoing) -> Message:
    """Guard, store, hand to the transport, record the outcome; raises SendRefused when guarded."""
    refusal = guard(outgoing)
    if refusal is not None:
        logger.info("send refused", extra={"to": outgoing.contact_number, "purpose": outgoing.purpose.value})
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
    _hand_to_transport(message, outgoing)
    return message


def _hand_to_transport(message: Message, outgoing: Outgoing) -> None:
    sms = OutboundSms(
        message_id=message.id,
        to=outgoing.contact_number,
        from_number=outgoing.business.number,
        origination_identity=outgoing.business.origination_identity,
        body=message.body or "",
        media_urls=tuple(m.url for m in outgoing.media),
    )
    try:
        receipt = get_transport().send(sms)
    except TransportError as error:
        logger.warning("transport refused a message", extra={"to": mask(sms.to), "error": str(error)})
        if error.recipient_opted_out:
            update_status(message, "blocked", error=str(error))
            optouts.opt_out(sms.to, optouts.Scope(), source="carrier", actor=get_transport().name, reason=str(error))
        else:
            update_status(message, "failed", error=str(error))
        return
    message.provider_message_id = receipt.provider_message_id
    update_status(message, "sent", provider_message_id=receipt.provider_message_id)


def update_status(
    message: Message, status: str, *, error: str | None = None, provider_message_id: str | None = None
) -> bool:
    """Move a message forward; out-of-order receipts never move it back (False then)."""
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
    try:
        message.update(actions=actions, condition=Message.status_rank < rank)
    except UpdateError as failure:
        if condition_failed(failure):
            return False
        raise
    return True


def record_receipt(provider_message_id: str, status: str, error: str | None = None) -> bool:
    """Apply a delivery receipt to the message it names; False if unknown or out of date."""
    for message in Message.by_provider_id.query(provider_message_id):
        return update_status(message, status, error=error)
    logger.info("receipt for an unknown message", extra={"provider_message_id": provider_message_id})
    return False
