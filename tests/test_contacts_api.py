"""Contact create/read/update/delete through the HTTP API, against DynamoDB Local."""

import json

import pytest


def body(response):
    return json.loads(response.body) if response.body else None


def create(api, **fields):
    response = api.post("/contacts", {"number": "(512) 555-0134", **fields})
    assert response.status_code == 201, response.body
    return body(response)


def test_created_contact_is_stored_in_e164_and_read_back_in_any_format(as_agent):
    created = create(as_agent, first_name="Ana", last_name="Diaz", city="Austin")
    assert created["number"] == "+15125550134"
    assert created["status"] == "active"
    assert created["blocked"] is False
    assert created["opt_status"] == "opted_in"
    assert created["channel"] == "sms"
    assert created["created_at"].endswith("Z")
    for path in ("/contacts/+15125550134", "/contacts/15125550134", "/contacts/%2B15125550134"):
        response = as_agent.get(path)
        assert response.status_code == 200, (path, response.body)
        assert body(response)["first_name"] == "Ana"


@pytest.mark.parametrize("same_number", ["15125550134", "+1 512 555 0134", "(512) 555-0134"])
def test_same_number_in_another_format_conflicts(as_agent, same_number):
    create(as_agent)
    response = as_agent.post("/contacts", {"number": same_number})
    assert response.status_code == 409
    assert body(response)["error"] == {
        "code": "conflict",
        "message": "a contact with number +15125550134 already exists",
        "field": "number",
    }


