"""Every inbound text, whichever door it came through, lands here exactly once.

The carrier's message id makes the pipeline idempotent (Powertools idempotency
on DynamoDB): a retried delivery returns the first result without storing the
message again. The message then joins the pair's one open conversation, and a
keyword is answered after the message is safely stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

from chalicelib.config import resource_name
from chalicelib.models import BusinessNumber, Message
from chalicelib.models.messages import Media
from chalicelib.observability import logger
from chalicelib.services import business_numbers, campaigns, contacts, conversations, optouts
from chalicelib.services.keywords import Keyword, KeywordKind, classify
from chalicelib.services.outbound import Outgoing, Purpose, SendRefused, send

IDEMPOTENCY_WINDOW_SECONDS = 7 * 24 * 3600
"""Carriers retry for hours at most; a week leaves no doubt."""
_DELIVERY_ATTEMPTS = 3
_persistence_layers: dict[str, DynamoDBPersistenceLayer] = {}


@dataclass(frozen=True)
class InboundSms:
    provider: str
    provider_message_id: str
    from_number: str
    to_number: str
    body: str
    media: list[dict[str, str | None]] = field(default_factory=list)
    """Each {"url", "content_type"}."""


def receive(sms: InboundSms, lambda_context: Any = None) -> dict[str, Any]:
    """Store `sms` once, whatever number of times it is delivered; returns what happened.

    The Lambda context lets Powertools expire an in-progress record if the
    function times out half-way, so the carrier's retry is not locked out.
    """
    config = IdempotencyConfig(
        event_key_jmespath="[provider, provider_message_id]",
        expires_after_seconds=IDEMPOTENCY_WINDOW_SECONDS,
    )
    if lambda_context is not None:
        config.register_lambda_context(lambda_context)
    process = idempotent_function(data_keyword_argument="sms", persistence_store=_persistence(), config=config)(
        _receive
    )
    try:
        return process(sms=sms)
    except IdempotencyAlreadyInProgressError:
        return {"duplicate": True, "in_progress": True}


def _persistence() -> DynamoDBPersistenceLayer:
    name = resource_name("IDEMPOTENCY_TABLE")
    if name not in _persistence_layers:
        _persistence_layers[name] = DynamoDBPersistenceLayer(table_name=name)
    return _persistence_layers[name]


def _receive(sms: InboundSms) -> dict[str, Any]:
    business = business_numbers.load(sms.to_number)
    number = contacts.parse_number(sms.from_number, field="from")
    now = datetime.now(UTC)
    contact_name = contacts.record_activity(number, now)
    message = Message.new(
        "",  # the conversation is known only once _deliver has opened or joined it
        now,
        direction="inbound",
        body=sms.body,
        media=[Media(url=m["url"], content_type=m.get("content_type")) for m in sms.media],
        status="received",
        contact_number=number,
        business_number=business.number,
        sender=number,
        provider_message_id=sms.provider_message_id,
    )
    conversation_id = _deliver(message, number, business.number, now, contact_name)
    keyword = classify(sms.body, lambda word: campaigns.keyword_owner(business.number, word))
    if keyword is not None:
        _answer(keyword, number, business, conversation_id)
    logger.info(
        "inbound stored",
        extra={"from": number, "conversation_id": conversation_id, "keyword": keyword and keyword.kind.value},
    )
    return {"conversation_id": conversation_id, "message_id": message.id, "keyword": keyword and keyword.word}


def _deliver(message: Message, number: str, business_number: str, now: datetime, contact_name: str) -> str:
    """Append to the open conversation; if it closes underneath us, the next one opens."""
    for _ in range(_DELIVERY_ATTEMPTS):
        conversation_id = conversations.open_or_join(number, business_number, now, contact_name).conversation_id
        message.conversation_id = conversation_id
        try:
            conversations.append(conversation_id, message, unread=True, contact_name=contact_name)
        except conversations.ConversationClosed:
            continue
        return conversation_id
    raise conversations.ConversationClosed("conversations kept closing while a message arrived", field="conversation")


def _answer(keyword: Keyword, number: str, business: BusinessNumber, conversation_id: str) -> None:
    """Apply a keyword and send the one reply it calls for, if any."""
    reply = _reply_for(keyword, number, business)
    if reply is None:
        return
    outgoing = Outgoing(
        conversation_id=conversation_id,
        contact_number=number,
        business=business,
        body=reply.text,
        purpose=reply.purpose,
        sender="system",
        campaign_id=reply.scope.campaign_id,
        optout_scope=reply.scope,
    )
    try:
        send(outgoing)
    except SendRefused as refused:
        logger.info("keyword reply not sent", extra={"reason": refused.message})


@dataclass(frozen=True)
class _Reply:
    text: str
    purpose: Purpose
    scope: optouts.Scope
    """The scope the reply is about: its campaign is the message's, and an opt-out confirmation claims it."""


