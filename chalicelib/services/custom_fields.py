"""Admin-defined custom contact fields (at most 20, as in the products we replace)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.condition import size

from chalicelib.errors import Conflict, LimitReached, NotFound, ValidationFailed
from chalicelib.models import AccountSettings
from chalicelib.models.contacts import PROFILE_FIELDS
from chalicelib.models.writes import condition_failed

MAX_CUSTOM_FIELDS = 20
_ITEM_KEY = "custom_fields"
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
RESERVED_NAMES = frozenset(
    (
        *PROFILE_FIELDS,
        "number",
        "phone",
        "status",
        "blocked",
        "channel",
        "groups",
        "group",
        "opt_status",
        "custom",
        "reason",
    )
)


def list_fields() -> dict[str, dict[str, Any]]:
    """Definitions by name; one GetItem."""
    try:
        return dict(AccountSettings.get(_ITEM_KEY).fields.as_dict())
    except AccountSettings.DoesNotExist:
        return {}


def create_field(name: str, label: str | None) -> dict[str, Any]:
    if not _NAME.match(name):
        raise ValidationFailed(
            "name must start with a letter and use only lowercase letters, digits and _ (at most 40)",
            field="name",
        )
    if name in RESERVED_NAMES:
        raise ValidationFailed(f"'{name}' is a built-in contact field", field="name")
    definition = {"name": name, "label": label or name, "created_at": datetime.now(UTC).isoformat()}
    settings = AccountSettings(_ITEM_KEY)
    settings.update(actions=[AccountSettings.fields.set(AccountSettings.fields | {})])
    try:
        settings.update(
            actions=[AccountSettings.fields[name].set(definition)],
            condition=AccountSettings.fields[name].does_not_exist()
            & (size(AccountSettings.fields) < MAX_CUSTOM_FIELDS),
        )
    except UpdateError as error:
        if not condition_failed(error):
            raise
        if name in list_fields():
            raise Conflict(f"custom field '{name}' already exists", field="name") from None
        raise LimitReached(
            f"at most {MAX_CUSTOM_FIELDS} custom fields can be defined; delete one first", field="name"
        ) from None
    return definition


def delete_field(name: str) -> None:
    """Remove a definition; values stored on contacts stop being shown or accepted."""
    try:
        AccountSettings(_ITEM_KEY).update(
            actions=[AccountSettings.fields[name].remove()],
            condition=AccountSettings.fields[name].exists(),
        )
    except UpdateError as error:
        if not condition_failed(error):
            raise
        raise NotFound(f"custom field '{name}' does not exist", field="name") from None
