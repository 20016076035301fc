"""Agents and agent groups: CRUD, roles, and membership kept equal on both sides."""

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from chalicelib.api.access import ROUTE_ROLES
from chalicelib.models import Agent, AgentGroup
from chalicelib.models.business_numbers import ACCOUNT
from chalicelib.services import agents
from chalicelib.services.agents import MAX_MEMBERS, caller_groups


def body(response):
    return json.loads(response.body)


def make_agents(*usernames, role="agent"):
    for username in usernames:
        agents.create_agent({"username": username, "name": username.title(), "role": role})


def agent_groups(username):
    return set(Agent.get(ACCOUNT, username, consistent_read=True).groups or ())


def group_members(group_id):
    return set(AgentGroup.get(ACCOUNT, group_id, consistent_read=True).members or ())


def test_agent_crud_and_deactivation(as_admin, as_agent):
    created = as_admin.post("/agents", {"username": "alex", "name": "Alex Kim", "role": "agent"})
    assert created.status_code == 201
    assert body(created) == {**body(created), "username": "alex", "active": True, "groups": []}
    again = as_admin.post("/agents", {"username": "alex", "name": "Other", "role": "agent"})
    assert again.status_code == 409
    assert as_admin.post("/agents", {"username": "bad name", "name": "x", "role": "agent"}).status_code == 400
    assert as_admin.post("/agents", {"username": "x", "name": "x", "role": "owner"}).status_code == 400

    changed = as_admin.patch("/agents/alex", {"name": "Alex K.", "role": "supervisor", "active": False})
    assert changed.status_code == 200
    assert (body(changed)["name"], body(changed)["role"], body(changed)["active"]) == ("Alex K.", "supervisor", False)
    assert as_admin.patch("/agents/alex", {"active": None}).status_code == 400
    assert as_admin.patch("/agents/nobody", {"active": False}).status_code == 404
    assert ("DELETE", "/agents/{username}") not in ROUTE_ROLES, "agents are deactivated, never deleted"

    listed = body(as_agent.get("/agents"))["items"]
    assert [(a["username"], a["active"]) for a in listed] == [("alex", False)]


def test_roles(as_agent, as_supervisor):
    assert as_supervisor.post("/agents", {"username": "x", "name": "X", "role": "agent"}).status_code == 403
    assert as_agent.patch("/agents/alex", {"name": "Me"}).status_code == 403
    assert as_agent.post("/agent-groups", {"name": "Sales"}).status_code == 403
    created = as_supervisor.post("/agent-groups", {"name": "Sales"})
    assert created.status_code == 201
    group_id = body(created)["id"]
    assert group_id.startswith("grp_")
    assert as_agent.get(f"/agent-groups/{group_id}").status_code == 200
    assert as_agent.patch(f"/agent-groups/{group_id}", {"name": "x"}).status_code == 403
    assert as_agent.delete(f"/agent-groups/{group_id}").status_code == 403
    assert as_agent.post(f"/agent-groups/{group_id}/members", {"username": "alex"}).status_code == 403
    assert as_agent.delete(f"/agent-groups/{group_id}/members/alex").status_code == 403


def test_group_crud_and_membership_both_ways(as_supervisor):
    make_agents("alex", "riley", "kim")
    created = body(as_supervisor.post("/agent-groups", {"name": "Sales", "members": ["alex", "alex", "riley"]}))
    group_id = created["id"]
    assert created["members"] == ["alex", "riley"]
    assert agent_groups("alex") == agent_groups("riley") == {group_id}

    added = as_supervisor.post(f"/agent-groups/{group_id}/members", {"username": "kim"})
    assert body(added)["members"] == ["alex", "kim", "riley"]
    assert agent_groups("kim") == {group_id}
    assert as_supervisor.post(f"/agent-groups/{group_id}/members", {"username": "kim"}).status_code == 200

    removed = as_supervisor.delete(f"/agent-groups/{group_id}/members/alex")
    assert body(removed)["members"] == ["kim", "riley"]
    assert agent_groups("alex") == set()
    assert as_supervisor.delete(f"/agent-groups/{group_id}/members/alex").status_code == 404

    patched = as_supervisor.patch(f"/agent-groups/{group_id}", {"name": "Inside sales", "members": ["alex", "kim"]})
    assert body(patched)["name"] == "Inside sales" and body(patched)["members"] == ["alex", "kim"]
    assert (agent_groups("alex"), agent_groups("kim"), agent_groups("riley")) == ({group_id}, {group_id}, set())
    assert caller_groups("kim") == frozenset({group_id})
    assert [g["id"] for g in body(as_supervisor.get("/agent-groups"))["items"]] == [group_id]

    assert as_supervisor.delete(f"/agent-groups/{group_id}").status_code == 204
    assert agent_groups("alex") == agent_groups("kim") == set()
    assert caller_groups("kim") == frozenset()
    assert as_supervisor.get(f"/agent-groups/{group_id}").status_code == 404
    assert as_supervisor.delete(f"/agent-groups/{group_id}").status_code == 404
    assert as_supervisor.post(f"/agent-groups/{group_id}/members", {"username": "kim"}).status_code == 404
    assert as_supervisor.post("/agent-groups", {"name": "inside  SALES"}).status_code == 201, "the name is free again"


