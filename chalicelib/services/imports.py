"""Running an import job (see `import_jobs`) over its CSV in the bucket, and writing its results.

A job reads its object as a stream and hands it, step by step, to
`import_steps`, which writes each step exactly once and moves the job's
offset on; a run that must stop (its time budget, a crash) leaves the job at
a step's end, and the next run resumes there with the same result as one
uninterrupted run. A lease on the job keeps a redelivered event from running
it twice at once; a finished job ignores redeliveries.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.exceptions import UpdateError

from chalicelib import storage
from chalicelib.budget import Budget
from chalicelib.bulk.contact_rows import ContactRow, parse_contact_row, parse_number_cell
from chalicelib.bulk.csv_stream import Dialect, Row, UnreadableFile, open_csv, read_rows
from chalicelib.bulk.headers import MissingColumn, map_contact_columns, map_optout_columns
from chalicelib.config import get_settings
from chalicelib.errors import NotFound
from chalicelib.models import ImportJob, ImportRejection
from chalicelib.models.writes import condition_failed
from chalicelib.observability import logger
from chalicelib.services import campaigns, custom_fields, import_steps, optout_import_steps
from chalicelib.services.import_jobs import job_view
from chalicelib.services.import_steps import ImportFailed

HANDOVER_SECONDS = 0.00025
"""The GIL switch interval while a run's writer thread waits on DynamoDB (see `_prompt_handover`)."""
LEASE_SECONDS = 15 * 60
"""Longer than any Lambda run, so a live run never loses its job; a dead one frees it after this."""
RESULTS_PREFIX = "results/"
REJECTIONS_PAGE = 1
"""Rejection items read a request while rejected.csv is written: each holds up to 256 KB of rows, and DynamoDB's
1 MB pages of them, as Python objects, grew a 1,000,000-row import's process by 60 MB."""


# --- running


def run(job_id: str, budget: Budget) -> str:
    """Advance the job as far as the budget allows: "done", "paused" (call again), or "skipped".

    Steps are pipelined: while one step is being written, the next is read,
    parsed and planned, so a run is bound by its writes rather than by their
    sum with the reads and the parsing. Steps still land one at a time, in
    file order, each moving the job on from the offset the one before left.
    Numbers a step shares with the one being written are held back from its
    plan and planned as it is written: waiting for that write before planning
    the step left DynamoDB idle for a whole plan (7% of a 100,000-row import).
    """
    job = _take_lease(job_id)
    if job is None:
        return "skipped"
    paused, failure = False, None
    plan, write = (
        (import_steps.plan_contacts, import_steps.write_contacts)
        if job.kind == "contacts"
        else (optout_import_steps.plan_optouts, optout_import_steps.write_optouts)
    )
    with _prompt_handover(), ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-writer") as writer:
        in_flight: Future[bool] | None = None
        writing: set[str] = set()
        try:
            for step in import_steps.steps(job, _rows(job), _row_parser(job)):
                planned = plan(job, step, writing.intersection(step.changes))
                if not _landed(in_flight):
                    return "skipped"
                in_flight = writer.submit(write, job, step, planned)
                writing = set(step.changes)
                if budget.exhausted():
                    paused = True
                    break
            if not _landed(in_flight):
                return "skipped"
        except (ImportFailed, UnreadableFile) as error:
            failure = str(error)
            with contextlib.suppress(ImportFailed):  # the step in flight may be what failed
                if not _landed(in_flight):
                    return "skipped"
    if paused and failure is None:
        _release(job)
        return "paused"
    _finish(job, failed=failure)
    return "done"


@contextlib.contextmanager
def _prompt_handover() -> Iterator[None]:
    """Let the writer thread have the GIL soon after each answer arrives, for the length of a run.

    The writer spends its time waiting for DynamoDB and the planning thread
    spends its time in Python. Each time an answer arrives the writer needs
    the GIL back, and a busy thread gives it up only every switch interval
    (5 ms by default), a quarter of a 25-item write on DynamoDB Local. Next
    to a busy thread, 20,000 BatchWriteItem puts ran at 555-744 items/s with
    5 ms and 708-1,009 with 1 ms. It is 0.25 ms because a profile at 1 ms
    still showed the writer a quarter of an import in Python frames waiting
    for the planner to let go; whole imports were too noisy to tell 1 ms
    and 0.25 ms apart. The setting is the process's, so it is put back when
    the run ends.
    """
    previous = sys.getswitchinterval()
    sys.setswitchinterval(HANDOVER_SECONDS)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


def _landed(in_flight: Future[bool] | None) -> bool:
    """Wait for the step being written; False when another run took the job over meanwhile."""
    return in_flight is None or in_flight.result()


def _take_lease(job_id: str) -> ImportJob | None:
    now = datetime.now(UTC)
    free = (ImportJob.status == "queued") | (
        (ImportJob.status == "running") & (ImportJob.lease_until < now)  # a run that died
    )
    job = ImportJob(job_id)
    try:
        job.update(
            actions=[
                ImportJob.status.set("running"),
                ImportJob.lease_until.set(now + timedelta(seconds=LEASE_SECONDS)),
                ImportJob.runs.add(1),
            ],
            condition=free,
        )
    except UpdateError as error:
        if condition_failed(error):
            return None
        raise
    return job


