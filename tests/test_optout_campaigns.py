"""An opt-out scoped to a campaign must name one that exists: the API refuses the rest with a 404 and writes nothing.

Opt-out lists in the bucket are tested with the other imports (`test_imports.py`).
"""

from __future__ import annotations

import json

import pytest

from chalicelib.models import Contact, ExportJob, ImportJob, OptOut, OptOutHistory
from chalicelib.services import campaigns, optouts
from tests.conftest import BUSINESS_NUMBER

ANA = "+15125550134"
NO_CAMPAIGN = {"error": {"code": "not_found", "message": "no campaign cmp_missing", "field": "campaign_id"}}


def body(response):
    return json.loads(response.body)


@pytest.fixture
def spring(business):
    return campaigns.create({"name": "Spring", "business_number": BUSINESS_NUMBER, "welcome_text": "hi"})["id"]


def test_each_route_refuses_a_campaign_that_does_not_exist_and_writes_nothing(as_supervisor, as_admin, as_agent):
    refused = [
        as_supervisor.post("/optouts", {"numbers": [ANA], "campaign_id": "cmp_missing", "reason": "asked"}),
        as_agent.get("/optouts?campaign_id=cmp_missing"),
        as_admin.delete(f"/optouts/{ANA}?reason=consent&campaign_id=cmp_missing"),
        as_supervisor.post("/exports", {"kind": "optouts", "campaign_id": "cmp_missing"}),
        as_supervisor.post("/imports", {"kind": "optouts", "filename": "stop.csv", "campaign_id": "cmp_missing"}),
    ]

    assert [(r.status_code, body(r)) for r in refused] == [(404, NO_CAMPAIGN)] * len(refused)
    for model in (OptOut, OptOutHistory, Contact, ExportJob, ImportJob):
        assert list(model.scan()) == [], model.__name__


def test_an_archived_campaign_still_takes_opt_outs(spring, bucket, as_supervisor, as_admin, as_agent):
    campaigns.update(spring, {"status": "archived"})

    created = as_supervisor.post("/optouts", {"numbers": [ANA], "campaign_id": spring, "reason": "asked"})
    assert body(created)["results"] == [{"number": ANA, "result": "opted_out"}]
    listed = body(as_agent.get(f"/optouts?campaign_id={spring}"))["items"]
    assert [(item["number"], item["campaign_id"]) for item in listed] == [(ANA, spring)]
    assert as_supervisor.post("/exports", {"kind": "optouts", "campaign_id": spring}).status_code == 202
    upload = as_supervisor.post("/imports", {"kind": "optouts", "filename": "stop.csv", "campaign_id": spring})
    assert upload.status_code == 201
    lifted = as_admin.delete(f"/optouts/{ANA}?reason=consent&campaign_id={spring}")
    assert body(lifted) == {"number": ANA, "result": "opted_in"}


def test_an_opt_out_stored_for_a_campaign_that_does_not_exist_can_still_be_lifted(as_admin):
    """Stored before campaigns were checked, it would keep the contact from being deleted for good."""
    optouts.opt_out(ANA, optouts.Scope("cmp_missing"), source="manual", actor="ada")

    lifted = as_admin.delete(f"/optouts/{ANA}?reason=mistyped&campaign_id=cmp_missing")
    assert body(lifted) == {"number": ANA, "result": "opted_in"}
    again = as_admin.delete(f"/optouts/{ANA}?reason=mistyped&campaign_id=cmp_missing")
    assert (again.status_code, body(again)) == (404, NO_CAMPAIGN)
    assert as_admin.delete(f"/contacts/{ANA}").status_code == 204
