"""The one send guard across scopes: which opt-out refuses which message, for every purpose."""

import pytest

from chalicelib.models import OpenConversation
from chalicelib.services import business_numbers, campaigns, inbound, optouts
from chalicelib.services.outbound import Outgoing, Purpose, SendRefused, guard, send
from tests.conftest import BUSINESS_NUMBER

ANA = "+15125550134"
counter = iter(range(10**9))

GUARDED = (Purpose.AGENT, Purpose.BROADCAST, Purpose.OPT_IN_CONFIRMATION)


@pytest.fixture
def setting(business, spy):
    """Two campaigns on the number and a conversation with ANA to send into."""
    spring, summer = (
        campaigns.create({"name": name, "business_number": BUSINESS_NUMBER, "welcome_text": "hi"})["id"]
        for name in ("Spring", "Summer")
    )
    inbound.receive(inbound.InboundSms("twilio", f"SMG{next(counter)}", ANA, BUSINESS_NUMBER, "hello"))
    conversation_id = OpenConversation.get(f"{ANA}|{BUSINESS_NUMBER}").conversation_id
    return {"spring": spring, "summer": summer, "conversation_id": conversation_id}


def outgoing(setting, purpose, campaign):
    return Outgoing(
        setting["conversation_id"],
        ANA,
        business_numbers.load(BUSINESS_NUMBER),
        "news",
        purpose,
        "system",
        campaign_id=setting[campaign] if campaign else None,
    )


@pytest.mark.parametrize("purpose", GUARDED, ids=lambda p: p.value)
@pytest.mark.parametrize(
    ("opted_out_of", "campaign", "refused"),
    [
        (None, None, False),
        (None, "spring", False),
        ("spring", None, False),
        ("spring", "spring", True),
        ("spring", "summer", False),
        ("company", None, True),
        ("company", "spring", True),
    ],
)
def test_guard_refuses_exactly_the_messages_in_an_opted_out_scope(setting, purpose, opted_out_of, campaign, refused):
    if opted_out_of is not None:
        scope = optouts.Scope() if opted_out_of == "company" else optouts.Scope(setting[opted_out_of])
        optouts.opt_out(ANA, scope, source="manual", actor="ada")
    reason = guard(outgoing(setting, purpose, campaign))
    assert (reason is not None) is refused
    if refused:
        expected = "company-wide" if opted_out_of == "company" else f"of campaign {setting['spring']}"
        assert expected in reason


@pytest.mark.parametrize("opted_out_of", ["company", "spring"])
def test_help_passes_whatever_the_scope(setting, opted_out_of):
    scope = optouts.Scope() if opted_out_of == "company" else optouts.Scope(setting["spring"])
    optouts.opt_out(ANA, scope, source="manual", actor="ada")
    assert guard(outgoing(setting, Purpose.HELP, "spring")) is None


def test_a_campaign_opt_out_allows_one_confirmation_of_that_scope_only(setting, spy):
    spring = optouts.Scope(setting["spring"])
    optouts.opt_out(ANA, spring, source="keyword", actor=ANA)
    confirmation = Outgoing(
        setting["conversation_id"],
        ANA,
        business_numbers.load(BUSINESS_NUMBER),
        "bye",
        Purpose.OPT_OUT_CONFIRMATION,
        "system",
        campaign_id=setting["spring"],
        optout_scope=spring,
    )
    company_claim = Outgoing(**{**confirmation.__dict__, "optout_scope": optouts.Scope()})
    assert guard(company_claim) is not None, "no company-wide opt-out to confirm"
    send(confirmation)
    with pytest.raises(SendRefused):
        send(confirmation)
    sent = spy.to(ANA)
    assert len(sent) == 1
    assert sent[0].body.startswith("bye")


def test_opting_back_in_to_a_campaign_lifts_only_its_refusal(setting):
    optouts.opt_out(ANA, optouts.Scope(setting["spring"]), source="manual", actor="ada")
    optouts.opt_out(ANA, optouts.Scope(setting["summer"]), source="manual", actor="ada")
    optouts.opt_in(ANA, optouts.Scope(setting["spring"]), source="manual", actor="ada")
    assert guard(outgoing(setting, Purpose.BROADCAST, "spring")) is None
    assert guard(outgoing(setting, Purpose.BROADCAST, "summer")) is not None