def keyword_scopes(number: str, business: BusinessNumber) -> list[optouts.Scope]:
    """What STOP on `business` opts `number` out of, and so what START/OOPS opts back in to.

    On a number configured for campaign-scoped opt-outs: every campaign on that
    number the sender subscribed to, or the number's own campaign when they
    subscribed to none there. Anywhere else: company-wide.
    """
    if business.optout_scope != "campaign":
        return [optouts.Scope()]
    subscribed = [optouts.Scope(campaign.id) for campaign in campaigns.subscriptions_on(number, business.number)]
    return subscribed or [optouts.Scope(business.campaign_id)]


def _reply_for(keyword: Keyword, number: str, business: BusinessNumber) -> _Reply | None:
    if keyword.kind is KeywordKind.POSSIBLE_OPT_OUT:
        return None  # only a person may decide it was an opt-out; until one does, the message is just a message
    reason = f"texted {keyword.word}"
    if keyword.kind is KeywordKind.HELP:
        return _help(number, business)
    if keyword.campaign_id is not None:
        return _join(keyword.campaign_id, number, reason)
    scopes = keyword_scopes(number, business)
    if keyword.kind is KeywordKind.OPT_OUT:
        changed = [s for s in scopes if optouts.opt_out(number, s, source="keyword", actor=number, reason=reason)]
        return _Reply(business.optout_text, Purpose.OPT_OUT_CONFIRMATION, changed[0]) if changed else None
    changed = [s for s in scopes if optouts.opt_in(number, s, source="keyword", actor=number, reason=reason)]
    return _Reply(business.optin_text, Purpose.OPT_IN_CONFIRMATION, changed[0]) if changed else None


def _help(number: str, business: BusinessNumber) -> _Reply:
    """The help text of the sender's newest campaign on this number that has one, else the number's."""
    for campaign in campaigns.subscriptions_on(number, business.number):
        if campaign.help_text:
            return _Reply(campaign.help_text, Purpose.HELP, optouts.Scope(campaign.id))
    return _Reply(business.help_text, Purpose.HELP, optouts.Scope())


def _join(campaign_id: str, number: str, reason: str) -> _Reply | None:
    """Subscribe the sender and welcome them, whether or not they had joined before.

    Texting a campaign keyword is the person asking for that campaign's
    messages, so it lifts their opt-out of the campaign and, as the manual
    promises ("resubscribe by texting OOPS or any of your keywords"), a
    company-wide one too: otherwise the welcome itself could not be sent.
    """
    campaign = campaigns.get_campaign(campaign_id)
    if campaign.status != campaigns.ACTIVE:
        return None
    campaigns.subscribe(campaign_id, number, source="keyword")
    for scope in (optouts.Scope(campaign_id), optouts.Scope()):
        optouts.opt_in(number, scope, source="keyword", actor=number, reason=reason)
    return _Reply(campaign.welcome_text, Purpose.OPT_IN_CONFIRMATION, optouts.Scope(campaign_id))
