"""Import jobs: one per file, the progress a run saves, and the rows it rejected.

A job advances in steps: each step's contact writes, its rejected rows and the
job's new offset and counts are one transaction. So a run that dies at any
point resumes exactly where the last step ended, and the counts always match
what was written.
"""

from __future__ import annotations

from collections.abc import Sequence

from pynamodb.attributes import (
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.models import Model

from chalicelib.models.base import table_meta

COUNTS = ("rows", "created", "updated", "unchanged", "rejected", "duplicates")


class ImportJob(Model):
    Meta = table_meta("IMPORT_JOBS_TABLE")

    id = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute()
    """contacts or optouts."""
    status = UnicodeAttribute()
    """awaiting_upload, queued, running, done or failed."""
    key = UnicodeAttribute(null=True)
    """The object in the bucket; known once uploaded."""
    name = UnicodeAttribute(null=True)
    campaign_id = UnicodeAttribute(null=True)
    mapping = MapAttribute(null=True)
    group = UnicodeAttribute(null=True)
    size = NumberAttribute(default=0)
    etag = UnicodeAttribute(null=True)
    """The version of the object the first run read; later runs read only that version."""
    offset = NumberAttribute(default=0)
    line = NumberAttribute(default=1)
    dialect = MapAttribute(null=True)
    header = ListAttribute(of=UnicodeAttribute, null=True)
    columns = ListAttribute(null=True)
    """Per column, the field it fills ("" when ignored); fixed once the header is read."""
    column_issues = ListAttribute(null=True)
    rows = NumberAttribute(default=0)
    created = NumberAttribute(default=0)
    updated = NumberAttribute(default=0)
    unchanged = NumberAttribute(default=0)
    rejected = NumberAttribute(default=0)
    duplicates = NumberAttribute(default=0)
    runs = NumberAttribute(default=0)
    lease_until = UTCDateTimeAttribute(null=True)
    error = UnicodeAttribute(null=True)
    summary_key = UnicodeAttribute(null=True)
    rejected_key = UnicodeAttribute(null=True)
    created_by = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    finished_at = UTCDateTimeAttribute(null=True)


REJECTION_ITEM_BYTES = 256 * 1024
"""Rows packed into one rejection item up to about this much text, well under DynamoDB's 400 KB an item."""


class RejectedRow(MapAttribute):
    line = NumberAttribute()
    cells = ListAttribute(of=UnicodeAttribute)
    reason = UnicodeAttribute()


class ImportRejection(Model):
    """Rejected rows kept until the job writes `rejected.csv`, keyed by the first row's line so they read in file order.

    A step's rows share items (`packed`): an item a row was 2.5% of the items
    a typical import wrote (2% of its rows rejected), for rows nobody reads
    before the job ends.
    """

    Meta = table_meta("IMPORT_REJECTIONS_TABLE")

    job_id = UnicodeAttribute(hash_key=True)
    line = NumberAttribute(range_key=True)
    rows = ListAttribute(of=RejectedRow)


def packed(job_id: str, rows: Sequence[RejectedRow]) -> list[ImportRejection]:
    """`rows`, in order, in as few items as stay under `REJECTION_ITEM_BYTES` each (a longer row gets its own)."""
    items: list[ImportRejection] = []
    size = 0
    for row in rows:
        row_bytes = sum(len(cell.encode()) + 8 for cell in row.cells) + len(row.reason.encode()) + 32
        if not items or size + row_bytes > REJECTION_ITEM_BYTES:
            items.append(ImportRejection(job_id, row.line, rows=[]))
            size = 0
        items[-1].rows.append(row)
        size += row_bytes
    return items
