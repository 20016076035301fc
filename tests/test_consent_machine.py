"""A state machine over keywords, manual opt-outs, blocks, agent messages and broadcasts, against a model of the rules.

The model is written from the consent rules as stated, not from the code: each
person has a set of opt-out scopes, each remembering what put it there, since
START must lift exactly what STOPs to its number did and nothing staff did. After
every step the transport's new messages are compared with the model: nothing it
forbids may have gone (safety), and everything it allows must have gone
(liveness), so the machine fails as much on a guard that refuses too much as on
one that lets through too much. The contacts' opt-out views must match it too.
"""

from __future__ import annotations

import contextlib
import itertools
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import pytest
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from chalicelib.errors import NotFound
from chalicelib.models import Contact
from chalicelib.services import (
    agent_messages,
    broadcasts,
    business_numbers,
    campaigns,
    contacts,
    conversations,
    groups,
    inbound,
    optouts,
)
from chalicelib.services.outbound import SendRefused
from chalicelib.services.send_rate import SendRate
from chalicelib.services.visibility import Viewer
from tests.conftest import BUSINESS_NUMBER
from tests.test_broadcasts import run_send_queue

N, M = BUSINESS_NUMBER, "+15125550111"
"""N: campaign-scoped opt-outs, default campaign Home, campaign Winter (keyword WINTER). M: company scope."""
COMPANY = "company"
SAM = Viewer("sam", "supervisor", frozenset())
PERSON = st.integers(0, 1)
SENDER = st.sampled_from([N, M])
CAMPAIGN = st.sampled_from(["winter", "home"])
serial = itertools.count()
"""Tables are only emptied between tests, so every example texts new people and every message a new id."""


@dataclass
class World:
    home: str
    winter: str
    texts: dict[str, Any]
    spy: Any
    client: Any
    bucket: Any


@dataclass
class Person:
    number: str
    out: dict[str, str] = field(default_factory=dict)
    """Scope key -> who put it there: "stop:<number texted>" for a STOP, "manual" otherwise."""
    subscribed: set[str] = field(default_factory=set)
    blocked: bool = False
    open_on: set[str] = field(default_factory=set)
    """Business numbers with an open conversation with this person."""


