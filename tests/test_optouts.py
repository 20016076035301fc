"""Opt-out keywords, the store and its history, and the one guard every send passes."""

import contextlib
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.models import Contact, Conversation, OpenConversation, OptOut, OptOutMark
from chalicelib.services import agent_messages, business_numbers, campaigns, conversations, inbound, optouts
from chalicelib.services.keywords import OPT_IN_WORDS, OPT_OUT_WORDS, classify
from chalicelib.services.outbound import Outgoing, Purpose, SendRefused, check_all, send, send_each
from tests.conftest import BUSINESS_NUMBER

ANA = "+15125550134"
counter = iter(range(10**9))


def text_in(body, sender=ANA):
    return inbound.receive(inbound.InboundSms("twilio", f"SM{next(counter)}", sender, BUSINESS_NUMBER, body))


def body(response):
    return json.loads(response.body)


@pytest.mark.parametrize("variant", [" Stop. ", "stop", "STOPALL", "Unsubscribe!", "opt out", "Opt-Out", "arrêt", "td"])
def test_each_opt_out_variant_is_recognised(variant):
    assert classify(variant).kind.value == "opt_out"


@pytest.mark.parametrize(
    ("text", "kind"),
    [("stop it", "opt_out"), ("please stop", "opt_out"), ("STOP STOP", "opt_out"), ("stopp", "possible_opt_out")],
)
def test_a_revocation_counts_in_a_sentence_and_a_near_miss_is_only_possible(text, kind):
    assert classify(text).kind.value == kind


@pytest.mark.parametrize("text", ["", "I can stop by at 5", "start texting me", "help me with my order"])
def test_other_messages_are_no_keyword(text):
    assert classify(text) is None


def test_a_sentence_opt_out_confirms_once_and_records_what_matched(business, spy, as_agent):
    text_in("Please remove me from your list, thanks")
    assert Contact.get(ANA).opt_status == "opted_out"
    assert ["unsubscribed" in m.body for m in spy.to(ANA)] == [True]
    history = body(as_agent.get("/contacts/+15125550134/optout-history"))["items"]
    assert [(h["action"], h["reason"]) for h in history] == [("opt_out", "texted REMOVE ME FROM YOUR LIST")]


def test_a_possible_opt_out_changes_nothing_and_sends_nothing(business, spy):
    text_in("hello")
    result = text_in("can you stop sending so many?")
    assert result["keyword"] is None, "not acted on as a keyword: flagged for an agent instead"
    assert Conversation.get(result["conversation_id"]).possible_optout == result["message_id"]
    assert Contact.get(ANA).opt_status != "opted_out"
    assert spy.to(ANA) == []


@pytest.mark.parametrize("word", sorted(OPT_OUT_WORDS))
def test_stop_sends_exactly_one_confirmation_and_blocks_everything_after(business, spy, as_agent, word):
    text_in("hello")
    text_in(word.lower())
    confirmations = spy.to(ANA)
    assert len(confirmations) == 1
    assert "unsubscribed" in confirmations[0].body
    assert Contact.get(ANA).opt_status == "opted_out"

    text_in(word)
    text_in("are you there?")
    assert len(spy.to(ANA)) == 1, "a second STOP gets no second confirmation"

    conversation_id = OpenConversation.get(f"{ANA}|{BUSINESS_NUMBER}").conversation_id
    reply = as_agent.post(f"/conversations/{conversation_id}/messages", {"body": "Sorry to see you go"})
    assert reply.status_code == 409
    assert body(reply)["error"]["code"] == "recipient_opted_out"
    assert "opted out" in body(reply)["error"]["message"]
    assert len(spy.to(ANA)) == 1


def test_start_reenables_and_history_shows_each_change(business, spy, as_agent, as_supervisor, as_admin):
    text_in("STOP")
    text_in("START")
    assert Contact.get(ANA).opt_status == "opted_in"
    assert [m.body for m in spy.to(ANA)][-1].startswith("Acme: you are subscribed again")
    conversation_id = OpenConversation.get(f"{ANA}|{BUSINESS_NUMBER}").conversation_id
    assert as_agent.post(f"/conversations/{conversation_id}/messages", {"body": "Welcome back"}).status_code == 201

    as_supervisor.post("/optouts", {"numbers": ["(512) 555-0134"], "reason": "asked by phone"})
    assert as_admin.delete("/optouts/+15125550134?reason=consent+renewed").status_code == 200
    history = body(as_agent.get("/contacts/+15125550134/optout-history"))["items"]
    assert [(h["action"], h["source"], h["actor"]) for h in history] == [
        ("opt_out", "keyword", ANA),
        ("opt_in", "keyword", ANA),
        ("opt_out", "manual", "sam"),
        ("opt_in", "manual", "ada"),
    ]
    assert history[2]["reason"] == "asked by phone"
    assert all(h["scope"] == "company" for h in history)


