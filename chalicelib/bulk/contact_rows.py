"""One CSV row of an import: validated into the changes it makes, or rejected with a reason.

Blank cells change nothing (an import fills in, it never erases), so a row is
reduced to the fields it actually sets. The reasons are written into
`rejected.csv` next to the row as it was, so they are short and say how to fix it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from email_validator import EmailNotValidError, validate_email

from chalicelib.bulk.spreadsheet import restore
from chalicelib.models.contacts import PROFILE_FIELDS
from chalicelib.phone import InvalidPhoneNumber, normalize

MAX_TEXT = 256
STATUS_WORDS = {
    "active": "active",
    "activated": "active",
    "yes": "active",
    "y": "active",
    "true": "active",
    "1": "active",
    "inactive": "inactive",
    "deactivated": "inactive",
    "no": "inactive",
    "n": "inactive",
    "false": "inactive",
    "0": "inactive",
}
"""What a spreadsheet's Activated / status column says, and the contact status it means."""
GROUP_SEPARATORS = (";", "|")


class RowRejected(ValueError):
    """The row cannot be imported; `reason` goes to rejected.csv."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class ContactRow:
    number: str
    fields: dict[str, str] = field(default_factory=dict)
    custom: dict[str, str] = field(default_factory=dict)
    status: str | None = None
    groups: set[str] = field(default_factory=set)

    def merge(self, later: ContactRow) -> None:
        """Fold a later row for the same number into this one: its non-blank cells win."""
        self.fields.update(later.fields)
        self.custom.update(later.custom)
        self.status = later.status or self.status
        self.groups |= later.groups


def parse_contact_row(
    cells: Sequence[str], columns: Sequence[str | None], custom_fields: Collection[str], region: str
) -> ContactRow:
    """The changes a row asks for; raises RowRejected with the first problem found."""
    values: dict[str, str] = {}
    for position, cell in enumerate(cells):
        target = columns[position] if position < len(columns) else None
        text = restore(cell.strip())
        if not text:
            continue
        if target is None:
            if position >= len(columns):
                raise RowRejected(f"more cells than headers: cell {position + 1} has no column")
            continue
        values.setdefault(target, text)
    row = ContactRow(parse_number_cell([values.pop("number", "")], 0, region))
    for name, text in values.items():
        _apply(row, name, text, custom_fields)
    return row


def parse_number_cell(cells: Sequence[str], position: int, region: str) -> str:
    """The E.164 number in an opt-out file's row; the other cells do not matter."""
    raw = cells[position].strip() if position < len(cells) else ""
    if not raw:
        raise RowRejected("missing number")
    try:
        return normalize(raw, region)
    except InvalidPhoneNumber as error:
        raise RowRejected(f"invalid number {raw!r}: {error.reason}") from None


def _apply(row: ContactRow, name: str, text: str, custom_fields: Collection[str]) -> None:
    if len(text) > MAX_TEXT:
        raise RowRejected(f"{name} is longer than {MAX_TEXT} characters")
    if name == "email":
        try:
            text = validate_email(text, check_deliverability=False).normalized
        except EmailNotValidError as error:
            raise RowRejected(f"bad email {text!r}: {error}") from None
    if name == "status":
        status = STATUS_WORDS.get(text.casefold())
        if status is None:
            raise RowRejected(f"bad status {text!r}: use active/inactive, yes/no, true/false or 1/0")
        row.status = status
    elif name == "group":
        row.groups |= {part.strip() for part in _split_groups(text) if part.strip()}
    elif name in PROFILE_FIELDS:
        row.fields[name] = text
    elif name in custom_fields:
        row.custom[name] = text


def _split_groups(text: str) -> list[str]:
    for separator in GROUP_SEPARATORS:
        if separator in text:
            return text.split(separator)
    return [text]
