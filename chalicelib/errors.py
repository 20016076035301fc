"""Errors the API reports to callers, each with a machine-readable code.

Services raise these; the HTTP layer turns them into a JSON body
`{"error": {"code", "message", "field"?, "details"?}}` with the status below.
Anything else that escapes a handler is a bug and is logged as one.

They derive from `ChaliceUnhandledError` because that is the one exception
Chalice lets through to middleware instead of turning it into its own 500.
"""

from __future__ import annotations

from typing import Any

from chalice import ChaliceUnhandledError


class ApiError(ChaliceUnhandledError):
    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        details: list[dict[str, Any]] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        if self.details:
            error["details"] = self.details
        error.update(self.extra)
        return {"error": error}


class ValidationFailed(ApiError):
    code = "validation_error"


class Unauthorized(ApiError):
    status = 401
    code = "unauthorized"


class Forbidden(ApiError):
    status = 403
    code = "forbidden"


class NotFound(ApiError):
    status = 404
    code = "not_found"


class Conflict(ApiError):
    status = 409
    code = "conflict"


class PayloadTooLarge(ApiError):
    status = 413
    code = "payload_too_large"


class LimitReached(ApiError):
    status = 422
    code = "limit_reached"
