import json


def test_create_and_read_contact(as_agent):
    created = as_agent.post("/contacts", {"number": "(512) 555-0134", "first_name": "Ana"})
    assert created.status_code == 201, created.body
    got = as_agent.get("/contacts/+15125550134")
    assert got.status_code == 200, got.body
    assert json.loads(got.body)["first_name"] == "Ana"