def test_unknown_or_inactive_member_is_refused(as_admin):
    make_agents("alex", "riley")
    refused = as_admin.post("/agent-groups", {"name": "Sales", "members": ["alex", "ghost"]})
    assert refused.status_code == 400
    assert "ghost" in body(refused)["error"]["message"]
    assert agent_groups("alex") == set(), "nothing was written"
    assert body(as_admin.get("/agent-groups"))["items"] == []

    group_id = body(as_admin.post("/agent-groups", {"name": "Sales"}))["id"]
    assert (
        "ghost" in body(as_admin.post(f"/agent-groups/{group_id}/members", {"username": "ghost"}))["error"]["message"]
    )
    as_admin.patch("/agents/riley", {"active": False})
    assert as_admin.post(f"/agent-groups/{group_id}/members", {"username": "riley"}).status_code == 400
    patched = as_admin.patch(f"/agent-groups/{group_id}", {"members": ["alex", "ghost"]})
    assert patched.status_code == 400 and "ghost" in body(patched)["error"]["message"]
    assert group_members(group_id) == set()
    assert Agent.count(ACCOUNT) == 2, "a refused member leaves no stub agent record behind"


def test_group_names_are_unique_ignoring_case_and_spacing(as_admin):
    first = body(as_admin.post("/agent-groups", {"name": "Sales"}))
    clash = as_admin.post("/agent-groups", {"name": " sales "})
    assert clash.status_code == 409 and body(clash)["error"]["field"] == "name"
    other = body(as_admin.post("/agent-groups", {"name": "Support"}))
    assert as_admin.patch(f"/agent-groups/{other['id']}", {"name": "SALES"}).status_code == 409
    assert as_admin.patch(f"/agent-groups/{first['id']}", {"name": "SALES"}).status_code == 200, "same name, new case"
    assert as_admin.patch(f"/agent-groups/{first['id']}", {"name": "Retail"}).status_code == 200
    assert as_admin.patch(f"/agent-groups/{other['id']}", {"name": "Sales"}).status_code == 200, "old name released"


def test_member_cap(as_admin):
    usernames = [f"agent{i:02d}" for i in range(MAX_MEMBERS + 1)]
    make_agents(*usernames)
    too_many = as_admin.post("/agent-groups", {"name": "Big", "members": usernames})
    assert too_many.status_code == 422 and body(too_many)["error"]["code"] == "limit_reached"
    full = body(as_admin.post("/agent-groups", {"name": "Big", "members": usernames[:-1]}))
    assert len(full["members"]) == MAX_MEMBERS
    assert as_admin.post(f"/agent-groups/{full['id']}/members", {"username": usernames[-1]}).status_code == 422
    assert agent_groups(usernames[-1]) == set()
    swapped = as_admin.patch(f"/agent-groups/{full['id']}", {"members": []})
    assert swapped.status_code == 200, "emptying a full group fits in one transaction"
    assert all(agent_groups(username) == set() for username in usernames)


def test_concurrent_member_adds_stay_consistent(as_admin):
    usernames = [f"racer{i:02d}" for i in range(20)]
    make_agents(*usernames)
    group_id = agents.create_group("Race", [])["id"]
    with ThreadPoolExecutor(max_workers=20) as pool:
        list(pool.map(lambda username: agents.add_member(group_id, username), usernames))
    assert group_members(group_id) == set(usernames)
    assert all(agent_groups(username) == {group_id} for username in usernames)


def test_concurrent_adds_and_removes_stay_consistent():
    usernames = [f"racer{i:02d}" for i in range(10)]
    make_agents(*usernames)
    groups = [agents.create_group(f"G{i}", usernames[:5])["id"] for i in range(3)]

    def churn(args):
        group_id, username = args
        agents.add_member(group_id, username)
        agents.remove_member(group_id, usernames[int(username[-2:]) % 5])

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(churn, [(g, u) for g in groups for u in usernames[5:]]))
    for username in usernames:
        assert agent_groups(username) == {g for g in groups if username in group_members(g)}


def test_caller_groups_without_a_record_or_when_inactive():
    assert caller_groups("stranger") == frozenset()
    make_agents("alex")
    group_id = agents.create_group("Sales", ["alex"])["id"]
    assert caller_groups("alex") == frozenset({group_id})
    agents.update_agent("alex", {"active": False})
    assert caller_groups("alex") == frozenset()
    agents.update_agent("alex", {"active": True})
    assert caller_groups("alex") == frozenset({group_id}), "reactivating restores the groups"


@pytest.mark.parametrize("path", ["/agents", "/agent-groups"])
def test_listing_never_scans(as_admin, path, monkeypatch):
    from pynamodb.connection.base import Connection

    calls = []
    original = Connection._make_api_call

    def recording(self, operation_name, *args, **kwargs):
        calls.append(operation_name)
        return original(self, operation_name, *args, **kwargs)

    monkeypatch.setattr(Connection, "_make_api_call", recording)
    assert as_admin.get(path).status_code == 200
    assert "Query" in calls and "Scan" not in calls


def test_demo_seeding_is_idempotent():
    from devstack.demo_data import seed_agents

    assert seed_agents() == 4
    assert seed_agents() == 0
    groups = {group["name"]: group for group in agents.list_groups()}
    assert {name: group["members"] for name, group in groups.items()} == {"Sales": ["alex"], "Support": ["riley"]}
    assert caller_groups("alex") == frozenset({groups["Sales"]["id"]})
    assert [a["role"] for a in agents.list_agents()] == ["admin", "agent", "agent", "supervisor"]
