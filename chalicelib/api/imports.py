"""Import routes: a presigned upload for a browser, and a job's progress and results."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib.api.authorizer import cognito
from chalicelib.api.payloads import caller_name, created, parse_body
from chalicelib.api.schemas import ImportCreate
from chalicelib.services import import_jobs

blueprint = Blueprint(__name__)


@blueprint.route("/imports", methods=["POST"], authorizer=cognito)
def create_import() -> Response:
    request = blueprint.current_request
    payload = parse_body(request, ImportCreate)
    mapping = payload.mapping.model_dump(exclude_none=True) if payload.mapping else None
    upload = import_jobs.prepare_upload(
        payload.kind, payload.filename, caller_name(request), mapping, payload.campaign_id
    )
    return created(upload)


@blueprint.route("/imports/{job_id}", methods=["GET"], authorizer=cognito)
def get_import(job_id: str) -> dict[str, Any]:
    return import_jobs.get_job(job_id)
