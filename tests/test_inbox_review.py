"""Regression tests for bugs a review of the team inbox found; each failed on the code as first written.

Each docstring describes the bug as it was and the behaviour now expected.

Fixtures as in tests/test_inbox.py: alex works in Sales, riley in Support, sam
supervises, ada administers; `text_in` makes an inbound text open a conversation.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from chalicelib.models import Conversation
from chalicelib.services import agents, assignment, conversations
from chalicelib.services.inbox import InboxQuery
from chalicelib.services.paging import fingerprint
from chalicelib.services.visibility import Viewer
from tests.conftest import BUSINESS_NUMBER, Team
from tests.test_inbox_matrix import text_in

ANA = "+15125550134"


def test_a_claim_on_a_conversation_the_agent_could_never_see_is_404_not_409(team: Team) -> None:
    """`_just_taken` leaks the existence of a conversation the agent never could see.

    assignment.py `_just_taken` decides "the caller could see it a moment ago"
    from the group the conversation has *now*. When a conversation is taken out
    of Support (alex is not in it) by a transfer to riley alone, its group is
    removed, so `assigned_group is None` reads as "it was unassigned" and alex's
    claim within 30 s answers 409 `already_claimed` while GET answers 404: the
    claim route confirms the conversation exists. (The inverse also happens: one
    taken from alex's own Sales queue into Support answers 404, not 409.)
    Expected, per the OpenAPI claim description: 409 only when it was taken
    "from a queue the agent could see"; here 404, like every other route.
    """
    conversation_id = text_in(ANA)
    assert team.sam.post(f"/conversations/{conversation_id}/transfer", {"group": team.support}).status_code == 200
    assert team.alex.get(f"/conversations/{conversation_id}").status_code == 404
    assert team.sam.post(f"/conversations/{conversation_id}/transfer", {"agent": "riley"}).status_code == 200

    assert team.alex.get(f"/conversations/{conversation_id}").status_code == 404
    claim = team.alex.post(f"/conversations/{conversation_id}/claim")
    assert claim.status_code == 404, claim.json_body


def test_an_overlong_conversation_id_is_404_not_500(team: Team, spy: Any) -> None:
    """Every conversation route passes the path id straight to GetItem, unvalidated.

    DynamoDB refuses a partition key over 2048 bytes with a ValidationException,
    which `conversations.find` does not catch (only DoesNotExist), so
    GET /conversations/{id}, claim, close, notes, messages and transfer all
    answer 500 for an id no conversation can have. Expected: 404 (no such
    conversation), e.g. by checking the id's shape/length before reading.
    """
    path = "/conversations/conv_" + "0" * 3000
    statuses = {
        "read": team.alex.get(path).status_code,
        "claim": team.alex.post(f"{path}/claim").status_code,
        "close": team.alex.post(f"{path}/close").status_code,
        "note": team.alex.post(f"{path}/notes", {"body": "hi"}).status_code,
        "reply": team.alex.post(f"{path}/messages", {"body": "hi"}).status_code,
        "transfer": team.sam.post(f"{path}/transfer", {"agent": "alex"}).status_code,
    }
    assert statuses == dict.fromkeys(statuses, 404)


def test_a_crafted_cursor_is_400_not_500(team: Team) -> None:
    """A cursor is only base64 JSON with an unkeyed hash of the query, so anyone can mint one.

    paging.decode_cursor accepts any string `a` whose `f` matches the public
    fingerprint algorithm, and merged_query puts it straight into the key
    condition. An empty `a` ("cannot contain an empty string value") or one over
    1024 bytes ("range keys has exceeded the size limit") makes DynamoDB raise a
    ValidationException: 500. Expected: 400 `cursor is not one this API issued`
    (validate `a`, or sign cursors with an HMAC instead of a plain hash).
    """
    text_in(ANA)
    params = InboxQuery(view="inbox").fingerprint_params(Viewer("alex", "agent", frozenset()))
    statuses = []
    for after in ("", "x" * 1100):
        raw = json.dumps({"a": after, "f": fingerprint(params)}).encode()
        cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        statuses.append(team.alex.get(f"/conversations?view=inbox&cursor={cursor}").status_code)
    assert statuses == [400, 400]


def test_a_contact_with_a_long_non_ascii_name_can_still_have_a_conversation(team: Team, spy: Any) -> None:
    """`contact_key` can exceed DynamoDB's 1024-byte limit for an index sort key.

    models/conversations.py `contact_key` is the whole folded display name plus
    the number and the conversation id (~44 bytes more than the contact's own
    `last_name_key`). A contact the contacts API accepts (names within 256
    characters, its own keys under 1024 bytes) but whose UTF-8 name is ~1000
    bytes makes every conversation write carrying the key fail with a
    ValidationException: starting a conversation is a 500, and an inbound text
    from the contact cannot be stored at all (`inbound.receive` raises, the
    carrier's retries fail the same way). Expected: the conversation opens; cap
    the name part of `contact_key` (and of the access entry's copy) by bytes.
    """
    created = team.sam.post("/contacts", {"number": ANA, "first_name": "日" * 250, "last_name": "日" * 84})
    assert created.status_code == 201, created.json_body
    started = team.alex.post(
        "/conversations", {"business_number": BUSINESS_NUMBER, "contact_number": ANA, "body": "Hello"}
    )
    assert started.status_code == 201, started.json_body


def test_closing_does_not_close_a_conversation_another_agent_claimed_meanwhile(
    team: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The close route checks visibility on one read, then `conversations.close` closes whatever it reloads.

    api/conversations.py `close` calls `_visible` and then `conversations.close(id, actor)`,
    which loads the conversation again and closes it whatever its assignment is
    now (the revision condition only guards against a change during its own
    read-then-write). So alex, who saw it unassigned, closes it right after riley
    claimed it: both requests succeed, and alex closed a conversation he can no
    longer see (the claim race is made 409 for exactly this reason). Expected:
    the close re-checks `can_see` on the revision it writes, so alex gets
    404 (or 409) and riley keeps an open conversation.
    """
    conversation_id = text_in(ANA)
    riley = Viewer("riley", "agent", frozenset({team.support}))
    write_close = conversations._try_close

    def riley_claims_right_before_the_write(conversation: Conversation, actor: str) -> bool:
        if actor == "alex" and conversations.load(conversation.id).assigned_agent is None:
            assignment.claim(conversations.load(conversation.id), riley)
        return write_close(conversation, actor)

    monkeypatch.setattr(conversations, "_try_close", riley_claims_right_before_the_write)
    closed = team.alex.post(f"/conversations/{conversation_id}/close")
    monkeypatch.undo()

    assert closed.status_code in (404, 409), closed.json_body
    current = conversations.load(conversation_id)
    assert (current.status, current.assigned_agent) == ("open", "riley")


def test_a_transfer_racing_a_group_delete_does_not_strand_the_conversation(
    team: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`transfer` checks the group exists outside the transaction that moves the conversation.

    assignment.py `transfer` reads the group (`agents.load_group`) and then
    `_reassign` writes `queue = group#<id>` with no condition on the group.
    `agents.delete_group` refuses only while its queue has conversations, read
    by a Query before deleting. A transfer and a delete that interleave both
    succeed: the conversation waits in the queue of a group that no longer
    exists, which no agent can see (only staff, via All Open) - exactly what
    delete_group's rule exists to prevent. Expected: the transfer fails (404 or
    409), e.g. by updating the group (bump its version, condition on it
    existing) in the same transaction, so a concurrent delete conflicts.
    The same check-then-write gap lets "the agent must be in the group" and
    "the agent is active" be bypassed by a concurrent remove_member/deactivate.
    """
    conversation_id = text_in(ANA)
    load_group = agents.load_group
    raced = []

    def deleted_right_after_the_read(group_id: str) -> Any:
        group = load_group(group_id)
        if not raced:
            raced.append(group_id)
            agents.delete_group(group_id)
        return group

    monkeypatch.setattr(agents, "load_group", deleted_right_after_the_read)
    moved = team.sam.post(f"/conversations/{conversation_id}/transfer", {"group": team.support})
    monkeypatch.undo()

    assert raced == [team.support]
    assert team.sam.get(f"/agent-groups/{team.support}").status_code == 404
    assert moved.status_code in (404, 409), moved.json_body
    assert conversations.load(conversation_id).assigned_group is None


def test_renaming_a_contact_reaches_its_open_conversation(team: Team, spy: Any) -> None:
    """No write path refreshes a conversation's name keys except an inbound text.

    `contact_name`, `contact_key` and `contact_search` are set when the
    conversation opens and by `conversations.append(..., contact_name=...)`,
    which only inbound passes. Renaming the contact (PATCH /contacts) leaves
    them as they were, and an agent's reply does not help: `agent_messages.reply`
    calls `contacts.record_activity`, which returns the current name, and
    discards it. So after an agent saves the contact's name and answers, the
    inbox still shows no name, sorts the conversation as unnamed, and `q` by the
    new name finds nothing until the contact texts again. Expected: the open
    conversation carries the contact's current name (refresh it on contact
    update, or at least pass the name on every append).
    """
    conversation_id = text_in(ANA)
    assert team.sam.patch(f"/contacts/{ANA}", {"first_name": "Beatrice", "last_name": "Ortiz"}).status_code == 200
    assert team.alex.post(f"/conversations/{conversation_id}/messages", {"body": "Thanks!"}).status_code == 201

    assert team.sam.get(f"/conversations/{conversation_id}").json_body["contact_name"] == "Beatrice Ortiz"
    found = team.sam.get("/conversations?view=all_open&q=beatrice").json_body["items"]
    assert [item["id"] for item in found] == [conversation_id]
