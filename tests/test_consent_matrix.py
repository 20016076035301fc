"""The one guard as a table: sending number x opt-out scope x purpose, each cell allow or refuse, on the real paths.

ANA subscribed to campaign Winter on the texted number N, whose own campaign is
Home; M is another business number. Each scope below is set up the way it
happens (a STOP texted to N, or a manual opt-out), then every purpose is
driven from N and from M through the path that really sends it, and the table
of what reached ANA is compared whole with the one expected.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pytest

from chalicelib.models import OpenConversation
from chalicelib.services import business_numbers, campaigns, consent, conversations, groups, inbound, optouts
from chalicelib.services.outbound import Outgoing, Purpose, SendRefused, send
from tests.conftest import BUSINESS_NUMBER
from tests.test_broadcasts import run_send_queue

ANA = "+15125550134"
N, M = BUSINESS_NUMBER, "+15125550111"
SENDERS = {"texted": N, "other": M}
PURPOSES = (
    "reply",
    "new_conversation",
    "quick_reply",
    "broadcast_numbers",
    "broadcast_group",
    "broadcast_campaign",
    "campaign_welcome",
    "help",
    "confirmation",
)
ALL = {(sender, purpose) for sender in SENDERS for purpose in PURPOSES}
ASKED = {(sender, "help") for sender in SENDERS}
CONFIRMED = {("texted", "confirmation")}
"""The STOP's own confirmation, from the number it was texted to; no other number, and no manual opt-out, gets one."""
counter = iter(range(10**9))

EXPECTED_ALLOWED = {
    "none": ALL - {(sender, "confirmation") for sender in SENDERS},
    "company": ASKED | CONFIRMED,
    "campaign": ASKED
    | CONFIRMED
    | {("other", purpose) for purpose in ("reply", "new_conversation", "quick_reply")}
    | {("other", "broadcast_numbers"), ("other", "broadcast_group")},
    "manual_campaign": ALL
    - {
        (sender, purpose)
        for sender in SENDERS
        for purpose in ("broadcast_campaign", "campaign_welcome", "confirmation")
    },
    "manual_company": ASKED,
}


def text_in(body: str, to: str) -> dict[str, Any]:
    return inbound.receive(inbound.InboundSms("twilio", f"SMX{next(counter)}", ANA, to, body))


@pytest.fixture
def world(business, bucket, spy, team, monkeypatch):
    home = campaigns.create({"name": "Home", "business_number": N, "welcome_text": "Home!"})["id"]
    winter = campaigns.create(
        {"name": "Winter", "business_number": N, "keywords": ["WINTER"], "welcome_text": "Winter!"}
    )["id"]
    business_numbers.update(N, {"mps": 1000, "campaign_id": home})
    business_numbers.create({"number": M, "name": "Other", "mps": 1000})
    campaigns.subscribe(winter, ANA)
    group = groups.create_group({"name": "Regulars"})["id"]
    groups.add_members(group, [ANA])
    reply_id = team.sam.post("/quick-replies", {"title": "Hi", "text": "Hi {first_name|there}"}).json_body["id"]
    for number in SENDERS.values():
        text_in("hello", number)
    return {"winter": winter, "group": group, "quick_reply": reply_id, "team": team, "bucket": bucket, "spy": spy}


def set_scope(world: dict[str, Any], scope: str) -> None:
    if scope in ("company", "campaign"):
        business_numbers.update(N, {"optout_scope": scope})
        text_in("STOP", N)
    elif scope == "manual_campaign":
        optouts.opt_out(ANA, optouts.Scope(world["winter"]), source="manual", actor="sam", reason="asked")
    elif scope == "manual_company":
        optouts.opt_out(ANA, optouts.Scope(), source="manual", actor="sam", reason="asked")


