"""An agent's answer to a message that may have asked to stop: confirm it as an opt-out, or dismiss the flag.

Revocation "by any reasonable means" cannot all be read by rules: words the
rules are unsure of flag the conversation instead (services/revocations.py),
and a person decides. Confirming records the opt-out as the person's own
STOP to that number would (same scopes), with the agent as its source, and
sends the one confirmation.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from chalicelib.models import Conversation
from chalicelib.services import business_numbers, conversations, inbound, optouts
from chalicelib.services.keywords import classify
from chalicelib.services.outbound import Outgoing, Purpose, SendRefused, send

REASON = "an agent read the contact's message as a request to stop"


@dataclass(frozen=True)
class Confirmed:
    changed: list[optouts.Scope]
    confirmation_sent: bool


def confirm(conversation: Conversation, agent: str) -> Confirmed:
    """Opt the contact out as their STOP to the conversation's number would; idempotent."""
    business = business_numbers.load(conversation.business_number)
    number = conversation.contact_number
    changed = inbound.stop(number, business, source="agent", actor=agent, reason=REASON)
    conversations.settle_possible_optout(conversation.id)
    sent = False
    if changed and conversation.status == "open":
        spanish = _flagged_language(conversation) == "es" and business.optout_text_es
        confirmation = Outgoing(
            conversation.id,
            number,
            business,
            business.optout_text_es if spanish else business.optout_text,
            Purpose.OPT_OUT_CONFIRMATION,
            "system",
            optout_scope=changed[0],
        )
        with contextlib.suppress(SendRefused, conversations.ConversationClosed):
            send(confirmation)
            sent = True
    return Confirmed(changed, sent)


def _flagged_language(conversation: Conversation) -> str | None:
    """The language of the flagged message, so a person who wrote in Spanish is confirmed in Spanish."""
    if conversation.possible_optout is None:
        return None
    for message in conversations.thread(conversation.id):
        if message.id == conversation.possible_optout:
            keyword = classify(message.body or "")
            return keyword.language if keyword is not None else None
    return None


def dismiss(conversation: Conversation) -> None:
    conversations.settle_possible_optout(conversation.id)
