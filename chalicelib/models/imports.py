"""Import jobs: one per file, the progress a run saves, and the rows it rejected.

A job advances in steps: each step's contact writes, its rejected rows and the
job's new offset and counts are one transaction. So a run that dies at any
point resumes exactly where the last step ended, and the counts always match
what was written.
"""

from __future__ import annotations

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


class ImportRejection(Model):
    """A rejected row kept until the job writes `rejected.csv`, in file order."""

    Meta = table_meta("IMPORT_REJECTIONS_TABLE")

    job_id = UnicodeAttribute(hash_key=True)
    line = NumberAttribute(range_key=True)
    cells = ListAttribute(of=UnicodeAttribute)
    reason = UnicodeAttribute()
