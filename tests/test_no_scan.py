"""Request paths use keys and indexes only: record every DynamoDB call the routes make."""

from urllib.parse import urlencode

import pytest
from pynamodb.connection.base import Connection


@pytest.fixture
def dynamodb_calls(monkeypatch):
    calls = []
    original = Connection._make_api_call

    def recording(self, operation_name, operation_kwargs, *args, **kwargs):
        calls.append(operation_name)
        return original(self, operation_name, operation_kwargs, *args, **kwargs)

    monkeypatch.setattr(Connection, "_make_api_call", recording)
    return calls


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