def test_help_is_answered_even_when_opted_out(business, spy):
    text_in("STOP")
    text_in("help")
    bodies = [m.body for m in spy.to(ANA)]
    assert len(bodies) == 2
    assert bodies == [
        business_numbers.load(BUSINESS_NUMBER).optout_text,
        business_numbers.load(BUSINESS_NUMBER).help_text,
    ]
    assert bodies[1].upper().count("STOP") == 1, "no appended message: the answer names how to stop once"


def test_a_help_text_that_does_not_say_how_to_stop_gets_it_once(business, spy):
    business_numbers.update(BUSINESS_NUMBER, {"help_text": "Acme support: call 512-555-0100."})
    text_in("HELP")
    assert [m.body for m in spy.to(ANA)] == ["Acme support: call 512-555-0100. Reply STOP to opt out."]


def test_start_when_not_opted_out_changes_nothing(business, spy):
    text_in("YES")
    assert spy.sent == []
    assert optouts.history(ANA) == []


def test_campaign_scoped_stop_silences_its_number_and_the_campaign(business, spy, as_admin, as_agent):
    spring = campaigns.create({"name": "Spring", "business_number": BUSINESS_NUMBER, "welcome_text": "hi"})["id"]
    as_admin.patch(f"/business-numbers/{BUSINESS_NUMBER}", {"optout_scope": "campaign", "campaign_id": spring})
    text_in("STOP")
    contact = Contact.get(ANA)
    assert (contact.opt_status, contact.opted_out_campaigns) == ("opted_in", {spring})
    assert contact.opted_out_numbers == {BUSINESS_NUMBER}
    business_number = agent_messages.business_numbers.load(BUSINESS_NUMBER)
    conversation_id = OpenConversation.get(f"{ANA}|{BUSINESS_NUMBER}").conversation_id
    for purpose, campaign_id in ((Purpose.BROADCAST, spring), (Purpose.BROADCAST, None), (Purpose.AGENT, None)):
        with pytest.raises(SendRefused) as refused:
            send(Outgoing(conversation_id, ANA, business_number, "news", purpose, "x", campaign_id=campaign_id))
        assert refused.value.code == "recipient_opted_out"
    reply = as_agent.post(f"/conversations/{conversation_id}/messages", {"body": "your order shipped"})
    assert reply.status_code == 409
    assert len(spy.to(ANA)) == 1, "the confirmation only"


def test_optout_api_lists_by_scope_and_reports_each_number(business, as_supervisor, as_agent):
    response = as_supervisor.post(
        "/optouts", {"numbers": ["5125550134", "not a number", "5125550135"], "reason": "complaint"}
    )
    assert response.status_code == 200
    results = body(response)["results"]
    assert [r["result"] for r in results] == ["opted_out", "rejected", "opted_out"]
    assert "not a phone number" in results[1]["reason"]
    again = body(as_supervisor.post("/optouts", {"numbers": ["5125550134"], "reason": "again"}))["results"]
    assert again[0]["result"] == "already_opted_out"
    spring = campaigns.create({"name": "Spring", "business_number": BUSINESS_NUMBER, "welcome_text": "hi"})["id"]
    as_supervisor.post("/optouts", {"numbers": ["5125550136"], "campaign_id": spring, "reason": "x"})
    company = body(as_agent.get("/optouts?limit=1"))
    assert len(company["items"]) == 1
    rest = body(as_agent.get(f"/optouts?limit=1&cursor={company['next_cursor']}"))
    assert {company["items"][0]["number"], rest["items"][0]["number"]} == {"+15125550134", "+15125550135"}
    campaign = body(as_agent.get(f"/optouts?campaign_id={spring}"))["items"]
    assert [(i["number"], i["scope"], i["campaign_id"]) for i in campaign] == [("+15125550136", "campaign", spring)]
    assert as_agent.post("/optouts", {"numbers": ["5125550137"], "reason": "x"}).status_code == 403
    assert as_supervisor.delete("/optouts/5125550134?reason=x").status_code == 403