def _release(job: ImportJob) -> None:
    job.update(actions=[ImportJob.status.set("queued"), ImportJob.lease_until.remove()])


def _rows(job: ImportJob) -> Iterator[Row]:
    """The rows still to import: after the header on a first run, after the saved offset on a later one."""
    if job.header is not None:
        if int(job.offset) >= int(job.size):
            return iter(())
        try:
            stored = storage.read_object(job.key, start=int(job.offset), if_match=job.etag)
        except storage.ObjectChanged:
            raise ImportFailed("the file was replaced while it was being imported; upload it again") from None
        return read_rows(stored.chunks, Dialect.from_dict(job.dialect.as_dict()), int(job.offset), int(job.line))
    _check_campaign(job)
    stored = storage.read_object(job.key)
    try:
        opened = open_csv(stored.chunks)
        mapping = (job.mapping.as_dict() if job.mapping else {}).get("columns")
        if job.kind == "contacts":
            columns = map_contact_columns(opened.header, custom_fields.list_fields(), mapping)
        else:
            columns = map_optout_columns(opened.header, mapping)
    except (UnreadableFile, MissingColumn, ValueError) as error:
        raise ImportFailed(str(error)) from None
    job.update(
        actions=[
            ImportJob.header.set(opened.header),
            ImportJob.dialect.set(opened.dialect.as_dict()),
            ImportJob.columns.set([name or "" for name in columns.fields]),
            ImportJob.column_issues.set([issue.as_dict() for issue in columns.issues]),
            ImportJob.offset.set(opened.header_end),
            ImportJob.line.set(opened.header_next_line),
            ImportJob.size.set(stored.size),
            ImportJob.etag.set(stored.etag),
        ],
        condition=ImportJob.header.does_not_exist(),
    )
    return opened.rows


def _check_campaign(job: ImportJob) -> None:
    """Fail an opt-out list whose folder names no campaign before any row: its opt-outs would guard nothing.

    Checked on the first run only: campaigns are archived, never deleted.
    """
    try:
        campaigns.require(job.campaign_id)
    except NotFound as error:
        raise ImportFailed(
            f"{error.message}: an opt-out list under imports/optouts/<campaign id>/ must name an existing campaign"
        ) from None


def _row_parser(job: ImportJob) -> import_steps.RowParser:
    columns = [name or None for name in job.columns]
    region = get_settings().default_phone_region
    if job.kind == "optouts":
        position = columns.index("number")
        return lambda cells: (parse_number_cell(cells, position, region), None)
    defined = custom_fields.list_fields()

    def parse(cells: list[str]) -> tuple[str, ContactRow | None]:
        row = parse_contact_row(cells, columns, defined, region)
        if job.group:
            row.groups.add(job.group)
        return row.number, row

    return parse


# --- results


def _finish(job: ImportJob, failed: str | None = None) -> None:
    """Write the summary and rejected.csv next to each other under results/, then mark the job finished."""
    job.refresh(consistent_read=True)
    stem = f"{RESULTS_PREFIX}{job.kind}/{job.name}.{job.id}"
    rejected_key = f"{stem}.rejected.csv" if job.rejected else None
    if rejected_key:
        with tempfile.SpooledTemporaryFile(max_size=1 << 20) as spool:
            _write_rejected(job, spool)
            spool.seek(0)
            storage.write_object(rejected_key, spool, "text/csv")
    summary_key = f"{stem}.summary.json"
    job.status = "failed" if failed else "done"
    job.error = failed
    job.rejected_key = rejected_key
    job.summary_key = summary_key
    job.finished_at = datetime.now(UTC)
    storage.write_object(summary_key, json.dumps(job_view(job), indent=2).encode(), "application/json")
    job.update(
        actions=[
            ImportJob.status.set(job.status),
            ImportJob.error.set(failed) if failed else ImportJob.error.remove(),
            ImportJob.summary_key.set(summary_key),
            ImportJob.rejected_key.set(rejected_key) if rejected_key else ImportJob.rejected_key.remove(),
            ImportJob.finished_at.set(job.finished_at),
            ImportJob.lease_until.remove(),
        ]
    )
    logger.info("import finished", extra={"job_id": job.id, "status": job.status, "rows": int(job.rows)})


def _write_rejected(job: ImportJob, spool: Any) -> None:
    """The rejected rows as they were, in file order, with a `reason` column, in the file's own delimiter."""
    dialect = Dialect.from_dict(job.dialect.as_dict()) if job.dialect else None
    text = io.TextIOWrapper(spool, encoding="utf-8", newline="", write_through=True)
    writer = csv.writer(text, delimiter=dialect.delimiter if dialect else ",")
    writer.writerow([*(job.header or []), "reason"])
    width = len(job.header or [])
    for rejection in ImportRejection.query(job.id, page_size=REJECTIONS_PAGE):
        for row in rejection.rows:
            cells = list(row.cells)
            writer.writerow([*cells, *[""] * (width - len(cells)), row.reason])
    text.detach()