@pytest.mark.parametrize(
    ("payload", "field", "code"),
    [
        ({"number": "555-0134"}, "number", "validation_error"),
        ({"number": "not a phone"}, "number", "validation_error"),
        ({"first_name": "No Number"}, "number", "validation_error"),
        ({"number": "5125550134", "email": "ana-at-example"}, "email", "validation_error"),
        ({"number": "5125550134", "favourite_colour": "blue"}, "favourite_colour", "validation_error"),
        ({"number": "5125550134", "blocked": "yes"}, "blocked", "validation_error"),
        ({"number": "5125550134", "zip": 78701}, "zip", "validation_error"),
        ({"number": "5125550134", "status": "gone"}, "status", "validation_error"),
        ({"number": "5125550134", "first_name": "x" * 300}, "first_name", "validation_error"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(as_agent, payload, field, code):
    response = as_agent.post("/contacts", payload)
    assert response.status_code == 400, response.body
    error = body(response)["error"]
    assert error["code"] == code
    assert error["field"] == field
    assert field in error["message"]


def test_bad_number_reason_is_reported(as_agent):
    response = as_agent.post("/contacts", {"number": "555-0134"})
    assert body(response)["error"]["message"] == "number: not a valid phone number for region US"


@pytest.mark.parametrize(
    ("number", "reason", "once_stored_as"),
    [
        ("1.51255513E+10", "the spreadsheet turned this column into numbers and dropped digits", "+15125551310"),
        ("order 4 4791 1123 456", "letters mixed with digits: not a phone number", "+447911123456"),
    ],
)
def test_text_that_is_not_a_phone_number_is_refused_and_nothing_is_stored(as_agent, number, reason, once_stored_as):
    response = as_agent.post("/contacts", {"number": number})
    assert response.status_code == 400, response.body
    error = body(response)["error"]
    assert (error["code"], error["field"]) == ("validation_error", "number")
    assert error["message"].startswith(f"number: {reason}")
    assert body(as_agent.get("/contacts"))["items"] == []
    assert as_agent.get(f"/contacts/{once_stored_as}").status_code == 404


def test_malformed_json_is_a_400(as_agent):
    response = as_agent.post("/contacts", '{"number": "5125550134",')
    assert response.status_code == 400
    assert body(response)["error"]["code"] == "validation_error"
    assert "not valid JSON" in body(response)["error"]["message"]


@pytest.mark.parametrize("payload", ['["5125550134"]', "", "null"])
def test_body_must_be_a_json_object(as_agent, payload):
    response = as_agent.post("/contacts", payload)
    assert response.status_code == 400
    assert body(response)["error"]["code"] == "validation_error"


def test_oversized_body_is_a_413(as_agent):
    response = as_agent.post("/contacts", {"number": "5125550134", "extra1": "x" * 70_000})
    assert response.status_code == 413
    assert body(response)["error"]["code"] == "payload_too_large"


def test_wrong_content_type_is_a_json_415(as_agent):
    response = as_agent.post("/contacts", "number=5125550134", headers={"Content-Type": "text/plain"})
    assert response.status_code == 415
    assert body(response)["error"]["code"] == "unsupported_media_type"


def test_missing_contact_is_a_404(as_agent):
    response = as_agent.get("/contacts/+15125550199")
    assert response.status_code == 404
    assert body(response)["error"]["code"] == "not_found"


def test_invalid_number_in_path_is_a_400(as_agent):
    response = as_agent.get("/contacts/12")
    assert response.status_code == 400
    assert body(response)["error"]["field"] == "number"


def test_patch_changes_only_given_fields_and_blank_clears(as_agent):
    create(as_agent, first_name="Ana", last_name="Diaz", city="Austin")
    response = as_agent.patch("/contacts/5125550134", {"city": "Dallas", "last_name": ""})
    assert response.status_code == 200, response.body
    updated = body(response)
    assert (updated["first_name"], updated["last_name"], updated["city"]) == ("Ana", None, "Dallas")
    assert body(as_agent.get("/contacts/5125550134"))["city"] == "Dallas"


BLOCKED_IS_STAFF_ONLY = {
    "error": {
        "code": "forbidden",
        "message": "role agent may not set blocked; only admins and supervisors may",
        "field": "blocked",
    }
}


@pytest.mark.parametrize("value", [True, False, None])
def test_only_admins_and_supervisors_may_send_blocked(as_agent, as_supervisor, as_admin, value):
    refused = as_agent.post("/contacts", {"number": "5125550134", "blocked": value})
    assert (refused.status_code, body(refused)) == (403, BLOCKED_IS_STAFF_ONLY)
    assert as_agent.get("/contacts/5125550134").status_code == 404, "nothing was created"

    create(as_agent, city="Austin")
    refused = as_agent.patch("/contacts/5125550134", {"city": "Dallas", "blocked": value})
    assert (refused.status_code, body(refused)) == (403, BLOCKED_IS_STAFF_ONLY)
    assert body(as_agent.get("/contacts/5125550134"))["city"] == "Austin", "the whole request was refused"

    assert body(as_supervisor.patch("/contacts/5125550134", {"blocked": True}))["blocked"] is True
    assert body(as_admin.patch("/contacts/5125550134", {"blocked": False}))["blocked"] is False
    blocked = as_supervisor.post("/contacts", {"number": "5125550135", "blocked": True})
    assert (blocked.status_code, body(blocked)["blocked"]) == (201, True)


def test_patch_cannot_change_the_number_or_opt_status(as_agent):
    create(as_agent)
    for payload in ({"number": "5125550135"}, {"opt_status": "opted_out"}):
        response = as_agent.patch("/contacts/5125550134", payload)
        assert response.status_code == 400
        assert body(response)["error"]["field"] in payload


def test_patch_of_missing_contact_is_a_404(as_agent):
    assert as_agent.patch("/contacts/5125550134", {"city": "Waco"}).status_code == 404


def test_delete_is_for_admins_and_supervisors(as_agent, as_supervisor):
    create(as_agent)
    assert as_agent.delete("/contacts/5125550134").status_code == 403
    assert as_supervisor.delete("/contacts/5125550134").status_code == 204
    assert as_agent.get("/contacts/5125550134").status_code == 404
    assert as_supervisor.delete("/contacts/5125550134").status_code == 404


def test_a_contact_who_opted_out_is_kept_so_the_opt_out_holds(as_supervisor):
    from chalicelib.services import optouts

    for number, scope in (("+15125550134", optouts.Scope()), ("+15125550135", optouts.Scope("cmp_spring"))):
        optouts.opt_out(number, scope, source="manual", actor="ada")
        response = as_supervisor.delete(f"/contacts/{number}")
        assert response.status_code == 409
        assert body(response)["error"]["field"] == "number"
        assert as_supervisor.get(f"/contacts/{number}").status_code == 200
    optouts.opt_in("+15125550134", optouts.Scope(), source="manual", actor="ada")
    assert as_supervisor.delete("/contacts/+15125550134").status_code == 204


def test_concurrent_creates_of_one_number_make_one_contact(app):
    from concurrent.futures import ThreadPoolExecutor

    from chalicelib.errors import Conflict
    from chalicelib.services.contacts import create_contact

    formats = ["(512) 555-0134", "15125550134", "+1 512 555 0134", "512.555.0134"] * 5

    def attempt(raw):
        try:
            create_contact({"number": raw})
        except Conflict:
            return "conflict"
        return "created"

    with ThreadPoolExecutor(max_workers=10) as pool:
        outcomes = list(pool.map(attempt, formats))
    assert outcomes.count("created") == 1
    assert outcomes.count("conflict") == len(formats) - 1


def test_concurrent_patches_are_not_lost(as_agent):
    from concurrent.futures import ThreadPoolExecutor

    from chalicelib.services.contacts import get_contact, update_contact

    create(as_agent)
    fields = ["first_name", "last_name", "city", "state", "zip", "extra1"]
    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(lambda name: update_contact("5125550134", {name: f"v-{name}"}), fields))
    stored = get_contact("5125550134")
    assert {name: stored[name] for name in fields} == {name: f"v-{name}" for name in fields}
