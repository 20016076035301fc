"""Request paths use keys and indexes only: record every DynamoDB call the routes make."""

from urllib.parse import urlencode


def test_contact_routes_never_scan(as_admin, dynamodb_calls):
    as_admin.post("/fields", {"name": "tier"})
    for i in range(30):
        as_admin.post("/contacts", {"number": f"51255501{i:02d}", "last_name": f"Name{i}", "custom": {"tier": "a"}})
    as_admin.get("/contacts/5125550101")
    as_admin.patch("/contacts/5125550101", {"city": "Austin", "blocked": True})
    queries = [
        {},
        {"limit": 5},
        {"q": "512555"},
        {"q": "name1"},
        {"q": "ann lee"},
        {"sort": "last_name", "order": "desc"},
        {"sort": "last_message_at", "status": "active", "blocked": "false", "opt_status": "opted_in", "group": "g"},
    ]
    for params in queries:
        response = as_admin.get("/contacts?" + urlencode(params))
        assert response.status_code == 200
    as_admin.delete("/contacts/5125550101")
    as_admin.get("/fields")
    as_admin.delete("/fields/tier")

    assert dynamodb_calls, "the recorder must see the routes' calls"
    assert "Query" in dynamodb_calls
    assert "Scan" not in dynamodb_calls
    assert set(dynamodb_calls) <= {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "DescribeTable"}


def test_inbox_routes_never_scan(team, spy, dynamodb_calls):
    from tests.test_inbox_matrix import text_in

    ids = [text_in(f"+1512555{n:04d}") for n in range(401, 406)]
    team.alex.post(f"/conversations/{ids[0]}/claim")
    team.alex.post(f"/conversations/{ids[0]}/messages", {"body": "hi"})
    team.alex.post(f"/conversations/{ids[0]}/notes", {"body": "note"})
    team.sam.post(f"/conversations/{ids[1]}/transfer", {"group": team.sales})
    team.alex.post(f"/conversations/{ids[0]}/close")
    team.sam.post("/conversations/close", {"ids": [ids[2]]})
    dynamodb_calls.clear()
    for api, params in (
        (team.alex, {"view": "inbox"}),
        (team.alex, {"view": "inbox", "sort": "contact", "q": "512", "unread": "true"}),
        (team.alex, {"view": "closed"}),
        (team.alex, {"view": "closed", "sort": "contact", "business_number": "5125550100"}),
        (team.sam, {"view": "all_open", "agent": "alex", "group": team.sales}),
        (team.sam, {"view": "closed", "sort": "contact", "order": "asc"}),
    ):
        response = api.get("/conversations?" + urlencode(params))
        assert response.status_code == 200, params
    team.alex.get(f"/contacts/{'+15125550401'}/conversations")
    team.alex.get(f"/conversations/{ids[0]}")
    team.ada.post("/conversations/close", {"all": True})

    assert "Query" in dynamodb_calls
    assert "BatchGetItem" in dynamodb_calls, "the agents' Closed view reads its page with one BatchGetItem"
    assert "Scan" not in dynamodb_calls
    assert set(dynamodb_calls) <= {"GetItem", "BatchGetItem", "Query", "TransactWriteItems"}


def test_imports_and_exports_never_scan(client, bucket, as_supervisor, dynamodb_calls):
    from tests.test_exports import export
    from tests.test_imports import HEADER, deliver_all, s3_event

    key = "imports/contacts/noscan.csv"
    put = bucket.put(key, (HEADER + "5125550101,Maria,,,\n5125550101,,Garcia,,\n12,x,,,\n").encode())
    deliver_all(client, bucket, s3_event(key, put["ETag"]))
    put = bucket.put("imports/optouts/stop.csv", b"phone\n5125550102\n")
    deliver_all(client, bucket, s3_event("imports/optouts/stop.csv", put["ETag"]))
    export(client, bucket, as_supervisor, {"kind": "contacts", "opt_status": "opted_in"})
    export(client, bucket, as_supervisor, {"kind": "optouts"})

    assert {"BatchGetItem", "TransactWriteItems", "Query"} <= set(dynamodb_calls)
    assert "Scan" not in dynamodb_calls


