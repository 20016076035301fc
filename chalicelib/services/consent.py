"""May this person be texted by this business number for this purpose: the one rule, and what keywords change.

The rule exists in two forms that a test keeps in agreement: `refusal` judges a
contact already read (a broadcast reads a hundred at a time and skips the
refused before it waits for its turn), and `permits` is the same rule as a
condition on the contact item. Every send carries `permits` in the
transaction that records the message or claims the broadcast recipient, right
before the hand-over, so the answer a send acts on is the one in force when
that write commits: an opt-out committed before it always wins.

The scopes (see services/optouts.py): a STOP texted to a business number always
silences that number for the person (`Scope(business_number=...)`), whatever its
`optout_scope`. The scope decides what else: `company` silences every number;
`campaign` also opts out of the campaigns the STOP covered, on any number. A
manual opt-out names a campaign (that campaign everywhere) or none (the whole
company).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from pynamodb.expressions.condition import Condition

from chalicelib.models import BusinessNumber, Contact, OptOut
from chalicelib.services.optouts import Scope


class Purpose(Enum):
    """Why a message is sent; it decides which rules apply."""

    AGENT = "agent"
    """Replies, quick replies and new conversations from people using the API."""
    BROADCAST = "broadcast"
    """A broadcast by numbers, groups or campaigns: skips inactive contacts too."""
    CAMPAIGN_WELCOME = "campaign_welcome"
    OPT_IN_CONFIRMATION = "opt_in_confirmation"
    HELP = "help"
    """Answer to HELP/INFO: allowed even when opted out, because the person asked."""
    OPT_OUT_CONFIRMATION = "opt_out_confirmation"
    """The single confirmation an opt-out allows, from the number it was asked of, and only that one."""


ASKED_FOR = frozenset({Purpose.HELP, Purpose.OPT_OUT_CONFIRMATION})
"""Answers the person asked for: no opt-out refuses them, and they go out without the appended message."""


@dataclass(frozen=True)
class Sending:
    business_number: str
    purpose: Purpose
    campaign_id: str | None = None
    """The campaign the message belongs to, if any: campaign opt-outs refuse it on every number."""


@dataclass(frozen=True)
class Refusal:
    code: str
    """blocked, inactive, opted_out or confirmation_taken: what a broadcast counts a skip as."""
    message: str


def refusal(contact: Contact | None, number: str, sending: Sending) -> Refusal | None:
    """Why `sending` may not reach `number`, judged from its contact (None: no such contact), or None.

    An opt-out confirmation's own condition (one per opt-out, from its number)
    lives on the opt-out item and is checked by the write that claims it.
    """
    if contact is None:
        return None
    if contact.blocked:
        return Refusal("blocked", f"{number} is blocked")
    if sending.purpose in ASKED_FOR:
        return None
    if sending.purpose is Purpose.BROADCAST and contact.status == "inactive":
        return Refusal("inactive", f"{number} is an inactive contact")
    scope = refusing_scope(contact, sending)
    if scope is None:
        return None
    return Refusal(
        "opted_out", f"{number} has opted out {scope.describe()}; no message may be sent until they opt back in"
    )


def refusing_scope(contact: Contact, sending: Sending) -> Scope | None:
    """The opt-out that forbids `sending` to the contact, if any."""
    if contact.opt_status == "opted_out":
        return Scope()
    if sending.business_number in (contact.opted_out_numbers or set()):
        return Scope(business_number=sending.business_number)
    if sending.campaign_id is not None and sending.campaign_id in (contact.opted_out_campaigns or set()):
        return Scope(sending.campaign_id)
    return None


def permits(sending: Sending) -> Condition:
    """`refusal(...) is None` as a condition on the contact item; a missing contact satisfies it."""
    condition = Contact.blocked.does_not_exist() | (Contact.blocked != True)  # noqa: E712
    if sending.purpose in ASKED_FOR:
        return condition
    if sending.purpose is Purpose.BROADCAST:
        condition &= Contact.status.does_not_exist() | (Contact.status != "inactive")
    condition &= Contact.opt_status.does_not_exist() | (Contact.opt_status != "opted_out")
    condition &= ~Contact.opted_out_numbers.contains(sending.business_number)
    if sending.campaign_id is not None:
        condition &= ~Contact.opted_out_campaigns.contains(sending.campaign_id)
    return condition


def stop_scopes(business: BusinessNumber, subscribed: list[str]) -> list[Scope]:
    """What a STOP to `business` opts out of; the first is the one its confirmation claims.

    On a number configured for campaign-scoped opt-outs: the number itself, and
    every campaign on it the sender subscribed to (`subscribed`), or the
    number's own campaign when they subscribed to none there. Anywhere else:
    company-wide.
    """
    if business.optout_scope != "campaign":
        return [Scope()]
    covered = subscribed or ([business.campaign_id] if business.campaign_id else [])
    return [Scope(business_number=business.number), *(Scope(campaign_id) for campaign_id in covered)]


def start_scopes(business: BusinessNumber, present: dict[str, OptOut]) -> list[Scope]:
    """What START or OOPS to `business` lifts: exactly what STOPs to it did, from the opt-outs `present`.

    Every opt-out asked of this number (its silence, the campaigns those STOPs
    covered, whatever happened in between), never one staff recorded; on a
    number with company-wide scope, the company-wide opt-out too, as the
    person's own word outranks a record of it. The number's silence comes
    first: it is the one the confirmation names.
    """
    silence = Scope(business_number=business.number)
    asked = [Scope.from_key(key) for key, item in sorted(present.items()) if item.stop_from == business.number]
    scopes = sorted(asked, key=lambda scope: scope != silence)
    if business.optout_scope != "campaign" and Scope() not in scopes:
        scopes.append(Scope())
    return scopes


def join_scopes(campaign_id: str, business: BusinessNumber) -> list[Scope]:
    """What texting a campaign's keyword lifts: that campaign, the number's silence, and a company-wide opt-out.

    The person is asking for the campaign's messages from this number, so the
    welcome must be able to reach them ("resubscribe by texting OOPS or any of
    your keywords"); other campaigns a STOP covered stay opted out.
    """
    return [Scope(campaign_id), Scope(business_number=business.number), Scope()]
