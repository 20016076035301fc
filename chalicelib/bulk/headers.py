"""Name the columns of an import file: which contact field (or opt-out number) each column holds.

People export contacts from many tools and edit them in spreadsheets, so the same column arrives as "First Name",
"first_name", "FirstName" or "Given Name". Headers are compared by a canonical form (case, spacing and punctuation
folded) and then through a table of common aliases; an explicit mapping sent with the import overrides both. Every
column that will not be imported is reported with the reason, so the user learns why a value was dropped.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from chalicelib.models.contacts import PROFILE_FIELDS

CONTACT_FIELDS: tuple[str, ...] = ("number", *PROFILE_FIELDS, "status", "group")
IGNORE = "ignore"

# Header spellings (as people write them) that mean a field, besides the field's own name. Spellings that differ only
# in case, spacing or punctuation need no entry ("E-mail" is "email", "Cellphone" is "cell phone"). Choices:
# - "state" is the postal state/province; the contact's status comes from "Status", "Activated" or "Active".
# - "list", "segment" and "groups" mean the group column; "tags" does not: tags are often several free-form labels,
#   so a tags column is only imported as groups through an explicit mapping.
# - "name" and "full name" are not first_name: splitting a full name is a guess; map such a column explicitly.
# - "whatsapp" is not a number alias (a WhatsApp number need not take SMS), nor is a bare "sms" (as often a yes/no
#   consent column as a number): map such a column explicitly.
# - "phone 1 value" and "email 1 value" are how Google Contacts exports name them ("Phone 1 - Value").
_ALIASES: Mapping[str, tuple[str, ...]] = {
    "number": (
        "phone",
        "phone number",
        "phone no",
        "phone 1",
        "phone 1 value",
        "primary phone",
        "mobile",
        "mobile number",
        "mobile no",
        "mobile phone",
        "cell",
        "cell phone",
        "cell number",
        "msisdn",
        "tel",
        "telephone",
        "telephone number",
        "contact number",
        "sms number",
    ),
    "first_name": ("first", "given name", "forename", "fname"),
    "last_name": ("last", "surname", "family name", "lname"),
    "email": ("email address", "email 1 value", "mail"),
    "address": ("address1", "address line 1", "street", "street address"),
    "address2": ("address line 2", "street 2", "apt", "apartment", "suite", "unit"),
    "city": ("town", "city/town"),
    "state": ("province", "region", "state/province"),
    "zip": ("zip code", "postal code", "postcode", "postal", "zip/postal code"),
    "country": ("country code", "country/region", "nation"),
    "status": ("activated", "active", "contact status"),
    "group": ("groups", "group name", "contact group", "list", "lists", "segment", "segments"),
}
_PHONE_LIKE = re.compile(r"[+(]?\d[\d\s().+-]{6,}")


def canonical_name(header: str) -> str:
    """Fold case, spacing and punctuation: "First Name", "first_name", "FirstName", "FIRST-NAME" -> "firstname".

    Everything that is not a letter or digit is dropped (spaces, "_", "-", ".", "/", "#", a stray BOM or no-break
    space); letters keep their accents ("Prénom" stays distinct from "Prenom"). NFKC first, so full-width and
    compatibility characters fold to their plain forms.
    """
    return "".join(char for char in unicodedata.normalize("NFKC", header).casefold() if char.isalnum())


_ALIAS_FIELDS = {canonical_name(alias): field for field, aliases in _ALIASES.items() for alias in aliases}


@dataclass(frozen=True)
class ColumnIssue:
    """A column that will not be imported, and why.

    `problem` is "blank" (no header), "duplicate" (an earlier column already gives the field), "unknown" (not a
    contact field) or "ignored" (the mapping says so, or an opt-out file's column other than the number). `detail`
    is a sentence for the user and counts columns from 1, as spreadsheets do.
    """

    column: int
    header: str
    problem: str
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ColumnMap:
    """Per column, the field it fills (None when ignored), and the issues to report for the ignored columns."""

    fields: list[str | None]
    issues: list[ColumnIssue]

    def field_index(self) -> dict[str, int]:
        """Target field -> column (each field is given by at most one column; the first one wins)."""
        index: dict[str, int] = {}
        for column, field in enumerate(self.fields):
            if field is not None:
                index.setdefault(field, column)
        return index


class MissingColumn(ValueError):
    """The file has no column for the phone number; the message lists the headers found and the names accepted."""


def map_contact_columns(
    header: Sequence[str], custom_fields: Collection[str], mapping: Mapping[str, str] | None = None
) -> ColumnMap:
    """Resolve each header to a contact field, in this order: the explicit mapping, the canonical form of a field or
    custom field name, an alias. Unknown columns are reported and ignored.

    `mapping` keys are headers as written or in any spelling with the same canonical form; its values are a field,
    a custom field name or "ignore" (a value naming no field raises ValueError, which the API reports as a 400).
    A mapped column takes its field before any automatic match does, whatever their order, because the user chose
    it. Raises MissingColumn when no column gives the number.
    """
    fields, accepted = _contact_targets(custom_fields)
    names = _by_canonical_name(fields)
    explicit = _explicit_targets(header, mapping, fields, accepted)
    column_map = _assign(
        header,
        explicit,
        lambda canonical: names.get(canonical) or _ALIAS_FIELDS.get(canonical),
        unknown=("unknown", "is not a contact field; ignored (map it to a field, or define a custom field)"),
    )
    _require_number(header, column_map)
    return column_map


def check_mapping(mapping: Mapping[str, str], custom_fields: Collection[str], *, optouts: bool) -> None:
    """Raise ValueError for a mapping value that names no field, before any file exists to map."""
    if optouts:
        _explicit_targets([], mapping, _OPTOUT_TARGETS, _OPTOUT_ACCEPTED)
    else:
        _explicit_targets([], mapping, *_contact_targets(custom_fields))


def _contact_targets(custom_fields: Collection[str]) -> tuple[tuple[str, ...], str]:
    """What a contact mapping may send a column to, and how an error names it."""
    fields = (*CONTACT_FIELDS, *sorted(custom_fields))
    return fields, f'a contact field ({", ".join(CONTACT_FIELDS)}), a custom field or "{IGNORE}"'


_OPTOUT_TARGETS = ("number",)
_OPTOUT_ACCEPTED = f'"number" or "{IGNORE}" (an opt-out file has only numbers)'


def map_optout_columns(header: Sequence[str], mapping: Mapping[str, str] | None = None) -> ColumnMap:
    """Find the number column (number, phone or a number alias); every other column is reported as ignored.

    A mapping may only say "number" or "ignore": an opt-out file carries nothing else.
    """
    explicit = _explicit_targets(header, mapping, _OPTOUT_TARGETS, _OPTOUT_ACCEPTED)
    column_map = _assign(
        header,
        explicit,
        lambda canonical: "number" if canonical == "number" or _ALIAS_FIELDS.get(canonical) == "number" else None,
        unknown=("ignored", "is ignored: an opt-out file needs only the phone number column"),
    )
    _require_number(header, column_map)
    return column_map


def _by_canonical_name(fields: Sequence[str]) -> dict[str, str]:
    """Canonical form -> field; on a clash the earlier field wins (built-in fields come before custom ones)."""
    table: dict[str, str] = {}
    for field in fields:
        table.setdefault(canonical_name(field), field)
    return table


def _explicit_targets(
    header: Sequence[str], mapping: Mapping[str, str] | None, fields: Sequence[str], accepted: str
) -> list[str | None]:
    """Per column, the mapping's target (a field or IGNORE), or None when the mapping does not mention the column.

    A key matches a header as written first, then by canonical form. Keys that match no column are not an error:
    a mapping may be written before the file is read, or be reused for files that lack some columns.
    """
    if not mapping:
        return [None] * len(header)
    names = _by_canonical_name(fields)
    targets = {key: _mapping_target(value, fields, names, accepted) for key, value in mapping.items()}
    by_canonical: dict[str, str] = {}
    for key, target in targets.items():
        by_canonical.setdefault(canonical_name(key), target)
    return [targets.get(text, by_canonical.get(canonical_name(text))) if text.strip() else None for text in header]


def _mapping_target(value: str, fields: Sequence[str], names: Mapping[str, str], accepted: str) -> str:
    """A mapping value as a field name: exact, or any spelling with the canonical form of one; or IGNORE."""
    if value == IGNORE or value in fields:
        return value
    field = names.get(canonical_name(value))
    if field is None:
        raise ValueError(f'the mapping sends a column to "{value}", which is not {accepted}')
    return field


def _assign(
    header: Sequence[str],
    explicit: Sequence[str | None],
    automatic: Callable[[str], str | None],
    unknown: tuple[str, str],
) -> ColumnMap:
    """Give each field to one column: mapped columns first, then automatic matches from left to right.

    `automatic` resolves a canonical header to a field or None; `unknown` is the problem and the end of the detail
    sentence for a column it cannot resolve.
    """
    owners: dict[str, int] = {}
    for column, target in enumerate(explicit):
        if target is not None and target != IGNORE:
            owners.setdefault(target, column)
    fields: list[str | None] = [None] * len(header)
    issues: list[ColumnIssue] = []
    for column, text in enumerate(header):
        label = f'column {column + 1} "{text}"'
        if not text.strip():
            issues.append(ColumnIssue(column, text, "blank", f"column {column + 1} has no header; ignored"))
            continue
        if explicit[column] == IGNORE:
            issues.append(ColumnIssue(column, text, "ignored", f"{label} is ignored, as the mapping says"))
            continue
        field = explicit[column] or automatic(canonical_name(text))
        if field is None:
            issues.append(ColumnIssue(column, text, unknown[0], f"{label} {unknown[1]}"))
        elif owners.setdefault(field, column) == column:
            fields[column] = field
        else:
            first = owners[field]
            detail = f'{label} is another "{field}" column; ignored (column {first + 1} "{header[first]}" is used)'
            issues.append(ColumnIssue(column, text, "duplicate", detail))
    return ColumnMap(fields, issues)


def _require_number(header: Sequence[str], column_map: ColumnMap) -> None:
    if "number" in column_map.fields:
        return
    found = ", ".join(f'"{text}"' for text in header)
    also = ", ".join(_ALIASES["number"])
    message = (
        f"no phone number column: the headers are {found}; "
        f'name the column "number" (also accepted: {also}), or map a column to "number"'
    )
    if any(_PHONE_LIKE.fullmatch(text.strip()) for text in header):
        message += "; the first row looks like data rather than headers: add a header row"
    raise MissingColumn(message)
