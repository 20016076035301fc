"""The inbox rules and placeholder rendering as plain functions: no AWS needed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib import placeholders
from chalicelib.errors import ValidationFailed
from chalicelib.models import Conversation
from chalicelib.models.conversations import queue_of
from chalicelib.services.visibility import Viewer, can_see

ALEX = Viewer("alex", "agent", frozenset({"sales"}))
SAM = Viewer("sam", "supervisor", frozenset())


def conversation(status="open", agent=None, group=None, participants=None, groups_seen=None) -> Conversation:
    return Conversation(
        "conv_1",
        contact_number="+15125550134",
        business_number="+15125550100",
        status=status,
        assigned_agent=agent,
        assigned_group=group,
        participants=participants,
        groups_seen=groups_seen,
        created_at=datetime.now(UTC),
    )


@pytest.mark.parametrize(
    ("kwargs", "alex_sees"),
    [
        ({"agent": "alex"}, True),
        ({"agent": "alex", "group": "support"}, True),
        ({"agent": "riley"}, False),
        ({"agent": "riley", "group": "sales"}, False),
        ({"group": "sales"}, True),
        ({"group": "support"}, False),
        ({}, True),
        ({"status": "closed", "participants": {"alex"}}, True),
        ({"status": "closed", "groups_seen": {"sales"}}, True),
        ({"status": "closed", "participants": {"riley"}, "groups_seen": {"support"}}, False),
        ({"status": "closed"}, False),
    ],
)
def test_agent_visibility(kwargs, alex_sees):
    subject = conversation(**kwargs)
    assert can_see(subject, ALEX) is alex_sees
    assert can_see(subject, SAM) is True


def test_an_open_conversation_sits_in_exactly_the_queue_that_shows_it():
    assert queue_of("alex", "support") == "agent#alex"
    assert queue_of(None, "sales") == "group#sales"
    assert queue_of(None, None) == "unassigned"


def test_placeholders_render_with_fallbacks():
    template = "Hi {first_name|there}, your {city} store. {last_name}"
    assert placeholders.render(template, {"first_name": "Ana", "city": "Austin"}) == "Hi Ana, your Austin store. "
    assert placeholders.render(template, {"first_name": "  "}) == "Hi there, your  store. "
    assert placeholders.render("{ not a placeholder }", {}) == "{ not a placeholder }"


def test_unknown_placeholders_are_reported_with_positions():
    with pytest.raises(ValidationFailed) as raised:
        placeholders.check("Hi {first_name}, {nick} and {pet|dog}", {"first_name"}, field="text")
    assert raised.value.details == [
        {"field": "text", "placeholder": "nick", "position": 17},
        {"field": "text", "placeholder": "pet", "position": 28},
    ]
