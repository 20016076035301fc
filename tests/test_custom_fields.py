"""Admin-defined custom fields: definitions, the limit of 20, values on contacts."""

import json
from concurrent.futures import ThreadPoolExecutor

from chalicelib.errors import Conflict, LimitReached
from chalicelib.services.custom_fields import MAX_CUSTOM_FIELDS, create_field


def body(response):
    return json.loads(response.body)


def test_define_list_and_delete_fields(as_admin, as_agent):
    assert as_admin.post("/fields", {"name": "loyalty_tier", "label": "Loyalty tier"}).status_code == 201
    listed = body(as_agent.get("/fields"))
    assert [f["name"] for f in listed["items"]] == ["loyalty_tier"]
    assert listed["items"][0]["label"] == "Loyalty tier"
    assert listed["limit"] == 20
    assert as_admin.delete("/fields/loyalty_tier").status_code == 204
    assert body(as_agent.get("/fields"))["items"] == []
    assert as_admin.delete("/fields/loyalty_tier").status_code == 404


def test_only_admins_define_fields(as_supervisor, as_agent):
    assert as_supervisor.post("/fields", {"name": "tier"}).status_code == 403
    assert as_agent.post("/fields", {"name": "tier"}).status_code == 403


def test_the_21st_field_is_refused_with_a_clear_error(as_admin):
    for i in range(MAX_CUSTOM_FIELDS):
        assert as_admin.post("/fields", {"name": f"field_{i}"}).status_code == 201
    response = as_admin.post("/fields", {"name": "one_too_many"})
    assert response.status_code == 422
    assert body(response)["error"]["code"] == "limit_reached"
    assert "at most 20 custom fields" in body(response)["error"]["message"]
    assert as_admin.delete("/fields/field_3").status_code == 204
    assert as_admin.post("/fields", {"name": "one_too_many"}).status_code == 201


def test_concurrent_definitions_never_exceed_the_limit(dynamodb):
    def attempt(i):
        try:
            create_field(f"race_{i}", None)
        except LimitReached:
            return "limit"
        return "created"

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(attempt, range(30)))
    assert outcomes.count("created") == MAX_CUSTOM_FIELDS
    assert outcomes.count("limit") == 30 - MAX_CUSTOM_FIELDS


def test_duplicate_and_invalid_names(as_admin):
    as_admin.post("/fields", {"name": "tier"})
    duplicate = as_admin.post("/fields", {"name": "tier"})
    assert duplicate.status_code == 409
    assert body(duplicate)["error"]["field"] == "name"
    for bad in ("Tier", "9lives", "has space", "first_name", "x" * 41):
        response = as_admin.post("/fields", {"name": bad})
        assert response.status_code == 400, bad
        assert body(response)["error"]["field"] == "name"


def test_duplicate_detected_under_concurrency(dynamodb):
    def attempt(_):
        try:
            create_field("tier", None)
        except Conflict:
            return "conflict"
        return "created"

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(attempt, range(8)))
    assert outcomes.count("created") == 1


def test_contacts_carry_values_for_defined_fields_only(as_admin, as_agent):
    as_admin.post("/fields", {"name": "tier"})
    created = as_agent.post("/contacts", {"number": "5125550134", "custom": {"tier": "gold"}})
    assert created.status_code == 201, created.body
    assert body(created)["custom"] == {"tier": "gold"}
    unknown = as_agent.patch("/contacts/5125550134", {"custom": {"shoe_size": "9"}})
    assert unknown.status_code == 400
    assert body(unknown)["error"]["field"] == "custom.shoe_size"
    cleared = as_agent.patch("/contacts/5125550134", {"custom": {"tier": ""}})
    assert body(cleared)["custom"] == {}
    as_agent.patch("/contacts/5125550134", {"custom": {"tier": "silver"}})
    as_admin.delete("/fields/tier")
    assert body(as_agent.get("/contacts/5125550134"))["custom"] == {}