def drive(world: dict[str, Any], client: Any, sender: str, purpose: str) -> bool:
    """Send ANA one message of `purpose` from `sender` through its real path; True if the transport got it."""
    spy, alex = world["spy"], world["team"].alex
    before = len(spy.sent)
    conversation_id = OpenConversation.get(f"{ANA}|{sender}").conversation_id
    if purpose == "reply":
        alex.post(f"/conversations/{conversation_id}/messages", {"body": "reply"})
    elif purpose == "quick_reply":
        alex.post(f"/conversations/{conversation_id}/messages", {"quick_reply": world["quick_reply"]})
    elif purpose == "new_conversation":
        conversations.close(conversation_id, "ada")
        alex.post("/conversations", {"business_number": sender, "contact_number": ANA, "body": "new"})
        if not OpenConversation.count(f"{ANA}|{sender}"):
            text_in("back", sender)
    elif purpose.startswith("broadcast_"):
        audience = {
            "broadcast_numbers": {"numbers": [ANA]},
            "broadcast_group": {"groups": [world["group"]]},
            "broadcast_campaign": {"campaigns": [world["winter"]]},
        }[purpose]
        created = world["team"].sam.post("/broadcasts", {"body": "news", "business_number": sender, **audience})
        assert created.status_code == 202, created.json_body
        run_send_queue(client, world["bucket"])
    elif purpose == "campaign_welcome":
        outgoing = Outgoing(
            conversation_id,
            ANA,
            business_numbers.load(sender),
            "Winter!",
            Purpose.CAMPAIGN_WELCOME,
            "system",
            campaign_id=world["winter"],
        )
        with contextlib.suppress(SendRefused):
            send(outgoing)
    elif purpose == "help":
        text_in("HELP", sender)
    elif purpose == "confirmation":
        return any(m.from_number == sender and "unsubscribed" in m.body for m in spy.to(ANA))
    return any(m.from_number == sender for m in spy.sent[before:])


@pytest.mark.parametrize("scope", sorted(EXPECTED_ALLOWED))
def test_guard_table(world, client, scope):
    set_scope(world, scope)
    allowed = {
        (sender, purpose)
        for sender, number in SENDERS.items()
        for purpose in PURPOSES
        if drive(world, client, number, purpose)
    }
    assert sorted(allowed) == sorted(EXPECTED_ALLOWED[scope])


@pytest.mark.parametrize("scope", ["company", "campaign", "manual_company"])
def test_a_second_confirmation_is_refused_from_any_number(world, scope):
    set_scope(world, scope)
    sent = len(world["spy"].sent)
    primary = {"company": optouts.Scope(), "campaign": optouts.Scope(business_number=N)}.get(scope, optouts.Scope())
    for number in SENDERS.values():
        conversation_id = OpenConversation.get(f"{ANA}|{number}").conversation_id
        with pytest.raises(SendRefused):
            send(
                Outgoing(
                    conversation_id,
                    ANA,
                    business_numbers.load(number),
                    "bye",
                    Purpose.OPT_OUT_CONFIRMATION,
                    "system",
                    optout_scope=primary,
                )
            )
    assert len(world["spy"].sent) == sent


def test_the_two_forms_of_the_rule_agree(business):
    """`consent.refusal` (from a contact read) and `consent.permits` (the condition the hand-over's write carries)
    give the same answer for every contact state and sending, judged by DynamoDB Local itself."""
    from pynamodb.exceptions import UpdateError

    from chalicelib.models import Contact
    from chalicelib.services import contacts

    states = [
        {},
        {"blocked": True},
        {"status": "inactive"},
        {"opt_status": "opted_out"},
        {"opted_out_numbers": {N}},
        {"opted_out_numbers": {M}},
        {"opted_out_campaigns": {"cmp_w"}},
        {"opted_out_campaigns": {"cmp_x"}, "opted_out_numbers": {M}},
    ]
    sendings = [
        consent.Sending(number, purpose, campaign_id)
        for number in (N, M)
        for purpose in consent.Purpose
        for campaign_id in (None, "cmp_w")
    ]
    for position, state in enumerate(states):
        number = f"+1737555{position:04d}"
        contacts.create_contact({"number": number})
        contact = Contact.get(number)
        for name, value in state.items():
            setattr(contact, name, value)
        contact.save()
        contact = Contact.get(number, consistent_read=True)
        for sending in sendings:
            try:
                contact.update(actions=[Contact.city.set("x")], condition=consent.permits(sending))
                permitted = True
            except UpdateError:
                permitted = False
            contact = Contact.get(number, consistent_read=True)
            assert permitted is (consent.refusal(contact, number, sending) is None), (state, sending)
    missing = consent.Sending(N, consent.Purpose.BROADCAST, "cmp_w")
    assert consent.refusal(None, "+17375559999", missing) is None
