"""Campaign keywords texted in: subscribing, campaign-scoped STOP, START/OOPS, HELP, and the guard per scope."""

import pytest

from chalicelib.models import Contact, OpenConversation, Subscription
from chalicelib.services import business_numbers, campaigns, inbound, optouts
from chalicelib.services.keywords import OPT_OUT_WORDS
from chalicelib.services.outbound import Outgoing, Purpose, SendRefused, send
from tests.conftest import BUSINESS_NUMBER

ANA = "+15125550134"
BEN = "+15125550135"
counter = iter(range(10**9))


def text_in(body, sender=ANA, to=BUSINESS_NUMBER):
    return inbound.receive(inbound.InboundSms("twilio", f"SMK{next(counter)}", sender, to, body))


def new_campaign(keywords, name="Spring", help_text=None, business_number=BUSINESS_NUMBER):
    return campaigns.create(
        {
            "name": name,
            "business_number": business_number,
            "keywords": keywords,
            "welcome_text": f"Welcome to {name}! Reply STOP to end.",
            "help_text": help_text,
        }
    )["id"]


def campaign_scoped(campaign_id):
    business_numbers.update(BUSINESS_NUMBER, {"optout_scope": "campaign", "campaign_id": campaign_id})


def message(purpose, campaign_id=None, number=ANA):
    business = business_numbers.load(BUSINESS_NUMBER)
    conversation_id = OpenConversation.get(f"{number}|{BUSINESS_NUMBER}").conversation_id
    return Outgoing(conversation_id, number, business, "news", purpose, "system", campaign_id=campaign_id)


def bodies(spy, number=ANA):
    return [m.body for m in spy.to(number)]


def test_keyword_subscribes_a_new_number_and_sends_the_welcome(business, spy):
    spring = new_campaign(["SPRING"])
    result = text_in(" spring! ")
    assert result["keyword"] == "SPRING"
    subscription = Subscription.get(spring, ANA)
    assert subscription.source == "keyword"
    assert list(campaigns.subscriber_numbers(spring)) == [[ANA]]
    assert len(spy.to(ANA)) == 1
    assert spy.to(ANA)[0].body.startswith("Welcome to Spring!")
    assert spy.to(ANA)[0].from_number == BUSINESS_NUMBER
    assert Contact.get(ANA).opt_status == "opted_in"


def test_texting_the_keyword_again_keeps_one_subscription(business, spy):
    spring = new_campaign(["SPRING"])
    text_in("SPRING")
    text_in("spring")
    assert [n for page in campaigns.subscriber_numbers(spring) for n in page] == [ANA]
    assert Subscription.get(spring, ANA).source == "keyword"
    assert len(spy.to(ANA)) == 2, "each request for the campaign is answered with its welcome"


def test_keyword_of_another_number_is_just_a_message(business, spy):
    business_numbers.create({"number": "+15125550177", "name": "Other"})
    other = new_campaign(["FALL"], business_number="+15125550177")
    result = text_in("FALL")
    assert result["keyword"] is None
    assert list(campaigns.subscriber_numbers(other)) == []
    assert spy.sent == []


@pytest.mark.parametrize("word", sorted(OPT_OUT_WORDS))
def test_stop_on_a_campaign_scoped_number_opts_out_of_that_campaign_only(business, spy, word):
    spring = new_campaign(["SPRING"])
    campaign_scoped(spring)
    text_in("SPRING")
    text_in(word.lower())
    contact = Contact.get(ANA)
    assert contact.opt_status == "opted_in"
    assert contact.opted_out_campaigns == {spring}
    assert contact.opted_out_numbers == {BUSINESS_NUMBER}
    assert len(spy.to(ANA)) == 2, "the welcome, then exactly one confirmation"
    assert "unsubscribed" in spy.to(ANA)[1].body
    for outgoing in (message(Purpose.BROADCAST, campaign_id=spring), message(Purpose.AGENT)):
        with pytest.raises(SendRefused) as refused:
            send(outgoing)
        assert f"opted out of {BUSINESS_NUMBER}" in refused.value.message
    text_in(word)
    assert len(spy.to(ANA)) == 2, "a second STOP gets no second confirmation"


