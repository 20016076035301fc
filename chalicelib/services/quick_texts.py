"""Quick notes and quick replies: managed by admins and supervisors, used by everyone.

A quick reply is sent to a contact, so its placeholders are checked against the
contact fields when saved and filled in when used. A quick note is internal
and used as written.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pynamodb.exceptions import DeleteError, UpdateError

from chalicelib import placeholders
from chalicelib.errors import NotFound, ValidationFailed
from chalicelib.ids import new_id
from chalicelib.models import QuickText
from chalicelib.models.writes import condition_failed
from chalicelib.services import contacts
from chalicelib.timestamps import iso_z


class Kind(StrEnum):
    NOTE = "quick_note"
    REPLY = "quick_reply"


def list_texts(kind: Kind) -> list[dict[str, Any]]:
    return [view(text) for text in QuickText.query(kind.value)]


def create(kind: Kind, title: str, text: str) -> dict[str, Any]:
    _check(kind, text)
    now = datetime.now(UTC)
    item = QuickText(kind.value, new_id(kind.value), title=title, text=text, created_at=now, updated_at=now)
    item.save()
    return view(item)


def update(kind: Kind, text_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
    for name, value in changes.items():
        if value is None:
            raise ValidationFailed(f"{name} cannot be null", field=name)
    if "text" in changes:
        _check(kind, changes["text"])
    item = QuickText(kind.value, text_id)
    actions = [getattr(QuickText, name).set(value) for name, value in changes.items()]
    actions.append(QuickText.updated_at.set(datetime.now(UTC)))
    try:
        item.update(actions=actions, condition=QuickText.id.exists())
    except UpdateError as error:
        if condition_failed(error):
            raise _missing(kind, text_id) from None
        raise
    return view(item)


def delete(kind: Kind, text_id: str) -> None:
    try:
        QuickText(kind.value, text_id).delete(condition=QuickText.id.exists())
    except DeleteError as error:
        if condition_failed(error):
            raise _missing(kind, text_id) from None
        raise


def note_text(text_id: str) -> str:
    return _load(Kind.NOTE, text_id, field="quick_note").text


def reply_text(text_id: str, contact_number: str) -> str:
    """The quick reply with its placeholders filled in for the contact."""
    template = _load(Kind.REPLY, text_id, field="quick_reply").text
    return placeholders.render(template, contacts.placeholder_values(contact_number))


def _load(kind: Kind, text_id: str, field: str) -> QuickText:
    try:
        return QuickText.get(kind.value, text_id)
    except QuickText.DoesNotExist:
        raise NotFound(f"no {kind.value.replace('_', ' ')} {text_id}", field=field) from None


def _check(kind: Kind, text: str) -> None:
    if kind is Kind.REPLY:
        placeholders.check(text, contacts.placeholder_names(), field="text")


def _missing(kind: Kind, text_id: str) -> NotFound:
    return NotFound(f"no {kind.value.replace('_', ' ')} {text_id}", field="id")


def view(item: QuickText) -> dict[str, Any]:
    return {
        "id": item.id,
        "title": item.title,
        "text": item.text,
        "created_at": iso_z(item.created_at),
        "updated_at": iso_z(item.updated_at),
    }
