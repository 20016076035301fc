"""Every inbound text, whichever door it came through, lands here and is acted on exactly once.

The provider's message id is the key of a receipt kept for good
(models/inbound_receipts.py), written with the message: a retried or replayed
delivery stores nothing again and returns the first answer. The message joins
the pair's one open conversation, and a keyword is acted on after the message
is safely stored, marking the receipt in the same transaction as its change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pynamodb.transactions import TransactWrite

from chalicelib.models import BusinessNumber, InboundReceipt, Message
from chalicelib.models.messages import Media
from chalicelib.models.writes import Writer, write_transaction
from chalicelib.observability import logger
from chalicelib.phone import mask
from chalicelib.services import business_numbers, campaigns, consent, contacts, conversations, optouts
from chalicelib.services.keywords import Keyword, KeywordKind, classify
from chalicelib.services.outbound import Outgoing, Purpose, SendRefused, send

_DELIVERY_ATTEMPTS = 3
_RECEIPT_PUT = 1
"""Its position in the delivery's transaction: the message's put, the receipt's put, the conversation's update."""


@dataclass(frozen=True)
class InboundSms:
    provider: str
    provider_message_id: str
    from_number: str
    to_number: str
    body: str
    media: list[dict[str, str | None]] = field(default_factory=list)
    """Each {"url", "content_type"}."""

    @property
    def key(self) -> str:
        return f"{self.provider}#{self.provider_message_id}"


def receive(sms: InboundSms) -> dict[str, Any]:
    """Store `sms` once and act on it once, however many times and however late it is delivered.

    A delivery that finds the message stored already (a retry, a replay, a
    worker that died half-way) still finishes its keyword if that never ran;
    what the keyword did is never done twice. The answer is the first one.
    """
    business = business_numbers.load(sms.to_number)
    number = contacts.parse_number(sms.from_number, field="from")
    keyword = classify(sms.body, lambda word: campaigns.keyword_owner(business.number, word))
    possible = keyword is not None and keyword.kind is KeywordKind.POSSIBLE_OPT_OUT
    command = None if possible else keyword
    receipt = _find(sms.key) or _store(sms, number, business, command, flagged=possible)
    # A command is acted on only if it was one when first received: a replayed "hello" must not become the
    # campaign keyword HELLO created since.
    if receipt.acted_at is None and command is not None and receipt.keyword == command.word:
        _answer(command, number, business, receipt)
    return {"conversation_id": receipt.conversation_id, "message_id": receipt.message_id, "keyword": receipt.keyword}


def _find(key: str) -> InboundReceipt | None:
    try:
        return InboundReceipt.get(key, consistent_read=True)
    except InboundReceipt.DoesNotExist:
        return None


def _store(
    sms: InboundSms, number: str, business: BusinessNumber, keyword: Keyword | None, *, flagged: bool
) -> InboundReceipt:
    """Store the message with its receipt; `flagged`: its words may ask to stop, for an agent to confirm."""
    now = datetime.now(UTC)
    contact_name = contacts.record_activity(number, now)
    message = Message.new(
        "",  # the conversation is known only once it has been opened or joined
        now,
        direction="inbound",
        body=sms.body,
        media=[Media(url=m["url"], content_type=m.get("content_type")) for m in sms.media],
        status="received",
        contact_number=number,
        business_number=business.number,
        sender=number,
        provider_message_id=sms.provider_message_id,
        possible_optout=flagged or None,
    )
    receipt = InboundReceipt(
        sms.key, message_id=message.id, keyword=keyword and keyword.word, received_at=now, conversation_id=""
    )
    for _ in range(_DELIVERY_ATTEMPTS):
        receipt.conversation_id = conversations.open_or_join(number, business.number, now, contact_name).conversation_id
        message.conversation_id = receipt.conversation_id
        append = conversations.append_writes(receipt.conversation_id, message, unread=True, contact_name=contact_name)

        def write(tx: TransactWrite, append: Writer = append) -> None:
            append(tx)
            tx.save(receipt, condition=InboundReceipt.message_key.does_not_exist())

        failed = write_transaction(write)
        if not failed:
            logger.info("inbound stored", extra={"from": mask(number), "conversation_id": receipt.conversation_id})
            return receipt
        if _RECEIPT_PUT in failed:
            return InboundReceipt.get(sms.key, consistent_read=True)
    raise conversations.ConversationClosed("conversations kept closing while a message arrived", field="conversation")


def _answer(keyword: Keyword, number: str, business: BusinessNumber, receipt: InboundReceipt) -> None:
    """Apply a keyword, marking the receipt in the same transaction, and send the one reply it calls for, if any."""
    once = _once(receipt.message_key)
    reply = _reply_for(keyword, number, business, receipt.conversation_id, once)
    logger.info("keyword", extra={"from": mask(number), "keyword": keyword.kind.value, "replied": reply is not None})
    if reply is None:
        return
    try:
        send(reply)
    except SendRefused as refused:
        logger.info("keyword reply not sent", extra={"reason": refused.code})


def _once(key: str) -> optouts.Once:
    def write(tx: TransactWrite) -> None:
        tx.update(
            InboundReceipt(key),
            actions=[InboundReceipt.acted_at.set(datetime.now(UTC))],
            condition=InboundReceipt.message_key.exists() & InboundReceipt.acted_at.does_not_exist(),
        )

    return optouts.Once(write, lambda: InboundReceipt.get(key, consistent_read=True).acted_at is not None)


def _take(once: optouts.Once) -> bool:
    """Mark the message acted on without a change of opt-outs; False if it already was."""
    return not write_transaction(once.write)


def _reply_for(
    keyword: Keyword, number: str, business: BusinessNumber, conversation_id: str, once: optouts.Once
) -> Outgoing | None:
    reason = f"texted {keyword.word}"

    def reply(text: str, purpose: Purpose, scope: optouts.Scope) -> Outgoing:
        return Outgoing(
            conversation_id,
            number,
            business,
            text,
            purpose,
            "system",
            campaign_id=scope.campaign_id,
            optout_scope=scope,
        )

    if keyword.kind is KeywordKind.HELP:
        return _help(number, business, reply) if _take(once) else None
    if keyword.campaign_id is not None:
        return _join(keyword.campaign_id, number, business, reason, once, reply)
    if keyword.kind is KeywordKind.OPT_OUT:
        changed = stop(number, business, source="keyword", actor=number, reason=reason, once=once)
        text = (business.optout_text_es if keyword.language == "es" else None) or business.optout_text
        purpose = Purpose.OPT_OUT_CONFIRMATION
    else:
        scopes = consent.start_scopes(business, optouts.current(number))
        changed = optouts.change(number, "opt_in", scopes, source="keyword", actor=number, reason=reason, once=once)
        text, purpose = business.optin_text, Purpose.OPT_IN_CONFIRMATION
    if not changed:
        _take(once)  # nothing to change now, but a replay later must not find it undone
        return None
    return reply(text, purpose, changed[0])


def stop(
    number: str,
    business: BusinessNumber,
    *,
    source: optouts.Source,
    actor: str,
    reason: str,
    once: optouts.Once | None = None,
) -> list[optouts.Scope]:
    """Opt `number` out as its STOP texted to `business` does; the scopes moved (the first one confirms)."""
    subscribed = [campaign.id for campaign in campaigns.subscriptions_on(number, business.number)]
    scopes = consent.stop_scopes(business, subscribed)
    return optouts.change(
        number, "opt_out", scopes, source=source, actor=actor, reason=reason, stop_from=business.number, once=once
    )


def _help(number: str, business: BusinessNumber, reply: Callable[..., Outgoing]) -> Outgoing:
    """The help text of the sender's newest campaign on this number that has one, else the number's."""
    for campaign in campaigns.subscriptions_on(number, business.number):
        if campaign.help_text:
            return reply(campaign.help_text, Purpose.HELP, optouts.Scope(campaign.id))
    return reply(business.help_text, Purpose.HELP, optouts.Scope())


def _join(
    campaign_id: str,
    number: str,
    business: BusinessNumber,
    reason: str,
    once: optouts.Once,
    reply: Callable[..., Outgoing],
) -> Outgoing | None:
    """Subscribe the sender and welcome them, whether or not they had joined before (see `consent.join_scopes`)."""
    campaign = campaigns.get_campaign(campaign_id)
    if campaign.status != campaigns.ACTIVE:
        return None
    scopes = consent.join_scopes(campaign_id, business)
    changed = optouts.change(number, "opt_in", scopes, source="keyword", actor=number, reason=reason, once=once)
    if not changed and not _take(once):
        return None
    campaigns.subscribe(campaign_id, number, source="keyword")
    return reply(campaign.welcome_text, Purpose.CAMPAIGN_WELCOME, optouts.Scope(campaign_id))
