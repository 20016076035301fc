"""Export routes: ask for a CSV, then fetch its status and download URL."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib.api.authorizer import cognito
from chalicelib.api.payloads import caller_name, json_response, parse_body
from chalicelib.api.schemas import ExportCreate
from chalicelib.services import exports

blueprint = Blueprint(__name__)


@blueprint.route("/exports", methods=["POST"], authorizer=cognito)
def create_export() -> Response:
    request = blueprint.current_request
    payload = parse_body(request, ExportCreate)
    filters = payload.model_dump(exclude={"kind"}, exclude_none=True)
    return json_response(exports.request_export(payload.kind, filters, caller_name(request)), 202)


@blueprint.route("/exports/{job_id}", methods=["GET"], authorizer=cognito)
def get_export(job_id: str) -> dict[str, Any]:
    return exports.get_job(job_id)
