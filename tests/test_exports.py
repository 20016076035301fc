"""Exports through the exports queue to the bucket, and the round trip back through the import."""

from __future__ import annotations

import contextlib
import csv
import io
from typing import Any

from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from chalicelib.services import contacts, custom_fields, optouts
from tests.conftest import Bucket
from tests.test_imports import counts, drop


def export(client: Any, bucket: Bucket, api: Any, body: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    """Ask for an export, run the worker on what the queue holds, and fetch the finished file."""
    requested = api.post("/exports", body)
    assert requested.status_code == 202, requested.json_body
    assert requested.json_body["status"] == "queued"
    messages = bucket.drain(bucket.exports_queue_url)
    event = client.events.generate_sqs_event(message_bodies=messages, queue_name="exports")
    assert client.lambda_.invoke("export_files", event).payload == {"batchItemFailures": []}
    job = api.get(f"/exports/{requested.json_body['id']}").json_body
    assert job["status"] == "done" and job["url"].startswith("http")
    return job, bucket.read(job["file"])


def rows_of(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def seed() -> None:
    custom_fields.create_field("tier", None)
    contacts.create_contact(
        {"number": "5125550101", "first_name": "Maria", "last_name": "García", "custom": {"tier": "gold"}}
    )
    contacts.create_contact({"number": "5125550102", "first_name": '=HYPERLINK("http://x")', "city": "-Austin"})
    contacts.create_contact({"number": "+447911123456", "first_name": "@Olivia", "status": "inactive"})
    optouts.opt_out("+15125550102", optouts.Scope(), source="keyword", actor="+15125550102", reason="texted STOP")


def test_contacts_export_neutralizes_formulas_and_reimports_with_zero_changes(client, bucket, as_supervisor):
    seed()
    job, data = export(client, bucket, as_supervisor, {"kind": "contacts"})
    header, *rows = rows_of(data)
    assert data.startswith(b"\xef\xbb\xbf"), "a BOM, so Excel reads the accents"
    assert header == [
        "number", "first_name", "last_name", "email", "address", "address2", "city", "state", "zip", "country",
        "extra1", "extra2", "extra3", "extra4", "extra5", "tier", "status", "group", "opt_status",
    ]  # fmt: skip
    assert job["rows"] == len(rows) == 3
    by_number = {row[0]: dict(zip(header, row, strict=True)) for row in rows}
    assert set(by_number) == {"+15125550101", "+15125550102", "+447911123456"}, "numbers stay E.164"
    assert by_number["+15125550102"]["first_name"] == '\'=HYPERLINK("http://x")'
    assert by_number["+15125550102"]["city"] == "'-Austin"
    assert by_number["+447911123456"]["first_name"] == "'@Olivia"
    assert (by_number["+15125550101"]["last_name"], by_number["+15125550101"]["tier"]) == ("García", "gold")
    assert by_number["+15125550102"]["opt_status"] == "opted_out"

    again = drop(client, bucket, "imports/contacts/reimport.csv", data)
    assert counts(again) == {"rows": 3, "created": 0, "updated": 0, "unchanged": 3, "rejected": 0, "duplicates": 0}
    assert [(i["header"], i["problem"]) for i in again["column_issues"]] == [("opt_status", "unknown")]
    assert contacts.get_contact("+15125550102")["first_name"] == '=HYPERLINK("http://x")'


def test_export_filters_like_the_contact_list(client, bucket, as_admin):
    seed()
    _, data = export(client, bucket, as_admin, {"kind": "contacts", "opt_status": "opted_out"})
    assert [row[0] for row in rows_of(data)[1:]] == ["+15125550102"]


def test_optouts_export_reimports_as_an_optout_list(client, bucket, as_supervisor):
    seed()
    optouts.opt_out("+15125550103", optouts.Scope(), source="manual", actor="sam", reason="=cmd|' /C calc'!A0")
    _, data = export(client, bucket, as_supervisor, {"kind": "optouts"})
    header, *rows = rows_of(data)
    assert header == ["phone", "scope", "campaign_id", "source", "reason", "opted_out_at"]
    assert sorted(row[0] for row in rows) == ["+15125550102", "+15125550103"]
    assert {row[4] for row in rows} == {"texted STOP", "'=cmd|' /C calc'!A0"}
    again = drop(client, bucket, "imports/optouts/again.csv", data)
    assert (again["rows"], again["created"], again["unchanged"]) == (2, 0, 2)


def test_roles_and_bad_requests(as_agent, as_supervisor, bucket):
    assert as_agent.post("/exports", {"kind": "contacts"}).status_code == 403
    assert as_supervisor.post("/exports", {"kind": "everything"}).status_code == 400
    assert as_supervisor.get("/exports/exp_missing").status_code == 404


def test_a_redelivered_export_message_writes_nothing_new(client, bucket, as_supervisor):
    seed()
    job, _ = export(client, bucket, as_supervisor, {"kind": "contacts"})
    event = client.events.generate_sqs_event(message_bodies=[f'{{"export_job": "{job["id"]}"}}'], queue_name="exports")
    client.lambda_.invoke("export_files", event)
    assert as_supervisor.get(f"/exports/{job['id']}").json_body["finished_at"] == job["finished_at"]


def test_filters_are_checked_when_asked_for(as_supervisor, bucket):
    bad_search = as_supervisor.post("/exports", {"kind": "contacts", "q": "--"})
    assert (bad_search.status_code, bad_search.json_body["error"]["field"]) == (400, "q")
    stray = as_supervisor.post("/exports", {"kind": "optouts", "opt_status": "opted_out"})
    assert (stray.status_code, stray.json_body["error"]["field"]) == (400, "opt_status")
    assert as_supervisor.post("/exports", {"kind": "contacts", "campaign_id": "x"}).status_code == 400
    assert bucket.drain(bucket.exports_queue_url) == [], "nothing was queued"


def test_an_export_that_keeps_crashing_ends_failed(client, bucket, as_supervisor, monkeypatch):
    from chalicelib.services import exports

    def broken(*args, **kwargs):
        raise ConnectionError("S3 is down")

    monkeypatch.setattr(exports.storage, "write_stream", broken)
    job_id = as_supervisor.post("/exports", {"kind": "contacts"}).json_body["id"]
    messages = bucket.drain(bucket.exports_queue_url)
    event = client.events.generate_sqs_event(message_bodies=messages, queue_name="exports")
    statuses = []
    for _ in range(exports.MAX_ATTEMPTS + 1):
        with contextlib.suppress(BatchProcessingError):  # the whole batch failed: SQS delivers it again
            client.lambda_.invoke("export_files", event)
        statuses.append(as_supervisor.get(f"/exports/{job_id}").json_body["status"])
    assert statuses == ["running"] * exports.MAX_ATTEMPTS + ["failed"]
    assert "3 times" in as_supervisor.get(f"/exports/{job_id}").json_body["error"]
