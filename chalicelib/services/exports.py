"""Exports: contacts (with the same filters as the contact list) or opt-outs, as a CSV in the bucket.

A request only records the job and queues it; the exports worker pages through
the same index Queries the API lists with and streams the rows to S3 as a
multipart upload, so an export of any size neither times out a request nor
sits in memory. The contacts file has exactly the import's headers (plus
custom fields, status, group and opt status), so it re-imports unchanged.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from dataclasses import fields, replace
from datetime import UTC, datetime
from typing import Any

from chalicelib import storage
from chalicelib.bulk.spreadsheet import neutralize
from chalicelib.errors import ApiError, NotFound, ValidationFailed
from chalicelib.ids import new_id
from chalicelib.models import ExportJob
from chalicelib.models.contacts import PROFILE_FIELDS
from chalicelib.observability import logger
from chalicelib.queues import enqueue
from chalicelib.services import campaigns, contacts, custom_fields, optouts
from chalicelib.timestamps import iso_z

QUEUE_ENV = "EXPORTS_QUEUE_URL"
PAGE = 200
MAX_ATTEMPTS = 3
GAVE_UP = f"the export failed {MAX_ATTEMPTS} times; ask for it again, and tell support if it keeps failing"
CONTACT_FILTERS = {f.name for f in fields(contacts.ContactQuery)} - {"sort", "order", "limit", "cursor"}
OPTOUT_HEADER = ("phone", "scope", "campaign_id", "source", "reason", "opted_out_at")


def request_export(kind: str, filters: Mapping[str, Any], actor: str) -> dict[str, Any]:
    """Check the filters now (a 400 or 404 beats a job that fails later), record the job and queue it."""
    allowed = CONTACT_FILTERS if kind == "contacts" else {"campaign_id"}
    stray = sorted(set(filters) - allowed)
    if stray:
        raise ValidationFailed(f"{', '.join(stray)} cannot filter an export of {kind}", field=stray[0])
    if kind == "contacts":
        contacts.list_contacts(_contact_query(filters, limit=1))
    else:
        campaigns.require(filters.get("campaign_id"))
    job = ExportJob(
        new_id("exp"),
        kind=kind,
        filters={k: v for k, v in filters.items() if v is not None},
        status="queued",
        created_by=actor,
        created_at=datetime.now(UTC),
    )
    job.save()
    enqueue(QUEUE_ENV, {"export_job": job.id})
    return job_view(job)


def get_job(job_id: str) -> dict[str, Any]:
    try:
        return job_view(ExportJob.get(job_id, consistent_read=True))
    except ExportJob.DoesNotExist:
        raise NotFound(f"no export job {job_id}", field="job_id") from None


def job_view(job: ExportJob) -> dict[str, Any]:
    done = job.status == "done" and job.key is not None
    return {
        "id": job.id,
        "kind": job.kind,
        "filters": job.filters.as_dict() if job.filters else {},
        "status": job.status,
        "rows": int(job.rows or 0),
        "file": job.key,
        "url": storage.presigned_download(job.key) if done else None,
        "error": job.error,
        "created_at": iso_z(job.created_at),
        "finished_at": iso_z(job.finished_at),
    }


def run(job_id: str) -> None:
    """Write the file; running a finished job again (a redelivered message) writes nothing.

    A job whose filters turn out invalid fails with the reason; any other
    error leaves it running and propagates, so the queue retries it, up to
    `MAX_ATTEMPTS` runs; the next delivery after that marks it failed.
    """
    job = ExportJob.get(job_id, consistent_read=True)
    if job.status in ("done", "failed"):
        return
    if int(job.attempts or 0) >= MAX_ATTEMPTS:
        job.update(actions=[ExportJob.status.set("failed"), ExportJob.error.set(GAVE_UP)])
        return
    job.update(actions=[ExportJob.status.set("running"), ExportJob.attempts.add(1)])
    key = f"exports/{job.kind}/{job.id}.csv"
    filters = job.filters.as_dict() if job.filters else {}
    written = [0]

    def counted(rows: Iterator[list[str]]) -> Iterator[list[str]]:
        for row in rows:
            written[0] += 1
            yield row

    try:
        header, rows = _contacts(filters) if job.kind == "contacts" else _optouts(filters)
        storage.write_stream(key, _encoded(header, counted(rows)), "text/csv")
    except ApiError as error:
        job.update(actions=[ExportJob.status.set("failed"), ExportJob.error.set(error.message)])
        return
    job.update(
        actions=[
            ExportJob.status.set("done"),
            ExportJob.key.set(key),
            ExportJob.rows.set(written[0]),
            ExportJob.finished_at.set(datetime.now(UTC)),
        ]
    )
    logger.info("export finished", extra={"job_id": job.id, "rows": written[0]})


def contact_header(custom: list[str]) -> list[str]:
    return ["number", *PROFILE_FIELDS, *custom, "status", "group", "opt_status"]


def _contacts(filters: Mapping[str, Any]) -> tuple[list[str], Iterator[list[str]]]:
    custom = sorted(custom_fields.list_fields())
    return contact_header(custom), _contact_rows(_contact_query(filters, limit=PAGE), custom)


def _contact_query(filters: Mapping[str, Any], limit: int) -> contacts.ContactQuery:
    return contacts.ContactQuery(**{k: v for k, v in filters.items() if k in CONTACT_FILTERS}, limit=limit)


def _contact_rows(query: contacts.ContactQuery, custom: list[str]) -> Iterator[list[str]]:
    while True:
        page = contacts.list_contacts(query)
        for view in page.items:
            yield [
                view["number"],
                *(neutralize(view[name] or "") for name in PROFILE_FIELDS),
                *(neutralize(str(view["custom"].get(name, ""))) for name in custom),
                view["status"],
                neutralize(";".join(view["groups"])),
                view["opt_status"],
            ]
        if page.next_cursor is None:
            return
        query = replace(query, cursor=page.next_cursor)


def _optouts(filters: Mapping[str, Any]) -> tuple[list[str], Iterator[list[str]]]:
    return list(OPTOUT_HEADER), _optout_rows(optouts.Scope(filters.get("campaign_id")))


def _optout_rows(scope: optouts.Scope) -> Iterator[list[str]]:
    cursor = None
    while True:
        page = optouts.list_optouts(scope, PAGE, cursor)
        for item in page.items:
            yield [
                item["number"],
                item["scope"],
                neutralize(item["campaign_id"] or ""),
                item["source"],
                neutralize(item["reason"] or ""),
                item["created_at"],
            ]
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def _encoded(header: list[str], rows: Iterator[list[str]]) -> Iterator[bytes]:
    """CSV lines as UTF-8 with a BOM, which Excel needs to read accents right; about 64 KiB at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    yield b"\xef\xbb\xbf"
    for row in rows:
        writer.writerow(row)
        if buffer.tell() >= 64 * 1024:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()
