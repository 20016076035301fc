"""Contact groups: static lists, dynamic queries, memberships, counts, background jobs and races."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from chalicelib.budget import Budget
from chalicelib.errors import NotFound
from chalicelib.models import Contact, GroupMember
from chalicelib.services import contacts, custom_fields, group_jobs, groups
from tests.conftest import Bucket


def run_group_jobs(client: Any, bucket: Bucket) -> int:
    """Run the groups worker on whatever the queue holds, continuations included, until it is empty."""
    runs = 0
    while True:
        messages = bucket.drain(bucket.groups_queue_url)
        if not messages:
            return runs
        for message in messages:
            event = client.events.generate_sqs_event(message_bodies=[message], queue_name="groups")
            assert client.lambda_.invoke("group_jobs", event).payload == {"batchItemFailures": []}
            runs += 1


def number(n: int) -> str:
    return f"+1512555{n:04d}"


def seed_contacts(count: int, **fields: Any) -> list[str]:
    numbers = [number(n) for n in range(1, count + 1)]
    for n in numbers:
        contacts.create_contact({"number": n, **fields})
    return numbers


def test_add_members_handles_ten_thousand_numbers_in_one_call(bucket):
    group = groups.create_group({"name": "Big"})
    numbers = [number(n) for n in range(10_000)]
    result = groups.add_members(group["id"], numbers)
    assert (result["added"], result["already_members"], result["rejected"]) == (10_000, 0, [])
    assert result["group"]["member_count"] == 10_000
    pages = list(groups.member_numbers(group["id"], page_size=1000))
    assert [len(page) for page in pages] == [1000] * 10
    assert sorted(n for page in pages for n in page) == sorted(numbers)


def test_member_numbers_refuses_an_unknown_group():
    with pytest.raises(NotFound):
        groups.member_numbers("cgr_missing")


def test_create_read_rename_and_list_groups(as_supervisor, as_agent):
    created = as_supervisor.post("/groups", {"name": " VIP ", "category": "sales", "description": "Best customers"})
    assert created.status_code == 201, created.json_body
    group = created.json_body
    assert group["id"].startswith("cgr_")
    assert (group["name"], group["kind"], group["member_count"], group["state"]) == ("VIP", "static", 0, "ready")
    assert as_agent.get(f"/groups/{group['id']}").json_body == group

    duplicate = as_supervisor.post("/groups", {"name": "vip"})
    assert duplicate.status_code == 409 and duplicate.json_body["error"]["field"] == "name"

    other = as_supervisor.post("/groups", {"name": "Leads"}).json_body
    clash = as_supervisor.patch(f"/groups/{other['id']}", {"name": "Vip"})
    assert clash.status_code == 409
    renamed = as_supervisor.patch(f"/groups/{group['id']}", {"name": "Gold", "category": None})
    assert renamed.status_code == 200, renamed.json_body
    assert (renamed.json_body["name"], renamed.json_body["category"]) == ("Gold", None)
    assert as_supervisor.post("/groups", {"name": "VIP"}).status_code == 201, "the old name is free again"
    assert as_supervisor.patch(f"/groups/{other['id']}", {"name": "gold"}).status_code == 409

    listed = as_agent.get("/groups").json_body["items"]
    assert [g["name"] for g in listed] == ["Gold", "Leads", "VIP"]


def test_roles_agents_read_staff_manage(as_agent, as_admin):
    assert as_agent.post("/groups", {"name": "Mine"}).status_code == 403
    group = as_admin.post("/groups", {"name": "Team"}).json_body
    assert as_agent.post(f"/groups/{group['id']}/members", {"numbers": ["5125550101"]}).status_code == 403
    assert as_agent.delete(f"/groups/{group['id']}").status_code == 403
    assert as_agent.get(f"/groups/{group['id']}/members").status_code == 200


def test_bad_requests(as_supervisor):
    assert as_supervisor.post("/groups", {"name": ""}).status_code == 400
    assert as_supervisor.post("/groups", {"name": "x", "kind": "smart"}).status_code == 400
    assert as_supervisor.post("/groups", {"name": "x", "query": "city = a"}).status_code == 400
    assert as_supervisor.post("/groups", {"name": "x", "kind": "dynamic"}).status_code == 400
    assert as_supervisor.get("/groups/cgr_missing").status_code == 404
    assert as_supervisor.get("/groups/nonsense").status_code == 404
    group = as_supervisor.post("/groups", {"name": "x"}).json_body
    both = as_supervisor.post(f"/groups/{group['id']}/members", {"numbers": ["5125550101"], "query": {}})
    assert both.status_code == 400
    assert as_supervisor.post(f"/groups/{group['id']}/members", {}).status_code == 400
    assert as_supervisor.post(f"/groups/{group['id']}/merge", {"from": group["id"]}).status_code == 400
    assert as_supervisor.post(f"/groups/{group['id']}/merge", {"from": "cgr_missing"}).status_code == 404
    assert as_supervisor.post(f"/groups/{group['id']}/refresh").status_code == 409


def test_dynamic_query_errors_name_the_position(as_supervisor, bucket):
    response = as_supervisor.post("/groups", {"name": "Austin", "kind": "dynamic", "query": 'city = "Austin" AND'})
    assert response.status_code == 400
    assert response.json_body["error"] == {
        "code": "validation_error",
        "message": "position 20: expected a condition or '('",
        "field": "query",
    }
    unknown = as_supervisor.post("/groups", {"name": "Tier", "kind": "dynamic", "query": "tier = gold"})
    assert unknown.json_body["error"]["message"].startswith("position 1: expected a contact field")


def test_a_name_race_has_one_winner(as_supervisor):
    names = ["Spring", "spring", "SPRING", " Spring", "sPring", "Spring "] * 2

    def create(name: str) -> int:
        return as_supervisor.post("/groups", {"name": name}).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(create, names))
    assert sorted(statuses) == [201] + [409] * (len(names) - 1)
    assert len(as_supervisor.get("/groups").json_body["items"]) == 1


def test_members_by_numbers_report_bad_ones_and_keep_the_rest(as_supervisor):
    seed_contacts(3)
    group = as_supervisor.post("/groups", {"name": "Promo"}).json_body
    path = f"/groups/{group['id']}/members"
    added = as_supervisor.post(
        path, {"numbers": ["5125550001", "12", "(512) 555-0002", "+1 512 555 0001", "5125550009"]}
    )
    assert added.status_code == 200, added.json_body
    body = added.json_body
    assert (body["added"], body["already_members"]) == (3, 0)
    assert [(r["index"], r["number"]) for r in body["rejected"]] == [(1, "12")]
    assert body["rejected"][0]["message"].startswith("numbers.1: ")
    assert body["group"]["member_count"] == 3

    again = as_supervisor.post(path, {"numbers": ["5125550001", "5125550003"]}).json_body
    assert (again["added"], again["already_members"], again["group"]["member_count"]) == (1, 1, 4)

    removed = as_supervisor.post(path + "/remove", {"numbers": ["5125550001", "5125550004"]}).json_body
    assert (removed["removed"], removed["not_members"], removed["group"]["member_count"]) == (1, 1, 3)
    assert contacts.get_contact("5125550001")["groups"] == [], "removing a member keeps the contact"


def test_member_listing_pages_in_number_order(as_agent, as_supervisor):
    group = as_supervisor.post("/groups", {"name": "Paged"}).json_body
    numbers = [number(n) for n in range(1, 8)]
    groups.add_members(group["id"], list(reversed(numbers)))
    seen, cursor = [], None
    while True:
        query = "?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = as_agent.get(f"/groups/{group['id']}/members{query}").json_body
        seen += [item["number"] for item in page["items"]]
        assert page["member_count"] == 7 and page["state"] == "ready"
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == numbers
    other = as_supervisor.post("/groups", {"name": "Other"}).json_body
    first = as_agent.get(f"/groups/{group['id']}/members?limit=3").json_body
    reused = as_agent.get(f"/groups/{other['id']}/members?cursor={first['next_cursor']}")
    assert reused.status_code == 400


def test_contacts_show_their_groups_and_filter_by_group_id(as_agent, as_supervisor):
    numbers = seed_contacts(5)
    contacts.update_contact(numbers[1], {"status": "inactive"})
    vip = groups.create_group({"name": "VIP"})["id"]
    other = groups.create_group({"name": "Other"})["id"]
    groups.add_members(vip, [*numbers[:3], "+15125559999"])
    groups.add_members(other, numbers[:1])

    assert as_agent.get(f"/contacts/{numbers[0]}").json_body["groups"] == sorted([vip, other])
    assert as_agent.get(f"/contacts/{numbers[4]}").json_body["groups"] == []

    listed = as_agent.get(f"/contacts?group={vip}").json_body
    assert [c["number"] for c in listed["items"]] == numbers[:3], "members without a contact are left out"
    active = as_agent.get(f"/contacts?group={vip}&status=active&limit=1").json_body
    assert [c["number"] for c in active["items"]] == [numbers[0]]
    rest = as_agent.get(f"/contacts?group={vip}&status=active&limit=1&cursor={active['next_cursor']}").json_body
    assert ([c["number"] for c in rest["items"]], rest["next_cursor"]) == ([numbers[2]], None)
    assert as_agent.get(f"/contacts?group={vip}&q=ana").status_code == 400


def test_deleting_a_contact_ends_its_memberships(as_supervisor):
    numbers = seed_contacts(2)
    group = groups.create_group({"name": "G"})["id"]
    groups.add_members(group, numbers)
    assert as_supervisor.delete(f"/contacts/{numbers[0]}").status_code == 204
    assert groups.get_group(group)["member_count"] == 1
    assert [item["number"] for item in groups.list_members(group)["items"]] == [numbers[1]]


def test_concurrent_adds_of_overlapping_numbers_count_each_member_once(as_supervisor):
    group = groups.create_group({"name": "Race"})["id"]
    batches = [[number(n) for n in range(start, start + 300)] for start in (0, 100, 200, 0)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda batch: groups.add_members(group, batch), batches))
    assert sum(r["added"] for r in results) == 500
    assert sum(r["already_members"] for r in results) == 700
    assert groups.get_group(group)["member_count"] == 500 == len(list(GroupMember.query(group)))

    with ThreadPoolExecutor(max_workers=3) as pool:
        removals = list(pool.map(lambda batch: groups.remove_members(group, batch), batches[:3]))
    assert sum(r["removed"] for r in removals) == 500
    assert groups.get_group(group)["member_count"] == 0


def test_members_by_contact_query_are_added_in_the_background(client, bucket, as_supervisor):
    numbers = seed_contacts(6)
    for n in numbers[:2]:
        contacts.update_contact(n, {"status": "inactive"})
    group = as_supervisor.post("/groups", {"name": "Active"}).json_body
    accepted = as_supervisor.post(f"/groups/{group['id']}/members", {"query": {"status": "active"}})
    assert accepted.status_code == 202, accepted.json_body
    assert accepted.json_body["state"] == "pending"
    assert run_group_jobs(client, bucket) == 1
    done = as_supervisor.get(f"/groups/{group['id']}").json_body
    assert (done["member_count"], done["state"]) == (4, "ready")

    removal = as_supervisor.post(f"/groups/{group['id']}/members/remove", {"query": {"q": "5125550005"}})
    assert removal.status_code == 202
    run_group_jobs(client, bucket)
    members = [item["number"] for item in as_supervisor.get(f"/groups/{group['id']}/members").json_body["items"]]
    assert members == [numbers[2], numbers[3], numbers[5]]
    bad = as_supervisor.post(f"/groups/{group['id']}/members", {"query": {"status": "gone"}})
    assert bad.status_code == 400


def test_a_job_short_of_time_continues_from_its_cursor(bucket):
    seed_contacts(5, city="Austin")
    group = groups.create_group({"name": "Austin", "kind": "dynamic", "query": "city = austin"})
    message: dict[str, Any] | None = json.loads(bucket.drain(bucket.groups_queue_url)[0])
    runs = 0
    while message is not None:
        message = group_jobs.run_job(message, Budget.seconds(0))
        runs += 1
    assert runs > 2, "every page handed its cursor on"
    assert groups.get_group(group["id"])["member_count"] == 5


def test_dynamic_groups_materialize_and_follow_their_query(client, bucket, as_supervisor, as_agent):
    custom_fields.create_field("tier", None)
    austin = seed_contacts(4, city="Austin")
    contacts.create_contact({"number": number(50), "city": "Dallas", "custom": {"tier": "gold"}})
    contacts.update_contact(austin[0], {"custom": {"tier": "gold"}})
    Contact(austin[1]).update(actions=[Contact.opt_status.set("opted_out")], add_version_condition=False)
    query = 'city = "austin" AND opt_status = opted_in'
    created = as_supervisor.post("/groups", {"name": "Austin", "kind": "dynamic", "query": query})
    assert created.status_code == 201, created.json_body
    group = created.json_body
    assert (group["state"], group["materialized_at"], group["query"]) == ("pending", None, query)
    assert as_supervisor.post(f"/groups/{group['id']}/members", {"numbers": [number(9)]}).status_code == 409

    run_group_jobs(client, bucket)
    listed = as_agent.get(f"/groups/{group['id']}/members").json_body
    assert [item["number"] for item in listed["items"]] == [austin[0], austin[2], austin[3]]
    assert listed["materialized_at"] is not None and listed["state"] == "ready"
    assert [c["number"] for c in as_agent.get(f"/contacts?group={group['id']}").json_body["items"]] == [
        austin[0],
        austin[2],
        austin[3],
    ]
    assert group["id"] in as_agent.get(f"/contacts/{austin[0]}").json_body["groups"]

    contacts.update_contact(austin[2], {"city": "Houston"})
    live = [n for page in groups.member_numbers(group["id"]) for n in page]
    assert sorted(live) == [austin[0], austin[3]], "background consumers see the query evaluated now"
    assert groups.get_group(group["id"])["member_count"] == 3, "the listing keeps the materialized set until refresh"
    assert as_supervisor.post(f"/groups/{group['id']}/refresh").status_code == 202
    run_group_jobs(client, bucket)
    assert groups.get_group(group["id"])["member_count"] == 2

    changed = as_supervisor.patch(f"/groups/{group['id']}", {"query": "tier = gold OR custom.tier = silver"})
    assert changed.status_code == 200 and changed.json_body["state"] == "pending"
    run_group_jobs(client, bucket)
    members = [item["number"] for item in groups.list_members(group["id"])["items"]]
    assert members == [austin[0], number(50)]
    assert groups.get_group(group["id"])["member_count"] == 2


def test_a_superseded_materialization_stops(client, bucket):
    seed_contacts(2, city="Austin")
    group = groups.create_group({"name": "A", "kind": "dynamic", "query": "city = Austin"})
    groups.refresh_group(group["id"])
    first, second = bucket.drain(bucket.groups_queue_url)
    assert group_jobs.run_job(json.loads(first), Budget.seconds(60)) is None
    assert groups.get_group(group["id"])["member_count"] == 0, "generation 1 was replaced before it ran"
    assert group_jobs.run_job(json.loads(second), Budget.seconds(60)) is None
    view = groups.get_group(group["id"])
    assert (view["member_count"], view["state"]) == (2, "ready")


def test_merge_moves_members_and_deletes_the_source(as_supervisor, as_agent):
    a = groups.create_group({"name": "A"})["id"]
    b = groups.create_group({"name": "B"})["id"]
    groups.add_members(a, [number(1), number(2)])
    groups.add_members(b, [number(2), number(3), number(4)])
    merged = as_supervisor.post(f"/groups/{a}/merge", {"from": b})
    assert merged.status_code == 200, merged.json_body
    assert (merged.json_body["member_count"], merged.json_body["state"]) == (4, "ready")
    assert as_agent.get(f"/groups/{b}").status_code == 404
    assert list(GroupMember.query(b)) == []
    assert as_supervisor.post("/groups", {"name": "b"}).status_code == 201, "the merged group's name is free"


def test_big_merges_and_deletes_run_in_the_background(client, bucket, as_supervisor, monkeypatch):
    monkeypatch.setattr(groups, "INLINE_MEMBERS", 2)
    numbers = seed_contacts(5)
    a = groups.create_group({"name": "A"})["id"]
    b = groups.create_group({"name": "B"})["id"]
    groups.add_members(b, numbers)
    accepted = as_supervisor.post(f"/groups/{a}/merge", {"from": b})
    assert (accepted.status_code, accepted.json_body["state"]) == (202, "pending")
    run_group_jobs(client, bucket)
    assert groups.get_group(a)["member_count"] == 5
    with pytest.raises(NotFound):
        groups.get_group(b)

    deleted = as_supervisor.delete(f"/groups/{a}")
    assert deleted.status_code == 202
    assert as_supervisor.get(f"/groups/{a}").status_code == 404, "gone for callers at once"
    assert as_supervisor.post("/groups", {"name": "A"}).status_code == 201
    run_group_jobs(client, bucket)
    assert list(GroupMember.query(a)) == []
    assert all(as_supervisor.get(f"/contacts/{n}").status_code == 200 for n in numbers), "contacts stay"
    assert as_supervisor.delete(f"/groups/{a}").status_code == 404


def test_small_deletes_finish_inline_and_keep_contacts(as_supervisor):
    numbers = seed_contacts(3)
    group = groups.create_group({"name": "Small"})["id"]
    groups.add_members(group, numbers)
    assert as_supervisor.delete(f"/groups/{group}").status_code == 204
    assert list(GroupMember.query(group)) == []
    assert [as_supervisor.get(f"/contacts/{n}").json_body["groups"] for n in numbers] == [[], [], []]
    with pytest.raises(NotFound):
        groups.add_members(group, numbers)


def test_adding_to_a_group_being_deleted_is_refused(bucket, monkeypatch):
    monkeypatch.setattr(groups, "INLINE_MEMBERS", 0)
    group = groups.create_group({"name": "Doomed"})["id"]
    groups.add_members(group, [number(1)])
    groups.delete_group(group)
    from chalicelib.services import group_members

    with pytest.raises(NotFound):
        group_members.add(group, [number(2)])


def test_resolve_static_group_gets_or_creates_by_name():
    first = groups.resolve_static_group("Spring promo")
    assert groups.resolve_static_group("spring PROMO ") == first
    assert groups.get_group(first)["kind"] == "static"
    with ThreadPoolExecutor(max_workers=4) as pool:
        ids = set(pool.map(groups.resolve_static_group, ["Fall"] * 4))
    assert len(ids) == 1


def test_a_redelivered_job_counts_nothing_twice(client, bucket, as_supervisor):
    seed_contacts(4)
    group = as_supervisor.post("/groups", {"name": "Twice"}).json_body
    as_supervisor.post(f"/groups/{group['id']}/members", {"query": {"status": "active"}})
    (message,) = bucket.drain(bucket.groups_queue_url)
    for _ in range(2):
        event = client.events.generate_sqs_event(message_bodies=[message], queue_name="groups")
        assert client.lambda_.invoke("group_jobs", event).payload == {"batchItemFailures": []}
    assert groups.get_group(group["id"])["member_count"] == 4 == len(list(GroupMember.query(group["id"])))


def test_concurrent_refreshes_each_start_a_newer_run_and_all_finish(client, bucket):
    seed_contacts(3, city="Austin")
    group = groups.create_group({"name": "A", "kind": "dynamic", "query": "city = Austin"})["id"]
    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(lambda _: groups.refresh_group(group), range(3)))
    generations = sorted(json.loads(body)["generation"] for body in bucket.drain(bucket.groups_queue_url))
    assert generations == [1, 2, 3, 4]
    assert groups.get_group(group)["state"] == "pending"
    for generation in generations:
        job = {"job": "materialize", "group_id": group, "generation": generation}
        assert group_jobs.run_job(job, Budget.seconds(60)) is None
    view = groups.get_group(group)
    assert (view["member_count"], view["state"]) == (3, "ready")
    assert view["materialized_at"] is not None


def test_deleting_a_custom_field_leaves_dynamic_groups_working(client, bucket):
    custom_fields.create_field("tier", None)
    contacts.create_contact({"number": number(1), "city": "Austin", "custom": {"tier": "gold"}})
    contacts.create_contact({"number": number(2), "city": "Austin"})
    group = groups.create_group({"name": "G", "kind": "dynamic", "query": "tier = gold OR city = Dallas"})["id"]
    run_group_jobs(client, bucket)
    assert groups.get_group(group)["member_count"] == 1
    custom_fields.delete_field("tier")
    groups.refresh_group(group)
    run_group_jobs(client, bucket)
    assert groups.get_group(group)["member_count"] == 0
    assert list(groups.member_numbers(group)) == []