def test_stop_opts_out_of_every_subscribed_campaign_on_that_number_with_one_confirmation(business, spy):
    spring = new_campaign(["SPRING"])
    summer = new_campaign(["SUMMER"], name="Summer")
    unrelated = new_campaign(["FALL"], name="Fall")
    campaign_scoped(spring)
    text_in("SPRING")
    text_in("SUMMER")
    text_in("STOP")
    assert Contact.get(ANA).opted_out_campaigns == {spring, summer}
    assert unrelated not in Contact.get(ANA).opted_out_campaigns
    confirmations = [b for b in bodies(spy) if "unsubscribed" in b]
    assert len(confirmations) == 1
    assert confirmations[0] == business_numbers.load(BUSINESS_NUMBER).optout_text, "no appended message"
    with pytest.raises(SendRefused):
        send(message(Purpose.BROADCAST, campaign_id=unrelated))


def test_stop_without_a_subscription_opts_out_of_the_numbers_campaign(business, spy):
    spring = new_campaign(["SPRING"])
    campaign_scoped(spring)
    text_in("hello")
    text_in("STOP")
    assert Contact.get(ANA).opted_out_campaigns == {spring}
    assert Contact.get(ANA).opt_status == "opted_in"
    assert Contact.get(ANA).opted_out_numbers == {BUSINESS_NUMBER}
    history = optouts.history(ANA)
    assert sorted((h["action"], h["scope"], h["campaign_id"] or "", h["source"]) for h in history) == [
        ("opt_out", "campaign", spring, "keyword"),
        ("opt_out", "number", "", "keyword"),
    ]


def test_stop_on_a_company_scoped_number_opts_out_company_wide(business, spy):
    spring = new_campaign(["SPRING"])
    text_in("SPRING")
    text_in("STOP")
    contact = Contact.get(ANA)
    assert contact.opt_status == "opted_out"
    assert contact.opted_out_campaigns in (None, set())
    assert len(spy.to(ANA)) == 2
    for outgoing in (message(Purpose.BROADCAST, campaign_id=spring), message(Purpose.AGENT)):
        with pytest.raises(SendRefused):
            send(outgoing)


@pytest.mark.parametrize("word", ["START", "oops", "Unstop", "yes"])
def test_start_or_oops_opts_back_in_to_what_stop_opted_out_of(business, spy, word):
    spring = new_campaign(["SPRING"])
    summer = new_campaign(["SUMMER"], name="Summer")
    campaign_scoped(spring)
    text_in("SPRING")
    text_in("SUMMER")
    text_in("STOP")
    text_in(word)
    assert Contact.get(ANA).opted_out_campaigns in (None, set())
    assert Contact.get(ANA).opted_out_numbers in (None, set())
    assert bodies(spy)[-1].startswith(business_numbers.load(BUSINESS_NUMBER).optin_text)
    send(message(Purpose.BROADCAST, campaign_id=spring))
    send(message(Purpose.BROADCAST, campaign_id=summer))
    send(message(Purpose.AGENT))
    actions = sorted((h["action"], h["campaign_id"] or h["business_number"]) for h in optouts.history(ANA))
    scopes = (spring, summer, BUSINESS_NUMBER)
    assert actions == sorted([*(("opt_out", s) for s in scopes), *(("opt_in", s) for s in scopes)])


