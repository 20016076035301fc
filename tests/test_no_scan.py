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
