"""Quick notes and quick replies: everyone reads them, admins and supervisors manage them."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib.api.authorizer import cognito
from chalicelib.api.payloads import created, parse_body
from chalicelib.api.schemas import QuickTextChanges, QuickTextCreate
from chalicelib.services import quick_texts
from chalicelib.services.quick_texts import Kind

blueprint = Blueprint(__name__)

_PATHS = {Kind.NOTE: "/quick-notes", Kind.REPLY: "/quick-replies"}


def _register(kind: Kind, path: str) -> None:
    """The same four routes for both kinds, each registered under a distinct name."""

    def list_texts() -> dict[str, Any]:
        return {"items": quick_texts.list_texts(kind)}

    def create_text() -> Response:
        payload = parse_body(blueprint.current_request, QuickTextCreate)
        return created(quick_texts.create(kind, payload.title, payload.text))

    def update_text(text_id: str) -> dict[str, Any]:
        payload = parse_body(blueprint.current_request, QuickTextChanges)
        return quick_texts.update(kind, text_id, payload.model_dump(exclude_unset=True))

    def delete_text(text_id: str) -> Response:
        quick_texts.delete(kind, text_id)
        return Response(body="", status_code=204)

    for handler, methods, route in (
        (list_texts, ["GET"], path),
        (create_text, ["POST"], path),
        (update_text, ["PATCH"], f"{path}/{{text_id}}"),
        (delete_text, ["DELETE"], f"{path}/{{text_id}}"),
    ):
        blueprint.route(route, methods=methods, authorizer=cognito, name=f"{handler.__name__}_{kind.value}")(handler)


for _kind, _path in _PATHS.items():
    _register(_kind, _path)