def test_group_routes_and_jobs_never_scan(client, bucket, as_supervisor, as_agent, dynamodb_calls):
    from tests.test_groups import run_group_jobs

    for i in range(12):
        as_supervisor.post("/contacts", {"number": f"51255502{i:02d}", "city": "Austin" if i % 2 else "Waco"})
    static = as_supervisor.post("/groups", {"name": "Static"}).json_body["id"]
    other = as_supervisor.post("/groups", {"name": "Other"}).json_body["id"]
    dynamic = as_supervisor.post("/groups", {"name": "Dyn", "kind": "dynamic", "query": "city = Austin"}).json_body
    as_supervisor.post(f"/groups/{static}/members", {"numbers": ["5125550200", "5125550201", "12"]})
    as_supervisor.post(f"/groups/{other}/members", {"numbers": ["5125550202"]})
    as_supervisor.post(f"/groups/{static}/members", {"query": {"status": "active"}})
    run_group_jobs(client, bucket)
    as_supervisor.post(f"/groups/{static}/members/remove", {"numbers": ["5125550200"]})
    as_supervisor.patch(f"/groups/{static}", {"name": "Renamed", "description": "d"})
    as_supervisor.post(f"/groups/{dynamic['id']}/refresh")
    run_group_jobs(client, bucket)
    for path in (
        "/groups",
        f"/groups/{static}",
        f"/groups/{static}/members?limit=2",
        f"/groups/{dynamic['id']}/members",
        f"/contacts?group={dynamic['id']}&opt_status=opted_in",
        f"/contacts?group={static}",
        "/contacts/5125550201",
    ):
        assert as_agent.get(path).status_code == 200, path
    as_supervisor.post(f"/groups/{static}/merge", {"from": other})
    as_supervisor.delete("/contacts/5125550203")
    as_supervisor.delete(f"/groups/{static}")

    assert {"Query", "BatchGetItem", "TransactWriteItems"} <= set(dynamodb_calls)
    assert set(dynamodb_calls) <= {
        "GetItem",
        "BatchGetItem",
        "Query",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "TransactWriteItems",
        "BatchWriteItem",
        "DescribeTable",
    }


def test_broadcast_routes_and_workers_never_scan(client, bucket, spy, as_supervisor, dynamodb_calls):
    from chalicelib.services import business_numbers, groups, optouts
    from tests.conftest import BUSINESS_NUMBER
    from tests.test_broadcasts import run_send_queue

    business_numbers.create({"number": BUSINESS_NUMBER, "name": "Acme", "mps": 100})
    group_id = groups.create_group({"name": "Broadcast"})["id"]
    groups.add_members(group_id, ["5125550301", "5125550302"])
    optouts.opt_out("+15125550302", optouts.Scope(), source="manual", actor="sam", reason="asked")
    dynamodb_calls.clear()
    created = as_supervisor.post(
        "/broadcasts", {"body": "Hi {first_name|there}", "business_number": BUSINESS_NUMBER, "groups": [group_id]}
    ).json_body
    run_send_queue(client, bucket)
    scheduled = {"body": "later", "business_number": BUSINESS_NUMBER, "numbers": ["5125550303"]}
    later = as_supervisor.post("/broadcasts", {**scheduled, "send_at": "2099-01-01T00:00Z"}).json_body
    for path in ("/broadcasts", "/broadcasts?limit=1", f"/broadcasts/{created['id']}"):
        assert as_supervisor.get(path).status_code == 200, path
    assert as_supervisor.post(f"/broadcasts/{later['id']}/cancel").status_code == 200

    assert len(spy.sent) == 1
    assert {"Query", "BatchGetItem", "PutItem", "UpdateItem"} <= set(dynamodb_calls)
    assert "Scan" not in dynamodb_calls
    assert set(dynamodb_calls) <= {"GetItem", "BatchGetItem", "Query", "PutItem", "UpdateItem", "TransactWriteItems"}