class ConsentMachine(RuleBasedStateMachine):
    def __init__(self, world: World) -> None:
        super().__init__()
        self.w = world
        self.people = [Person(f"+1737555{next(serial) % 10000:04d}") for _ in range(2)]
        self.group = groups.create_group({"name": f"pool {next(serial)}"})["id"]
        groups.add_members(self.group, [p.number for p in self.people])
        self.seen = len(world.spy.sent)
        self.expected: Counter[tuple[str, str]] = Counter()
        self.answers: Counter[tuple[str, str]] = Counter()
        """HELP answers and STOP confirmations this step may send: (to, from), each once."""
        self.campaign: str | None = None
        """The campaign this step's other messages belong to."""

    def teardown(self) -> None:
        """Subscriptions outlive the example and a campaign broadcast in the next one would reach these people."""
        for person in self.people:
            for campaign_id in (self.w.home, self.w.winter):
                campaigns.unsubscribe(campaign_id, person.number)

    # The model

    def campaign_id(self, name: str | None) -> str | None:
        return {None: None, "home": self.w.home, "winter": self.w.winter}[name]

    def default_campaign(self, sender: str) -> str | None:
        return self.w.home if sender == N else None

    def refused(self, person: Person, sender: str, campaign_id: str | None) -> bool:
        return (
            person.blocked
            or COMPANY in person.out
            or f"number#{sender}" in person.out
            or (campaign_id is not None and f"campaign#{campaign_id}" in person.out)
        )

    def expect(self, person: Person, sender: str, campaign_id: str | None = None, *, asked: bool = False) -> None:
        """One message from `sender` must reach `person` now if the model allows it (asked for: if not blocked)."""
        if asked:
            self.answers[person.number, sender] += 1
        if not (person.blocked if asked else self.refused(person, sender, campaign_id)):
            self.expected[person.number, sender] += 1

    def asked_for(self, message: Any) -> bool:
        """A HELP answer or opt-out confirmation this step allowed, counted off so a second one is not."""
        texts = self.w.texts[message.from_number]
        kind = texts["help_text"] in message.body or message.body.startswith(texts["optout_text"])
        if kind and self.answers[message.to, message.from_number] > 0:
            self.answers[message.to, message.from_number] -= 1
            return True
        return False

    # Rules

    @rule(who=PERSON, to=SENDER, word=st.sampled_from(["STOP", "START"]))
    def stop_or_start(self, who: int, to: str, word: str) -> None:
        self.text_in(self.people[who], to, word)

    @rule(who=PERSON, to=SENDER, word=st.sampled_from(["HELP", "WINTER", "hello"]))
    def text(self, who: int, to: str, word: str) -> None:
        self.text_in(self.people[who], to, word)

    def text_in(self, person: Person, to: str, word: str) -> None:
        inbound.receive(inbound.InboundSms("twilio", f"SMC{next(serial)}", person.number, to, word))
        person.open_on.add(to)
        stopped_by = f"stop:{to}"
        if word == "HELP":
            self.expect(person, to, asked=True)
        elif word == "STOP":
            if to == M:
                covered = [COMPANY]
            else:
                joined = sorted(person.subscribed) or [self.w.home]
                covered = [f"number#{N}", *(f"campaign#{campaign_id}" for campaign_id in joined)]
            changed = [key for key in covered if key not in person.out]
            person.out.update(dict.fromkeys(changed, stopped_by))
            if changed:
                self.expect(person, to, asked=True)
        elif word == "START":
            lifted = [key for key, by in person.out.items() if by == stopped_by or (key == COMPANY and to == M)]
            for key in lifted:
                del person.out[key]
            if lifted:
                self.expect(person, to)
        elif word == "WINTER" and to == N:
            for key in (COMPANY, f"number#{N}", f"campaign#{self.w.winter}"):
                person.out.pop(key, None)
            person.subscribed.add(self.w.winter)
            self.campaign = self.w.winter
            self.expect(person, to, self.w.winter)

    @rule(who=PERSON, campaign=st.one_of(st.none(), CAMPAIGN), out=st.booleans())
    def manual(self, who: int, campaign: str | None, out: bool) -> None:
        self.manually(self.people[who], campaign, out)

    def manually(self, person: Person, campaign: str | None, out: bool) -> None:
        campaign_id = self.campaign_id(campaign)
        change = optouts.opt_out if out else optouts.opt_in
        change(person.number, optouts.Scope(campaign_id), source="manual", actor="sam")
        key = COMPANY if campaign_id is None else f"campaign#{campaign_id}"
        if out:
            person.out.setdefault(key, "manual")
        else:
            person.out.pop(key, None)

    @rule(who=PERSON, campaign=CAMPAIGN, join=st.booleans())
    def subscription(self, who: int, campaign: str, join: bool) -> None:
        person, campaign_id = self.people[who], self.campaign_id(campaign)
        if join:
            campaigns.subscribe(campaign_id, person.number)
            person.subscribed.add(campaign_id)
        else:
            campaigns.unsubscribe(campaign_id, person.number)
            person.subscribed.discard(campaign_id)

    @rule(who=PERSON, blocked=st.booleans())
    def block(self, who: int, blocked: bool) -> None:
        person = self.people[who]
        try:
            contacts.update_contact(person.number, {"blocked": blocked})
        except NotFound:
            contacts.create_contact({"number": person.number, "blocked": blocked})
        person.blocked = blocked

    def open_conversation(self, person: Person, sender: str) -> str | None:
        conversation_id = conversations.open_conversation_id(person.number, sender)
        assert (conversation_id is not None) == (sender in person.open_on), "the open conversations disagree"
        return conversation_id

    @rule(who=PERSON, sender=SENDER)
    def agent_message(self, who: int, sender: str) -> None:
        person = self.people[who]
        conversation_id = self.open_conversation(person, sender)
        draft = agent_messages.Draft("Any news?", ())
        with contextlib.suppress(SendRefused):
            if conversation_id is None:
                agent_messages.start_conversation(sender, person.number, draft, "sam")
            else:
                agent_messages.reply(conversations.load(conversation_id), SAM, draft)
        if not self.refused(person, sender, None):
            person.open_on.add(sender)
        self.expect(person, sender)

    @rule(who=PERSON, sender=SENDER)
    def close(self, who: int, sender: str) -> None:
        person = self.people[who]
        conversation_id = self.open_conversation(person, sender)
        if conversation_id is not None:
            conversations.close(conversation_id, "ada")
            person.open_on.discard(sender)

    @rule(
        sender=SENDER,
        audience=st.sampled_from(["numbers", "group", "winter", "home"]),
        picks=st.sets(PERSON, min_size=1),
    )
    def broadcast(self, sender: str, audience: str, picks: set[int]) -> None:
        campaign_id = self.campaign_id(audience) if audience in ("winter", "home") else None
        if audience == "numbers":
            recipients = [self.people[i] for i in sorted(picks)]
            source: dict[str, Any] = {"numbers": [p.number for p in recipients]}
        elif audience == "group":
            recipients, source = self.people, {"groups": [self.group]}
        else:
            recipients = [p for p in self.people if campaign_id in p.subscribed]
            source = {"campaigns": [campaign_id]}
        self.send_broadcast(sender, source, recipients, campaign_id or self.default_campaign(sender))

    def send_broadcast(self, sender: str, source: dict[str, Any], recipients: list[Person], campaign_id: Any) -> None:
        broadcasts.create({"body": "News!", "business_number": sender, **source}, actor="sam")
        run_send_queue(self.w.client, self.w.bucket)
        self.campaign = campaign_id
        for person in recipients:
            self.expect(person, sender, campaign_id)

    @rule(
        sender=SENDER,
        who=PERSON,
        landing=st.sampled_from([("STOP", N), ("STOP", M), ("manual", None), ("manual", "home"), ("manual", "winter")]),
    )
    def opt_out_during_pacing(self, sender: str, who: int, landing: tuple[str, str | None]) -> None:
        """An opt-out committed while a broadcast waits for its turn wins: the final check is after the wait.

        The target goes first, so the first wait is theirs when the early check
        let them through; the opt-out lands there, after that check and before
        any recipient is claimed, so every claim must see it.
        """
        target = self.people[who]
        order = [target, *(p for p in self.people if p is not target)]
        campaign_id = self.default_campaign(sender)
        let_through = [not self.refused(p, sender, campaign_id) for p in order]
        landed: list[bool] = []
        original = SendRate.acquire

        def acquire(rate: SendRate, parts: int) -> None:
            original(rate, parts)
            if not landed:
                landed.append(True)
                kind, where = landing
                if kind == "STOP":
                    self.text_in(target, where, "STOP")
                else:
                    self.manually(target, where, True)

        with mock.patch.object(SendRate, "acquire", acquire):
            self.send_broadcast(sender, {"numbers": [p.number for p in order]}, order, campaign_id)
        assert bool(landed) == any(let_through), "only the people the early check lets through wait for their turn"
        if let_through[0] and self.refused(target, sender, campaign_id):
            event("an opt-out landed between the early check and the claim")

    # Invariants

    @invariant()
    def every_send_allowed_and_every_allowed_send_made(self) -> None:
        new = self.w.spy.sent[self.seen :]
        self.seen += len(new)
        people = {p.number: p for p in self.people}
        for message in new:
            person = people.get(message.to)
            assert person is not None, f"{message.to} is nobody in this example"
            assert not person.blocked, f"{message.from_number} texted blocked {message.to}: {message.body!r}"
            assert self.asked_for(message) or not self.refused(person, message.from_number, self.campaign), (
                f"{message.from_number} texted {message.to} {message.body!r} (campaign {self.campaign}) "
                f"while opted out of {sorted(person.out)}"
            )
        sent = Counter((m.to, m.from_number) for m in new)
        assert sent == self.expected, f"sent {dict(sent)}; the model expected {dict(self.expected)}"
        self.expected, self.answers, self.campaign = Counter(), Counter(), None

    @invariant()
    def contact_views_agree(self) -> None:
        for person in self.people:
            try:
                contact = Contact.get(person.number, consistent_read=True)
            except Contact.DoesNotExist:
                assert not person.out and not person.blocked, f"{person.number} has no contact"
                continue
            keys = set(person.out)
            view = {
                "opted_out": contact.opt_status == "opted_out",
                "numbers": set(contact.opted_out_numbers or ()),
                "campaigns": set(contact.opted_out_campaigns or ()),
                "blocked": bool(contact.blocked),
            }
            assert view == {
                "opted_out": COMPANY in keys,
                "numbers": {key.removeprefix("number#") for key in keys if key.startswith("number#")},
                "campaigns": {key.removeprefix("campaign#") for key in keys if key.startswith("campaign#")},
                "blocked": person.blocked,
            }, f"{person.number}: the contact's view disagrees with {person.out}"


