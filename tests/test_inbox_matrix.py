"""Every conversation route x role x ownership state, with the status each cell must answer.

States are seen from alex (an agent in Sales): their own conversation, riley's
(another agent), one assigned to Sales with no agent, one assigned to Support,
an unassigned one, and a closed one alex took part in, plus a closed one alex
never touched. Each cell gets a fresh conversation, so cells cannot affect
each other. Assignments are dated outside the claim-race window, so "another
agent's" is the settled state (a claim racing a fresh one is tested apart).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.ids import new_id
from chalicelib.models import Conversation
from chalicelib.services import assignment, conversations, inbound
from chalicelib.services.assignment import CLAIM_RACE_SECONDS
from chalicelib.services.visibility import Viewer
from tests.conftest import BUSINESS_NUMBER, Team

STATES = ("own", "other_agent", "own_group", "other_group", "unassigned", "closed", "closed_other")
ADMIN = Viewer("ada", "admin", frozenset())
_numbers = itertools.count(5550200)


def text_in(number: str, body: str = "hello") -> str:
    """A contact texts the business; returns the conversation it landed in."""
    sms = inbound.InboundSms("twilio", new_id("SM"), number, BUSINESS_NUMBER, body)
    return inbound.receive(sms)["conversation_id"]


def place(state: str, team: Team) -> tuple[str, str]:
    """A new conversation in `state` (as alex sees it); returns (conversation id, contact number)."""
    number = f"+1512{next(_numbers):07d}"
    conversation_id = text_in(number)
    conversation = conversations.load(conversation_id)
    agent, group = {
        "own": ("alex", None),
        "other_agent": ("riley", None),
        "own_group": (None, team.sales),
        "other_group": (None, team.support),
        "closed": ("alex", None),
        "closed_other": ("riley", team.support),
    }.get(state, (None, None))
    if agent or group:
        assignment.transfer(conversation, ADMIN, agent, group)
        settled = datetime.now(UTC) - timedelta(seconds=CLAIM_RACE_SECONDS + 1)
        Conversation(conversation_id).update(actions=[Conversation.assigned_at.set(settled)])
    if state.startswith("closed"):
        conversations.close(conversation_id, agent or "ada")
    return conversation_id, number


Action = Callable[[Any, str, str, Team], Any]

ACTIONS: dict[str, Action] = {
    "read": lambda api, cid, number, team: api.get(f"/conversations/{cid}"),
    "reply": lambda api, cid, number, team: api.post(f"/conversations/{cid}/messages", {"body": "On it"}),
    "note": lambda api, cid, number, team: api.post(f"/conversations/{cid}/notes", {"body": "VIP"}),
    "claim": lambda api, cid, number, team: api.post(f"/conversations/{cid}/claim"),
    "transfer": lambda api, cid, number, team: api.post(f"/conversations/{cid}/transfer", {"group": team.support}),
    "close": lambda api, cid, number, team: api.post(f"/conversations/{cid}/close"),
    "bulk_close": lambda api, cid, number, team: api.post("/conversations/close", {"ids": [cid]}),
}

STAFF_EXPECTED = {
    "read": dict.fromkeys(STATES, 200),
    "reply": {**dict.fromkeys(STATES, 201), "closed": 409, "closed_other": 409},
    "note": {**dict.fromkeys(STATES, 201), "closed": 409, "closed_other": 409},
    "claim": {
        "own": 409,
        "other_agent": 409,
        "own_group": 200,
        "other_group": 200,
        "unassigned": 200,
        "closed": 409,
        "closed_other": 409,
    },
    "transfer": {**dict.fromkeys(STATES, 200), "closed": 409, "closed_other": 409},
    "close": {**dict.fromkeys(STATES, 200), "closed": 409, "closed_other": 409},
    "bulk_close": dict.fromkeys(STATES, 200),
}

AGENT_EXPECTED = {
    "read": {**dict.fromkeys(STATES, 404), "own": 200, "own_group": 200, "unassigned": 200, "closed": 200},
    "reply": {**dict.fromkeys(STATES, 404), "own": 201, "own_group": 201, "unassigned": 201, "closed": 409},
    "note": {**dict.fromkeys(STATES, 404), "own": 201, "own_group": 201, "unassigned": 201, "closed": 409},
    "claim": {**dict.fromkeys(STATES, 404), "own": 200, "own_group": 200, "unassigned": 200, "closed": 409},
    "transfer": {**dict.fromkeys(STATES, 404), "own": 200, "own_group": 403, "unassigned": 403, "closed": 409},
    "close": {**dict.fromkeys(STATES, 404), "own": 200, "own_group": 200, "unassigned": 200, "closed": 409},
    "bulk_close": dict.fromkeys(STATES, 403),
}

EXPECTED = {"ada": STAFF_EXPECTED, "sam": STAFF_EXPECTED, "alex": AGENT_EXPECTED}


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("username", EXPECTED)
def test_route_role_ownership_matrix(team: Team, spy: Any, username: str, action: str) -> None:
    api = team.as_user(username)
    actual = {}
    for state in STATES:
        conversation_id, number = place(state, team)
        actual[state] = ACTIONS[action](api, conversation_id, number, team).status_code
    assert actual == EXPECTED[username][action]


def test_bulk_close_reports_already_closed_as_failed(team: Team) -> None:
    conversation_id, _ = place("closed", team)
    result = team.sam.post("/conversations/close", {"ids": [conversation_id]}).json_body
    assert result == {
        "closed": 0,
        "failed": [{"id": conversation_id, "code": "conversation_closed", "message": result["failed"][0]["message"]}],
        "more": False,
    }


LISTED_FOR_ALEX = {"own", "own_group", "unassigned"}


def test_lists_show_exactly_what_each_role_may_see(team: Team) -> None:
    placed = {state: place(state, team) for state in STATES}
    ids = {state: conversation_id for state, (conversation_id, _) in placed.items()}

    def listed(api: Any, view: str) -> set[str]:
        found = {item["id"] for item in api.get(f"/conversations?view={view}").json_body["items"]}
        return {state for state, conversation_id in ids.items() if conversation_id in found}

    assert listed(team.alex, "inbox") == LISTED_FOR_ALEX
    assert listed(team.alex, "closed") == {"closed"}
    assert team.alex.get("/conversations?view=all_open").status_code == 403
    assert listed(team.riley, "inbox") == {"other_agent", "other_group", "unassigned"}
    assert listed(team.riley, "closed") == {"closed_other"}
    assert listed(team.sam, "all_open") == set(STATES) - {"closed", "closed_other"}
    assert listed(team.sam, "closed") == {"closed", "closed_other"}
    assert listed(team.sam, "inbox") == {"unassigned"}

    for state, (conversation_id, number) in placed.items():
        history = {item["id"] for item in team.alex.get(f"/contacts/{number}/conversations").json_body["items"]}
        assert (conversation_id in history) == (state in LISTED_FOR_ALEX | {"closed"}), state
