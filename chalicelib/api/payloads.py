"""Turning raw requests into validated payloads, and errors into JSON responses."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypeVar
from urllib.parse import unquote

from chalice import Response
from chalice.app import Request
from pydantic import BaseModel
from pydantic import ValidationError as PydanticError

from chalicelib.api.access import authorize_fields
from chalicelib.auth import caller_from_context
from chalicelib.config import get_settings
from chalicelib.errors import ApiError, PayloadTooLarge, Unauthorized, ValidationFailed

SchemaT = TypeVar("SchemaT", bound=BaseModel)


def parse_body(request: Request, schema: type[SchemaT]) -> SchemaT:
    """The body, validated, and refused if it sends a field the caller's role may not (so no handler forgets)."""
    raw = request.raw_body or b""
    limit = get_settings().max_body_bytes
    if len(raw) > limit:
        raise PayloadTooLarge(f"request body is {len(raw)} bytes; the limit is {limit}")
    if not raw.strip():
        raise ValidationFailed("a JSON object body is required")
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValidationFailed(f"body is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise ValidationFailed("body must be a JSON object")
    payload = validate(schema, data)
    context = request.context or {}
    authorize_fields(request.method, context.get("resourcePath", request.path), caller_from_context(context), data)
    return payload


def path_value(raw: str) -> str:
    """A path parameter as the caller wrote it; some gateways pass "%2B1512..." undecoded."""
    return unquote(raw)


def caller_name(request: Request) -> str:
    """The username of whoever is calling; the middleware has already refused requests without one."""
    caller = caller_from_context(request.context)
    if caller is None:
        raise Unauthorized("a valid user token is required")
    return caller.username


def parse_query(request: Request, schema: type[SchemaT]) -> SchemaT:
    return validate(schema, dict(request.query_params or {}))


def validate(schema: type[SchemaT], data: Mapping[str, Any]) -> SchemaT:
    try:
        return schema.model_validate(data)
    except PydanticError as error:
        details = [
            {"field": ".".join(str(part) for part in issue["loc"]), "code": issue["type"], "message": issue["msg"]}
            for issue in error.errors(include_url=False)
        ]
        first = details[0]
        message = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
        raise ValidationFailed(message, field=first["field"] or None, details=details) from None


def json_response(body: Any, status: int) -> Response:
    """A JSON response with its Content-Type said explicitly (`chalice local` would omit it)."""
    return Response(body=body, status_code=status, headers={"Content-Type": "application/json"})


def created(body: Any) -> Response:
    return json_response(body, 201)


def error_response(error: ApiError) -> Response:
    return json_response(error.body(), error.status)