@pytest.fixture
def world(business, bucket, spy, client) -> World:
    home = campaigns.create({"name": "Home", "business_number": N, "welcome_text": "Home!"})["id"]
    winter = campaigns.create(
        {"name": "Winter", "business_number": N, "keywords": ["WINTER"], "welcome_text": "Winter!"}
    )["id"]
    business_numbers.update(N, {"optout_scope": "campaign", "campaign_id": home, "mps": 1000})
    business_numbers.create({"number": M, "name": "Other"})
    business_numbers.update(M, {"mps": 1000})
    texts = {number: business_numbers.load(number).attribute_values for number in (N, M)}
    return World(home, winter, texts, spy, client, bucket)


def test_no_send_reaches_a_person_opted_out_in_a_scope_that_covers_it(world):
    run_state_machine_as_test(
        lambda: ConsentMachine(world), settings=settings(max_examples=25, stateful_step_count=20, deadline=None)
    )


# START against the rule "lifts exactly what STOPs to it did": the machine found these when START read a list of
# covered campaigns kept on the number's silence; kept here because it reaches them only sometimes.


def texts_in(person: str, *words: str) -> None:
    for word in words:
        inbound.receive(inbound.InboundSms("twilio", f"SMC{next(serial)}", person, N, word))


def opted_out_campaigns(person: str) -> set[str]:
    return set(Contact.get(person, consistent_read=True).opted_out_campaigns or ())


def test_start_leaves_alone_a_campaign_opt_out_staff_made_after_the_stop(world):
    """The silence still lists Winter as covered, but that opt-out was lifted and staff made a new one."""
    person = "+17375559901"
    campaigns.subscribe(world.winter, person)
    texts_in(person, "STOP")
    for change in (optouts.opt_in, optouts.opt_out):
        change(person, optouts.Scope(world.winter), source="manual", actor="sam")
    texts_in(person, "START")
    assert opted_out_campaigns(person) == {world.winter}


def test_start_lifts_the_campaign_a_second_stop_opted_out_of(world):
    """The second STOP, after joining Winter, opts out of Winter and confirms; START answers "subscribed again"."""
    person = "+17375559902"
    texts_in(person, "STOP")
    campaigns.subscribe(world.winter, person)
    texts_in(person, "STOP", "START")
    assert opted_out_campaigns(person) == set()


def test_start_lifts_what_a_stop_covered_after_a_keyword_lifted_its_silence(world):
    """WINTER lifts the silence and leaves Home; START then finds no silence, and no keyword can ever lift Home."""
    person = "+17375559903"
    texts_in(person, "STOP", "WINTER", "START")
    assert opted_out_campaigns(person) == set()
