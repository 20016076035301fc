"""Import jobs: one per file, and what callers see of them.

A browser asks for a job and a presigned URL first; a file dropped into the
bucket gets its job when its upload event first arrives. Either way
`imports.run` then reads the file and writes its rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import PutError, UpdateError

from chalicelib import storage
from chalicelib.bulk.headers import check_mapping
from chalicelib.errors import NotFound, ValidationFailed
from chalicelib.ids import new_id
from chalicelib.models import ImportJob
from chalicelib.models.imports import COUNTS
from chalicelib.models.writes import condition_failed
from chalicelib.observability import logger
from chalicelib.services import campaigns, custom_fields
from chalicelib.timestamps import iso_z

PREFIX = "imports/"


@dataclass(frozen=True)
class Target:
    """What an object key asks for: `imports/contacts/<file>.csv` or `imports/optouts/[<campaign>/]<file>.csv`."""

    kind: str
    name: str
    campaign_id: str | None = None


def target_of(key: str) -> Target | None:
    """None for keys that are not import files (sidecars, folders, other kinds)."""
    if not key.startswith(PREFIX) or not key.lower().endswith(".csv"):
        return None
    parts = key[len(PREFIX) :].split("/")
    if parts[0] == "contacts" and len(parts) == 2:
        return Target("contacts", parts[1])
    if parts[0] == "optouts" and len(parts) in (2, 3):
        return Target("optouts", parts[-1], parts[1] if len(parts) == 3 else None)
    return None


def prepare_upload(
    kind: str, filename: str, actor: str, mapping: Mapping[str, Any] | None, campaign_id: str | None = None
) -> dict[str, Any]:
    """A job and a presigned URL to upload its file to; the upload starts the same pipeline as a dropped file."""
    if campaign_id is not None and kind != "optouts":
        raise ValidationFailed("campaign_id scopes an opt-out list; contacts have none", field="campaign_id")
    campaigns.require(campaign_id)
    job_id = new_id("imp")
    folder = f"{kind}/{campaign_id}" if campaign_id else kind
    key = f"{PREFIX}{folder}/{filename}"
    job = ImportJob(
        job_id,
        kind=kind,
        status="awaiting_upload",
        key=key,
        name=filename,
        campaign_id=campaign_id,
        mapping=_checked_mapping(mapping, kind),
        group=(mapping or {}).get("group"),
        created_by=actor,
        created_at=datetime.now(UTC),
    )
    job.save()
    upload = storage.presigned_upload(key, "text/csv", metadata={"job-id": job_id})
    return {"job": job_view(job), **upload}


def job_for_object(key: str, etag: str, sequencer: str) -> ImportJob | None:
    """The job an uploaded object belongs to, created on first sight; None when the key is not an import.

    A browser upload names its job in the object's metadata; a file dropped
    into the bucket gets a job whose id is derived from the upload event, so a
    redelivered event finds the same job instead of starting another.
    """
    target = target_of(key)
    if target is None:
        return None
    stored = storage.describe_object(key)
    job_id = stored.metadata.get("job-id")
    if job_id:
        return _queue_uploaded(job_id, key, stored.size)
    job_id = "imp_" + hashlib.blake2b(f"{key}#{etag}#{sequencer}".encode(), digest_size=12).hexdigest()
    sidecar = storage.read_json(key[: -len(".csv")] + ".mapping.json")
    job = ImportJob(
        job_id,
        kind=target.kind,
        status="queued",
        key=key,
        name=target.name,
        campaign_id=target.campaign_id,
        size=stored.size,
        created_at=datetime.now(UTC),
    )
    try:
        job.mapping = _checked_mapping(sidecar, target.kind)
        job.group = (sidecar or {}).get("group")
    except ValidationFailed as error:
        job.status, job.error = "failed", f"{key[: -len('.csv')]}.mapping.json: {error.message}"
    try:
        job.save(condition=ImportJob.id.does_not_exist())
    except PutError as error:
        if not condition_failed(error):
            raise
    return ImportJob.get(job_id, consistent_read=True)


def _queue_uploaded(job_id: str, key: str, size: int) -> ImportJob | None:
    try:
        ImportJob(job_id).update(
            actions=[ImportJob.status.set("queued"), ImportJob.key.set(key), ImportJob.size.set(size)],
            condition=ImportJob.status == "awaiting_upload",
        )
    except UpdateError as error:
        if not condition_failed(error):
            raise
    try:
        return ImportJob.get(job_id, consistent_read=True)
    except ImportJob.DoesNotExist:
        logger.warning("upload names an unknown import job", extra={"job_id": job_id})
        return None


def _checked_mapping(mapping: Mapping[str, Any] | None, kind: str) -> dict[str, Any] | None:
    """A mapping file or body: `{"columns": {header: field or "ignore"}, "group": name}`, checked before any row."""
    if not mapping:
        return None
    unknown = set(mapping) - {"columns", "group"}
    if unknown:
        raise ValidationFailed(f"mapping has unknown keys {sorted(unknown)}; use columns and group", field="mapping")
    columns = mapping.get("columns") or {}
    if not isinstance(columns, dict) or not all(isinstance(v, str) for v in columns.values()):
        raise ValidationFailed('mapping.columns maps each header to a field name or "ignore"', field="mapping")
    group = mapping.get("group")
    if group is not None and (not isinstance(group, str) or not group.strip()):
        raise ValidationFailed("mapping.group is the name of a group", field="mapping")
    try:
        check_mapping(columns, custom_fields.list_fields(), optouts=kind == "optouts")
    except ValueError as error:
        raise ValidationFailed(f"mapping.columns: {error}", field="mapping") from None
    return {"columns": dict(columns), **({"group": group} if group else {})}


def get_job(job_id: str) -> dict[str, Any]:
    try:
        return job_view(ImportJob.get(job_id, consistent_read=True))
    except ImportJob.DoesNotExist:
        raise NotFound(f"no import job {job_id}", field="job_id") from None


def job_view(job: ImportJob) -> dict[str, Any]:
    done = job.status == "done"
    percent = 100 if done else (int(100 * job.offset / job.size) if job.size else 0)
    return {
        "id": job.id,
        "kind": job.kind,
        "status": job.status,
        "file": job.key,
        "campaign_id": job.campaign_id,
        "group": job.group,
        "percent_done": min(percent, 100),
        **{name: int(getattr(job, name) or 0) for name in COUNTS},
        "column_issues": list(job.column_issues or []),
        "error": job.error,
        "summary": job.summary_key,
        "rejected_file": job.rejected_key,
        "runs": int(job.runs or 0),
        "created_at": iso_z(job.created_at),
        "finished_at": iso_z(job.finished_at),
    }