def test_keyword_opts_back_in_to_its_campaign_with_keyword_as_the_source(business, spy):
    spring = new_campaign(["SPRING"])
    campaign_scoped(spring)
    text_in("SPRING")
    text_in("STOP")
    text_in("SPRING")
    assert Contact.get(ANA).opted_out_campaigns in (None, set())
    assert Contact.get(ANA).opted_out_numbers in (None, set())
    assert bodies(spy)[-1].startswith("Welcome to Spring!")
    lifted = {(h["campaign_id"], h["source"]) for h in optouts.history(ANA) if h["action"] == "opt_in"}
    assert (spring, "keyword") in lifted
    send(message(Purpose.BROADCAST, campaign_id=spring))


def test_keyword_lifts_a_company_wide_opt_out_too(business, spy):
    spring = new_campaign(["SPRING"])
    text_in("STOP")
    assert Contact.get(ANA).opt_status == "opted_out"
    text_in("spring")
    assert Contact.get(ANA).opt_status == "opted_in"
    assert bodies(spy)[-1].startswith("Welcome to Spring!")
    assert [n for page in campaigns.subscriber_numbers(spring) for n in page] == [ANA]


def test_help_uses_the_subscribed_campaigns_help_text(business, spy):
    spring = new_campaign(["SPRING"], help_text="Spring: deals weekly. Reply STOP to end.")
    campaign_scoped(spring)
    text_in("help", sender=BEN)
    assert len(bodies(spy, BEN)) == 1
    assert bodies(spy, BEN)[0].startswith(business_numbers.load(BUSINESS_NUMBER).help_text)
    text_in("SPRING")
    text_in("STOP")
    text_in("info")
    assert bodies(spy)[-1].startswith("Spring: deals weekly. Reply STOP to end.")
    assert len(spy.to(ANA)) == 3, "welcome, confirmation, help: help is answered even when opted out"


def test_help_falls_back_to_the_number_when_the_campaign_has_none(business, spy):
    new_campaign(["SPRING"])
    text_in("SPRING")
    text_in("HELP")
    assert bodies(spy)[-1].startswith(business_numbers.load(BUSINESS_NUMBER).help_text)


def test_archived_campaign_keyword_is_just_a_message(business, spy):
    spring = new_campaign(["SPRING"])
    campaigns.update(spring, {"status": "archived"})
    assert text_in("SPRING")["keyword"] is None
    assert list(campaigns.subscriber_numbers(spring)) == []
    assert spy.sent == []


def test_campaign_scoped_number_must_name_a_campaign_of_its_own(business, as_admin):
    missing = as_admin.patch(f"/business-numbers/{BUSINESS_NUMBER}", {"optout_scope": "campaign", "campaign_id": "x"})
    assert missing.status_code == 400
    business_numbers.create({"number": "+15125550177", "name": "Other"})
    elsewhere = new_campaign(["FALL"], business_number="+15125550177")
    wrong = as_admin.patch(
        f"/business-numbers/{BUSINESS_NUMBER}", {"optout_scope": "campaign", "campaign_id": elsewhere}
    )
    assert wrong.status_code == 400
    assert "campaign_id" in wrong.body.decode()


def test_inbound_keyword_lookup_is_at_most_one_read(business, spy, dynamodb_calls):
    new_campaign(["SPRING"])
    text_in("SPRING")
    dynamodb_calls.clear()
    text_in("just chatting")
    short = list(dynamodb_calls)
    dynamodb_calls.clear()
    text_in("just chatting about the order I placed last week, is it ready yet?")
    long = list(dynamodb_calls)
    assert "Query" not in short + long, "no list of the number's keywords is read"
    assert short.count("GetItem") == long.count("GetItem") + 1, "one key read for a short text, none for a long one"


def test_a_numbers_default_campaign_cannot_move_to_another_number(business, as_admin):
    spring = new_campaign(["SPRING"])
    campaign_scoped(spring)
    business_numbers.create({"number": "+15125550177", "name": "Other"})
    moved = as_admin.patch(f"/campaigns/{spring}", {"business_number": "+15125550177"})
    assert moved.status_code == 400
    assert BUSINESS_NUMBER in moved.body.decode()
    assert campaigns.get_campaign(spring).business_number == BUSINESS_NUMBER
