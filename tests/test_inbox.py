"""The manual's inbox answers, driven through the API as alex (Sales), riley (Support) and sam (supervisor)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from chalicelib.models import Conversation, OpenConversation
from chalicelib.models.conversations import pair_key
from chalicelib.services import agents
from chalicelib.transport.local_outbox import list_outbox
from tests.conftest import BUSINESS_NUMBER, Api, Team, demo_token
from tests.test_inbox_matrix import text_in

ANA = "+15125550134"
BEN = "+15125550135"


def thread_of(api: Api, conversation_id: str) -> list[dict[str, Any]]:
    return api.get(f"/conversations/{conversation_id}").json_body["messages"]


def inbox_ids(api: Api, view: str = "inbox", **params: str) -> list[str]:
    query = "&".join(f"{k}={v}" for k, v in {"view": view, **params}.items())
    response = api.get(f"/conversations?{query}")
    assert response.status_code == 200, response.json_body
    return [item["id"] for item in response.json_body["items"]]


def test_why_cant_i_see_a_conversation(team: Team) -> None:
    """Closed: look under Closed. Claimed by another agent or in a group you are not in: ask a supervisor."""
    closed_id = text_in(ANA)
    team.alex.post(f"/conversations/{closed_id}/claim")
    team.alex.post(f"/conversations/{closed_id}/close")
    assert closed_id not in inbox_ids(team.alex)
    assert inbox_ids(team.alex, "closed") == [closed_id]

    claimed_id = text_in(BEN)
    assert team.riley.post(f"/conversations/{claimed_id}/claim").status_code == 200
    assert claimed_id not in inbox_ids(team.alex)
    missing = team.alex.get(f"/conversations/{claimed_id}")
    assert missing.status_code == 404
    assert missing.json_body == team.alex.get("/conversations/conv_doesnotexist").json_body | {
        "error": {**missing.json_body["error"], "message": f"no conversation {claimed_id}"}
    }
    assert inbox_ids(team.alex, q="5550135") == []

    assert claimed_id in inbox_ids(team.sam, "all_open")
    fixed = team.sam.post(f"/conversations/{claimed_id}/transfer", {"agent": "alex", "group": team.sales})
    assert fixed.status_code == 200
    assert claimed_id in inbox_ids(team.alex)
    assert claimed_id not in inbox_ids(team.riley)


def test_transfer_to_agent_group_both_and_the_mismatch(team: Team) -> None:
    conversation_id = text_in(ANA)
    assert team.alex.post(f"/conversations/{conversation_id}/claim").json_body["assigned_agent"] == "alex"

    to_group = team.alex.post(f"/conversations/{conversation_id}/transfer", {"group": team.support})
    assert (to_group.json_body["assigned_agent"], to_group.json_body["assigned_group"]) == (None, team.support)
    assert conversation_id not in inbox_ids(team.alex), "after transferring away it leaves the agent's inbox"
    assert team.alex.get(f"/conversations/{conversation_id}").status_code == 404
    assert conversation_id in inbox_ids(team.riley), "the group's members see it, unclaimed"

    mismatch = team.sam.post(f"/conversations/{conversation_id}/transfer", {"agent": "alex", "group": team.support})
    assert mismatch.status_code == 400
    assert mismatch.json_body["error"]["field"] == "agent"
    assert "not a member" in mismatch.json_body["error"]["message"]

    both = team.sam.post(f"/conversations/{conversation_id}/transfer", {"agent": "riley", "group": team.support})
    assert (both.json_body["assigned_agent"], both.json_body["assigned_group"]) == ("riley", team.support)
    assert team.riley.post(f"/conversations/{conversation_id}/transfer", {"agent": "alex"}).status_code == 200
    assert conversation_id in inbox_ids(team.alex)
    assert conversation_id not in inbox_ids(team.riley)

    assert team.sam.post(f"/conversations/{conversation_id}/transfer", {}).status_code == 400
    assert team.sam.post(f"/conversations/{conversation_id}/transfer", {"agent": "nobody"}).status_code == 404
    agents.update_agent("riley", {"active": False})
    assert team.sam.post(f"/conversations/{conversation_id}/transfer", {"agent": "riley"}).status_code == 400

    thread = thread_of(team.sam, conversation_id)
    assert [(m["direction"], m["event"]) for m in thread[:2]] == [("event", "opened"), ("inbound", None)]
    events = [(m["event"], m["sender"], m["details"]) for m in thread if m["event"]]
    assert events == [
        ("opened", ANA, None),
        ("claimed", "alex", {"agent": "alex"}),
        ("transferred", "alex", {"group": team.support, "from_agent": "alex"}),
        ("transferred", "sam", {"agent": "riley", "group": team.support, "from_group": team.support}),
        ("transferred", "riley", {"agent": "alex", "from_agent": "riley", "from_group": team.support}),
    ]


def test_twenty_concurrent_claims_have_exactly_one_winner(team: Team, client: Any) -> None:
    conversation_id = text_in(ANA)
    claimants = [f"agent{i}" for i in range(20)]
    apis = [Api(client, demo_token(username, "agent")) for username in claimants]

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(lambda api: api.post(f"/conversations/{conversation_id}/claim").status_code, apis))

    assert sorted(statuses) == [200] + [409] * 19
    winner = claimants[statuses.index(200)]
    assert Conversation.get(conversation_id).assigned_agent == winner
    claims = [m for m in thread_of(team.sam, conversation_id) if m["event"] == "claimed"]
    assert [c["sender"] for c in claims] == [winner]


def test_answering_an_unclaimed_conversation_claims_it(team: Team, spy: Any) -> None:
    conversation_id = text_in(ANA, "Is my order shipped?")
    assert inbox_ids(team.alex, unread="true") == [conversation_id]
    sent = team.alex.post(f"/conversations/{conversation_id}/messages", {"body": "Yes, today"})
    assert sent.status_code == 201
    conversation = team.sam.get(f"/conversations/{conversation_id}").json_body
    assert (conversation["assigned_agent"], conversation["unread"]) == ("alex", False)
    assert inbox_ids(team.alex, unread="true") == []
    assert team.riley.post(f"/conversations/{conversation_id}/messages", {"body": "me too"}).status_code == 404
    assert team.sam.post(f"/conversations/{conversation_id}/messages", {"body": "Supervisor here"}).status_code == 201
    assert Conversation.get(conversation_id).assigned_agent == "alex", "staff replying does not take it over"
    assert [m.body for m in spy.to(ANA)] == [
        "Yes, today\nReply STOP to opt out",
        "Supervisor here\nReply STOP to opt out",
    ]


def test_notes_are_in_the_thread_and_never_sent(team: Team, spy: Any) -> None:
    conversation_id = text_in(ANA)
    note = team.alex.post(f"/conversations/{conversation_id}/notes", {"body": "Called back, wants a refund"})
    assert note.status_code == 201
    assert (note.json_body["direction"], note.json_body["status"]) == ("note", None)
    quick = team.sam.post("/quick-notes", {"title": "Escalate", "text": "Escalated to billing"}).json_body
    team.alex.post(f"/conversations/{conversation_id}/notes", {"quick_note": quick["id"]})
    assert team.alex.post(f"/conversations/{conversation_id}/notes", {"body": " "}).status_code == 400
    both = team.alex.post(f"/conversations/{conversation_id}/notes", {"body": "x", "quick_note": quick["id"]})
    assert both.status_code == 400

    notes = [(m["body"], m["sender"]) for m in thread_of(team.alex, conversation_id) if m["direction"] == "note"]
    assert notes == [("Called back, wants a refund", "alex"), ("Escalated to billing", "alex")]
    assert spy.sent == [], "notes never reach the transport"
    assert list_outbox() == []
    assert Conversation.get(conversation_id).message_count == 1, "a note is not a message"


def test_closed_is_read_only_never_reopens_and_the_next_text_opens_a_new_one(team: Team, spy: Any) -> None:
    first = text_in(ANA, "first visit")
    team.alex.post(f"/conversations/{first}/claim")
    closed = team.alex.post(f"/conversations/{first}/close")
    assert (closed.status_code, closed.json_body["status"], closed.json_body["closed_by"]) == (200, "closed", "alex")

    for path, payload in (
        ("messages", {"body": "hello again"}),
        ("notes", {"body": "note"}),
        ("claim", None),
        ("transfer", {"agent": "alex"}),
        ("close", None),
    ):
        refused = team.sam.post(f"/conversations/{first}/{path}", payload)
        assert refused.status_code == 409, path
        assert refused.json_body["error"]["code"] == "conversation_closed"
        assert "read-only" in refused.json_body["error"]["message"]
    assert spy.sent == []

    second = text_in(ANA, "second visit")
    assert second != first
    assert OpenConversation.get(pair_key(ANA, BUSINESS_NUMBER)).conversation_id == second
    history = team.alex.get(f"/contacts/{ANA}/conversations").json_body["items"]
    assert [(c["id"], c["status"]) for c in history] == [(second, "open"), (first, "closed")]
    assert [m["body"] for m in thread_of(team.alex, first) if m["direction"] == "inbound"] == ["first visit"]


def test_bulk_close_by_ids_and_all(team: Team) -> None:
    ids = [text_in(f"+1512555{n:04d}") for n in range(301, 306)]
    refused = team.alex.post("/conversations/close", {"all": True})
    assert refused.status_code == 403

    some = team.sam.post("/conversations/close", {"ids": [ids[0], ids[1], "conv_missing"]}).json_body
    assert some["closed"] == 2
    assert [(f["id"], f["code"]) for f in some["failed"]] == [("conv_missing", "not_found")]

    everything = team.ada.post("/conversations/close", {"all": True}).json_body
    assert everything == {"closed": 3, "failed": [], "more": False}
    assert inbox_ids(team.sam, "all_open") == []
    assert sorted(inbox_ids(team.sam, "closed")) == sorted(ids)

    assert team.sam.post("/conversations/close", {}).status_code == 400
    assert team.sam.post("/conversations/close", {"ids": [ids[0]], "all": True}).status_code == 400


def test_search_filter_and_sort(team: Team, client: Any) -> None:
    from chalicelib.services import contacts

    contacts.create_contact({"number": ANA, "first_name": "Ana", "last_name": "Zapata"})
    contacts.create_contact({"number": BEN, "first_name": "Ben", "last_name": "Adams"})
    ana, ben = text_in(ANA), text_in(BEN)
    nameless = text_in("+15125550199")

    assert inbox_ids(team.sam, "all_open") == [nameless, ben, ana], "newest activity first"
    assert inbox_ids(team.sam, "all_open", sort="contact") == [ana, ben, nameless], "A-Z by name, nameless last"
    assert inbox_ids(team.sam, "all_open", sort="contact", order="desc") == [nameless, ben, ana]
    assert inbox_ids(team.sam, "all_open", q="zapa") == [ana]
    assert inbox_ids(team.sam, "all_open", q="ben") == [ben]
    assert inbox_ids(team.sam, "all_open", q="(512) 555-0199") == [nameless]

    team.sam.post(f"/conversations/{ben}/transfer", {"agent": "riley"})
    team.sam.post(f"/conversations/{ana}/transfer", {"group": team.sales})
    assert inbox_ids(team.sam, "all_open", agent="riley") == [ben]
    assert inbox_ids(team.sam, "all_open", group=team.sales) == [ana]
    assert inbox_ids(team.sam, "all_open", business_number="(512) 555-0100") == [nameless, ben, ana]
    assert team.sam.get("/conversations?view=all_open&business_number=12").status_code == 400

    first = team.sam.get("/conversations?view=all_open&limit=2").json_body
    second = team.sam.get(f"/conversations?view=all_open&limit=2&cursor={first['next_cursor']}").json_body
    assert [c["id"] for c in first["items"] + second["items"]] == [nameless, ben, ana]
    assert second["next_cursor"] is None
    assert team.sam.get(f"/conversations?view=all_open&sort=contact&cursor={first['next_cursor']}").status_code == 400
    assert team.sam.get("/conversations?view=everything").status_code == 400


def test_quick_replies_fill_contact_placeholders(team: Team, spy: Any) -> None:
    from chalicelib.services import contacts

    contacts.create_contact({"number": ANA, "first_name": "Ana"})
    greeting = team.sam.post("/quick-replies", {"title": "Hi", "text": "Hi {first_name|there}, how can we help?"})
    assert greeting.status_code == 201
    assert team.alex.post("/quick-replies", {"title": "x", "text": "y"}).status_code == 403
    bad = team.sam.post("/quick-replies", {"title": "Bad", "text": "Hello {nickname}"})
    assert bad.status_code == 400
    assert bad.json_body["error"]["details"] == [{"field": "text", "placeholder": "nickname", "position": 6}]
    assert [q["title"] for q in team.alex.get("/quick-replies").json_body["items"]] == ["Hi"]

    reply_id = greeting.json_body["id"]
    for number in (ANA, BEN):
        conversation_id = text_in(number)
        sent = team.alex.post(f"/conversations/{conversation_id}/messages", {"quick_reply": reply_id})
        assert sent.status_code == 201
    assert [m.body for m in spy.sent] == [
        "Hi Ana, how can we help?\nReply STOP to opt out",
        "Hi there, how can we help?\nReply STOP to opt out",
    ]

    renamed = team.sam.patch(f"/quick-replies/{reply_id}", {"title": "Greeting"})
    assert renamed.json_body["title"] == "Greeting"
    assert team.sam.delete(f"/quick-replies/{reply_id}").status_code == 204
    assert team.sam.delete(f"/quick-replies/{reply_id}").status_code == 404
    gone = team.alex.post(f"/conversations/{conversation_id}/messages", {"quick_reply": reply_id})
    assert (gone.status_code, gone.json_body["error"]["field"]) == (404, "quick_reply")


def test_a_claim_that_lost_the_race_is_409_and_later_the_conversation_is_simply_gone(team: Team) -> None:
    from datetime import UTC, datetime, timedelta

    from chalicelib.services.assignment import CLAIM_RACE_SECONDS

    conversation_id = text_in(ANA)
    assert team.riley.post(f"/conversations/{conversation_id}/claim").status_code == 200
    late = team.alex.post(f"/conversations/{conversation_id}/claim")
    assert (late.status_code, late.json_body["error"]["code"]) == (409, "already_claimed")
    assert team.alex.get(f"/conversations/{conversation_id}").status_code == 404

    settled = datetime.now(UTC) - timedelta(seconds=CLAIM_RACE_SECONDS + 1)
    Conversation(conversation_id).update(actions=[Conversation.assigned_at.set(settled)])
    assert team.alex.post(f"/conversations/{conversation_id}/claim").status_code == 404


def test_closing_a_conversation_many_agents_touched_gives_each_access(team: Team) -> None:
    """A transaction holds 100 items; access entries beyond it are written right after."""
    from chalicelib.models import ConversationAccess
    from chalicelib.models.conversations import agent_principal
    from chalicelib.services import conversations

    conversation_id = text_in(ANA)
    helpers = {f"helper{i:03d}" for i in range(120)}
    Conversation(conversation_id).update(actions=[Conversation.participants.add(helpers | {"alex"})])
    conversations.close(conversation_id, "sam")
    for username in (*helpers, "alex", "sam"):
        assert ConversationAccess.get(agent_principal(username), conversation_id).date_key
    assert inbox_ids(team.alex, "closed") == [conversation_id]


def test_closing_all_goes_in_batches_until_none_is_left(team: Team, monkeypatch: Any) -> None:
    from chalicelib.services import inbox

    monkeypatch.setattr(inbox, "BULK_CLOSE_LIMIT", 2)
    for n in range(5):
        text_in(f"+1512555{n + 501:04d}")
    batches = []
    while not batches or batches[-1]["more"]:
        batches.append(team.sam.post("/conversations/close", {"all": True}).json_body)
    assert [(b["closed"], b["more"]) for b in batches] == [(2, True), (2, True), (1, False)]
    assert inbox_ids(team.sam, "all_open") == []


def test_a_group_with_conversations_waiting_cannot_be_deleted(team: Team) -> None:
    conversation_id = text_in(ANA)
    team.sam.post(f"/conversations/{conversation_id}/transfer", {"group": team.support})
    refused = team.sam.delete(f"/agent-groups/{team.support}")
    assert (refused.status_code, refused.json_body["error"]["code"]) == (409, "conflict")
    team.riley.post(f"/conversations/{conversation_id}/claim")
    assert team.sam.delete(f"/agent-groups/{team.support}").status_code == 204