def test_blocked_contacts_are_never_sent_to(business, spy, as_agent, as_supervisor):
    as_supervisor.post("/contacts", {"number": ANA, "blocked": True})
    response = as_agent.post(
        "/conversations", {"business_number": BUSINESS_NUMBER, "contact_number": ANA, "body": "hi"}
    )
    assert response.status_code == 409
    assert body(response)["error"]["code"] == "recipient_blocked"
    assert "blocked" in body(response)["error"]["message"]
    assert spy.sent == []


def test_every_send_path_refuses_an_opted_out_number(client, business, spy, as_agent):
    """Drive each path that can send with an opted-out number: nothing reaches the transport."""
    text_in("hello")
    text_in("STOP")
    assert len(spy.to(ANA)) == 1
    conversation_id = OpenConversation.get(f"{ANA}|{BUSINESS_NUMBER}").conversation_id

    reply = as_agent.post(f"/conversations/{conversation_id}/messages", {"body": "hello?"})
    assert reply.status_code == 409
    conversations.close(conversation_id, "ada")
    started = as_agent.post(
        "/conversations", {"business_number": BUSINESS_NUMBER, "contact_number": ANA, "body": "new topic"}
    )
    assert started.status_code == 409
    text_in("STOP")
    text_in("Stop.")
    business_number = agent_messages.business_numbers.load(BUSINESS_NUMBER)
    for purpose in (Purpose.AGENT, Purpose.BROADCAST, Purpose.OPT_IN_CONFIRMATION, Purpose.OPT_OUT_CONFIRMATION):
        with pytest.raises(SendRefused):
            send(Outgoing(conversation_id, ANA, business_number, "x", purpose, "x"))
    broadcast = check_all([Outgoing("bc_1", ANA, business_number, "x", Purpose.BROADCAST, "x")])
    handed = send_each(broadcast, lambda checked: "x", pace=lambda parts: None, claim=lambda checked: lambda tx: None)
    assert [h.status for h in handed] == ["refused"], "the broadcast path refuses through the same guard"
    assert len(spy.to(ANA)) == 1


ACTIONS = st.lists(
    st.sampled_from(["STOP", "stop.", "START", "HELP", "hello", "send", "close"]), min_size=1, max_size=12
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(actions=ACTIONS)
def test_property_no_message_reaches_an_opted_out_number(business, spy, actions):
    """Random STOP/START/HELP/sends never hand the transport a message the rules forbid."""
    number = f"+1737555{next(counter) % 10000:04d}"
    opted_out = False
    business_number = agent_messages.business_numbers.load(BUSINESS_NUMBER)
    for action in actions:
        before = len(spy.to(number))
        if action in ("send", "close"):
            conversation_id = conversations.open_conversation_id(number, BUSINESS_NUMBER)
            if conversation_id is None:
                continue
            if action == "close":
                conversations.close(conversation_id, "x")
                continue
            with contextlib.suppress(SendRefused):
                send(Outgoing(conversation_id, number, business_number, "promo", Purpose.AGENT, "x"))
            sent = spy.to(number)[before:]
            assert not (opted_out and sent), "a message reached an opted-out number"
            continue
        text_in(action, sender=number)
        sent = spy.to(number)[before:]
        keyword = classify(action)
        if keyword and keyword.word in OPT_OUT_WORDS:
            assert len(sent) == (0 if opted_out else 1)
            opted_out = True
        elif keyword and keyword.word in OPT_IN_WORDS:
            assert len(sent) == (1 if opted_out else 0)
            opted_out = False
        elif keyword:
            assert len(sent) == 1 and "help" in sent[0].body.lower()
        else:
            assert sent == []
        assert (Contact.get(number).opt_status == "opted_out") == opted_out


def test_opt_outs_racing_on_one_epoch_counter_all_land():
    """Opt-outs of numbers with the same last digit share an epoch counter; concurrent ones all commit and count."""
    numbers = [f"+151255501{n}7" for n in range(8)]
    with ThreadPoolExecutor(len(numbers)) as pool:
        changed = list(pool.map(lambda n: optouts.opt_out(n, optouts.Scope(), source="keyword", actor=n), numbers))

    assert changed == [True] * len(numbers)
    assert {record.number for record in OptOut.batch_get([(n, "company") for n in numbers])} == set(numbers)
    assert OptOutMark.get("epoch#7").changes == len(numbers)
    assert optouts.epochs() == {"epoch#7": len(numbers)}
