"""The one HTTP middleware: request logging context, authorization, error shape.

Authorization runs here, before any handler, from the table in `access`, so no
handler can forget it. Every error leaves in one JSON shape, including the ones
Chalice itself produces (unsupported media type, its catch-all 500).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from chalice import Response
from chalice.app import Request

from chalicelib.api.access import authorize
from chalicelib.api.payloads import error_response
from chalicelib.auth import caller_from_context
from chalicelib.errors import ApiError
from chalicelib.observability import logger, metrics, tracer

_CHALICE_CODES = {
    "BadRequestError": "bad_request",
    "UnsupportedMediaType": "unsupported_media_type",
    "InternalServerError": "internal_error",
    "NotFoundError": "not_found",
    "MethodNotAllowedError": "method_not_allowed",
}


@tracer.capture_method(capture_response=False)
def http_middleware(event: Request, get_response: Callable[[Request], Response]) -> Response:
    context: dict[str, Any] = event.context or {}
    route = f"{event.method} {context.get('resourcePath', event.path)}"
    logger.append_keys(route=route, request_id=context.get("requestId"))
    tracer.put_annotation(key="route", value=route)
    try:
        authorize(event.method, context.get("resourcePath", event.path), caller_from_context(context))
        response = get_response(event)
    except ApiError as error:
        response = error_response(error)
    response = _uniform_error(response)
    if response.status_code >= 500:
        logger.error("request failed", extra={"status": response.status_code})
    else:
        logger.info("request", extra={"status": response.status_code})
    metrics.add_metric(name="ApiResponses", unit=MetricUnit.Count, value=1)
    metrics.add_dimension(name="status_class", value=f"{response.status_code // 100}xx")
    metrics.flush_metrics()
    metrics.clear_metrics()  # flush keeps them when metrics are disabled, as in the local stage
    logger.remove_keys(["route", "request_id"])
    return response


def _uniform_error(response: Response) -> Response:
    """Re-shape Chalice's own `{"Code", "Message"}` errors into ours."""
    body = response.body
    if response.status_code < 400 or not isinstance(body, dict) or "Code" not in body:
        return response
    code = _CHALICE_CODES.get(body["Code"], "error")
    message = body.get("Message") or "request failed"
    return Response(
        body={"error": {"code": code, "message": message}},
        status_code=response.status_code,
        headers={**response.headers, "Content-Type": "application/json"},
    )
