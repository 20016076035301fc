"""Export jobs: what was asked for, and where the file is once written."""

from __future__ import annotations

from pynamodb.attributes import MapAttribute, NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.models import Model

from chalicelib.models.base import table_meta


class ExportJob(Model):
    Meta = table_meta("EXPORT_JOBS_TABLE")

    id = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute()
    """contacts or optouts."""
    filters = MapAttribute(default=dict)
    status = UnicodeAttribute()
    """queued, running, done or failed."""
    rows = NumberAttribute(default=0)
    attempts = NumberAttribute(default=0)
    key = UnicodeAttribute(null=True)
    error = UnicodeAttribute(null=True)
    created_by = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    finished_at = UTCDateTimeAttribute(null=True)
