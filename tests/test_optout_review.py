"""Words that may ask to stop: flagged for an agent, who confirms (an opt-out from the agent) or dismisses."""

from __future__ import annotations

from chalicelib.models import Contact, OpenConversation
from chalicelib.services import business_numbers, campaigns, inbound, optouts
from tests.conftest import BUSINESS_NUMBER

ANA = "+15125550134"
UNSURE = "I want to stop getting these but first tell me my balance"
counter = iter(range(10**9))


def text_in(body: str) -> dict:
    return inbound.receive(inbound.InboundSms("twilio", f"SMV{next(counter)}", ANA, BUSINESS_NUMBER, body))


def conversation_id() -> str:
    return OpenConversation.get(f"{ANA}|{BUSINESS_NUMBER}").conversation_id


def test_unsure_words_flag_the_conversation_and_change_nothing(business, spy, team):
    text_in("hello")
    result = text_in(UNSURE)
    assert result["keyword"] is None
    assert Contact.get(ANA).opt_status == "opted_in"
    assert spy.sent == []
    view = team.alex.get(f"/conversations/{conversation_id()}").json_body
    assert view["possible_optout"] is True
    assert [m["possible_optout"] for m in view["messages"] if m["direction"] == "inbound"] == [False, True]
    listed = team.sam.get("/conversations").json_body["items"]
    assert [c["possible_optout"] for c in listed] == [True], "the inbox item shows the flag"


def test_an_agent_confirms_once_and_the_confirmation_goes_out_once(business, spy, team):
    text_in(UNSURE)
    path = f"/conversations/{conversation_id()}/optout"
    first = team.alex.post(path)
    assert first.status_code == 200, first.json_body
    assert first.json_body["result"] == "opted_out"
    assert first.json_body["confirmation_sent"] is True
    assert first.json_body["conversation"]["possible_optout"] is False
    assert Contact.get(ANA).opt_status == "opted_out"
    [change] = optouts.history(ANA)
    assert (change["source"], change["actor"], change["scope"]) == ("agent", "alex", "company")
    again = team.alex.post(path).json_body
    assert (again["result"], again["confirmation_sent"]) == ("already_opted_out", False)
    assert [m.body for m in spy.to(ANA)] == [business_numbers.load(BUSINESS_NUMBER).optout_text]
    assert team.alex.post(f"/conversations/{conversation_id()}/messages", {"body": "still there?"}).status_code == 409


def test_confirming_on_a_campaign_scoped_number_silences_that_number(business, spy, team):
    home = campaigns.create({"name": "Home", "business_number": BUSINESS_NUMBER, "welcome_text": "hi"})["id"]
    business_numbers.update(BUSINESS_NUMBER, {"optout_scope": "campaign", "campaign_id": home})
    text_in(UNSURE)
    response = team.alex.post(f"/conversations/{conversation_id()}/optout").json_body
    assert [(s["scope"], s["campaign_id"]) for s in response["scopes"]] == [("number", None), ("campaign", home)]
    contact = Contact.get(ANA)
    assert (contact.opt_status, contact.opted_out_numbers) == ("opted_in", {BUSINESS_NUMBER})


def test_dismissing_clears_the_flag_only(business, spy, team):
    text_in(UNSURE)
    dismissed = team.alex.post(f"/conversations/{conversation_id()}/optout/dismiss")
    assert dismissed.status_code == 200
    assert dismissed.json_body["possible_optout"] is False
    assert Contact.get(ANA).opt_status == "opted_in"
    text_in("can you stop sending so many?")
    assert team.alex.get(f"/conversations/{conversation_id()}").json_body["possible_optout"] is True


def test_an_agent_who_may_not_see_the_conversation_gets_404(business, spy, team):
    text_in(UNSURE)
    team.sam.post(f"/conversations/{conversation_id()}/transfer", {"group": team.support})
    assert team.alex.post(f"/conversations/{conversation_id()}/optout").status_code == 404
    assert Contact.get(ANA).opt_status == "opted_in"


def test_spanish_opt_outs_are_confirmed_in_spanish_when_the_number_has_a_text(business, spy):
    business_numbers.update(BUSINESS_NUMBER, {"optout_text_es": "Acme: no recibirá más mensajes."})
    text_in("BAJA")
    assert Contact.get(ANA).opt_status == "opted_out"
    assert [m.body for m in spy.to(ANA)] == ["Acme: no recibirá más mensajes."]


def test_clear_plain_language_opt_outs_act_at_once(business, spy):
    for body in ("Stop texting me", "please unsubscribe", "STOP\nSent from my iPhone", "remove me from your list"):
        number = f"+1737555{next(counter):04d}"
        inbound.receive(inbound.InboundSms("twilio", f"SMV{next(counter)}", number, BUSINESS_NUMBER, body))
        assert Contact.get(number).opt_status == "opted_out", body
        assert len(spy.to(number)) == 1, body


def test_a_numbers_silences_are_listed_by_business_number(business, spy, as_agent):
    home = campaigns.create({"name": "Home", "business_number": BUSINESS_NUMBER, "welcome_text": "hi"})["id"]
    business_numbers.update(BUSINESS_NUMBER, {"optout_scope": "campaign", "campaign_id": home})
    text_in("STOP")
    listed = as_agent.get("/optouts?business_number=5125550100").json_body["items"]
    assert [(i["number"], i["scope"], i["business_number"]) for i in listed] == [(ANA, "number", BUSINESS_NUMBER)]
    assert as_agent.get("/optouts").json_body["items"] == [], "no company-wide opt-out"
    assert as_agent.get("/optouts?business_number=5125550199").status_code == 404
    both = as_agent.get(f"/optouts?business_number=5125550100&campaign_id={home}")
    assert (both.status_code, both.json_body["error"]["field"]) == (400, "business_number")


def test_an_agent_confirms_a_spanish_speaker_in_spanish(business, spy, team):
    business_numbers.update(BUSINESS_NUMBER, {"optout_text_es": "Acme: no recibirá más mensajes."})
    text_in("¿Cómo me doy de baja?")
    conversation = team.alex.get(f"/conversations/{conversation_id()}").json_body
    assert conversation["possible_optout"] is True
    assert team.alex.post(f"/conversations/{conversation_id()}/optout").json_body["confirmation_sent"] is True
    assert [m.body for m in spy.to(ANA)] == ["Acme: no recibirá más mensajes."]
