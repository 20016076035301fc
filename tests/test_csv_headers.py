"""Column names of import files: canonical forms, aliases, custom fields, mappings and the issues reported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chalicelib.bulk.csv_stream import open_csv
from chalicelib.bulk.headers import (
    _ALIASES,
    CONTACT_FIELDS,
    IGNORE,
    ColumnIssue,
    ColumnMap,
    MissingColumn,
    canonical_name,
    map_contact_columns,
    map_optout_columns,
)

CORPUS = Path(__file__).parent / "data" / "csv"


def header_of(name: str) -> list[str]:
    return open_csv([(CORPUS / name).read_bytes()]).header


def problems(column_map: ColumnMap) -> list[tuple[int, str]]:
    return [(issue.column, issue.problem) for issue in column_map.issues]


@pytest.mark.parametrize(
    "header",
    ["First Name", "first_name", "FirstName", "FIRST-NAME", " first.name ", "First\u00a0Name", "\ufefffirst_name"],
)
def test_canonical_name_folds_case_spacing_and_punctuation(header: str) -> None:
    assert canonical_name(header) == "firstname"


def test_canonical_name_keeps_letters_and_digits() -> None:
    assert canonical_name("Address 2") == "address2"
    assert canonical_name("State/Province") == "stateprovince"
    assert canonical_name("Prénom") == "prénom"
    assert (
        canonical_name("\uff30\uff48\uff4f\uff4e\uff45") == "phone"
    )  # full-width "Phone", from East Asian input methods
    assert canonical_name("  ") == ""


def test_contact_fields_are_the_model_fields_and_reserved_for_custom_fields() -> None:
    from chalicelib.models.contacts import PROFILE_FIELDS
    from chalicelib.services.custom_fields import RESERVED_NAMES

    assert ("number", *PROFILE_FIELDS, "status", "group") == CONTACT_FIELDS
    assert set(CONTACT_FIELDS) <= RESERVED_NAMES


def test_every_alias_is_distinct_and_not_another_fields_name() -> None:
    own_names = {canonical_name(field) for field in CONTACT_FIELDS}
    aliases = [canonical_name(alias) for spellings in _ALIASES.values() for alias in spellings]
    assert len(aliases) == len(set(aliases))
    assert not own_names & set(aliases)
    assert set(_ALIASES) <= set(CONTACT_FIELDS)


SPELLINGS = {
    "Phone": "number",
    "Phone Number": "number",
    "phone_number": "number",
    "PhoneNumber": "number",
    "Phone #": "number",
    "Mobile": "number",
    "Mobile Phone": "number",
    "Cell": "number",
    "Cell Phone": "number",
    "MSISDN": "number",
    "Tel.": "number",
    "Telephone": "number",
    "Contact Number": "number",
    "Phone 1 - Value": "number",
    "SMS Number": "number",
    "Number": "number",
    "Given Name": "first_name",
    "Forename": "first_name",
    "FName": "first_name",
    "Surname": "last_name",
    "Family Name": "last_name",
    "last": "last_name",
    "E-mail": "email",
    "E-mail Address": "email",
    "E-mail 1 - Value": "email",
    "Email Address": "email",
    "Address Line 1": "address",
    "Street Address": "address",
    "Address 2": "address2",
    "Address Line 2": "address2",
    "Suite": "address2",
    "Town": "city",
    "State": "state",
    "Province": "state",
    "State/Province": "state",
    "Zip Code": "zip",
    "ZIP": "zip",
    "Postal Code": "zip",
    "Postcode": "zip",
    "Country Code": "country",
    "Country/Region": "country",
    "Extra 3": "extra3",
    "EXTRA5": "extra5",
    "Status": "status",
    "Activated": "status",
    "Active": "status",
    "Group": "group",
    "Groups": "group",
    "List": "group",
    "Segment": "group",
}


def test_header_spellings_resolve_to_fields() -> None:
    resolved = {header: map_contact_columns([header, "number"], custom_fields=[]).fields[0] for header in SPELLINGS}
    assert resolved == SPELLINGS


def test_headers_left_to_an_explicit_mapping_are_unknown() -> None:
    header = ["Phone", "Name", "Full Name", "Tags", "WhatsApp", "SMS", "Fax", "Company", "#"]
    column_map = map_contact_columns(header, custom_fields=[])
    assert column_map.fields == ["number"] + [None] * 8
    assert [issue.problem for issue in column_map.issues] == ["unknown"] * 8
    assert column_map.issues[0] == ColumnIssue(
        1,
        "Name",
        "unknown",
        'column 2 "Name" is not a contact field; ignored (map it to a field, or define a custom field)',
    )


def test_custom_fields_match_by_canonical_name() -> None:
    column_map = map_contact_columns(["Phone", "Loyalty Tier", "VIP"], custom_fields={"loyalty_tier", "vip"})
    assert column_map.fields == ["number", "loyalty_tier", "vip"]


def test_a_custom_field_named_like_an_alias_takes_its_column() -> None:
    column_map = map_contact_columns(["Phone", "Mobile"], custom_fields=["mobile"])
    assert column_map.fields == ["number", "mobile"]
    with pytest.raises(MissingColumn):
        map_contact_columns(["Mobile"], custom_fields=["mobile"])


def test_a_built_in_field_wins_over_a_custom_field_with_the_same_canonical_name() -> None:
    assert map_contact_columns(["Phone", "First Name"], ["firstname"]).fields == ["number", "first_name"]
    mapped = map_contact_columns(["Phone", "Given"], ["firstname"], mapping={"Given": "firstname"})
    assert mapped.fields == ["number", "firstname"]


def test_mapping_keys_match_headers_as_written_or_by_canonical_form() -> None:
    header = ["Tel", "Nom", "Prénom", "Notes"]
    mapping = {"Nom": "last_name", "prénom": "First Name", "NOTES": "extra1"}
    assert map_contact_columns(header, [], mapping).fields == ["number", "last_name", "first_name", "extra1"]


def test_mapping_to_ignore_drops_a_column_that_would_match() -> None:
    column_map = map_contact_columns(["Phone", "Email", "Zip"], [], {"Email": IGNORE})
    assert column_map.fields == ["number", None, "zip"]
    assert column_map.issues == [ColumnIssue(1, "Email", "ignored", 'column 2 "Email" is ignored, as the mapping says')]


def test_a_mapped_column_takes_its_field_before_an_earlier_automatic_match() -> None:
    column_map = map_contact_columns(["Phone", "Cell", "Tags"], [], {"Cell": "number", "Tags": "group"})
    assert column_map.fields == [None, "number", "group"]
    assert column_map.issues[0].problem == "duplicate"
    assert column_map.issues[0].detail == (
        'column 1 "Phone" is another "number" column; ignored (column 2 "Cell" is used)'
    )


def test_a_mapping_can_name_the_number_column() -> None:
    assert map_contact_columns(["WhatsApp", "Name"], [], {"WhatsApp": "number"}).fields == ["number", None]


def test_mapping_keys_that_match_no_column_are_ignored() -> None:
    assert map_contact_columns(["Phone"], [], {"Fax": IGNORE, "Company": "extra1"}).fields == ["number"]


def test_a_mapping_to_no_field_is_a_value_error_listing_the_choices() -> None:
    with pytest.raises(ValueError, match=r'sends a column to "fax", which is not a contact field \(number, .*"ignore"'):
        map_contact_columns(["Phone", "Fax"], ["vip"], {"Fax": "fax"})
    with pytest.raises(ValueError, match='the mapping sends a column to "phone"'):
        map_contact_columns(["Phone"], [], {"Phone": "phone"})  # values are field names, not aliases


def test_two_columns_mapped_to_one_field_keep_the_first() -> None:
    column_map = map_contact_columns(["Phone", "A", "B"], [], {"A": "extra1", "B": "extra1"})
    assert column_map.fields == ["number", "extra1", None]
    assert problems(column_map) == [(2, "duplicate")]


def test_missing_number_column_lists_the_headers_and_accepted_names() -> None:
    with pytest.raises(MissingColumn) as raised:
        map_contact_columns(["First Name", "Email"], [])
    message = str(raised.value)
    assert message.startswith('no phone number column: the headers are "First Name", "Email"; name the column "number"')
    assert "msisdn" in message and 'map a column to "number"' in message
    assert "looks like data" not in message


def test_missing_number_column_says_when_the_first_row_is_data() -> None:
    with pytest.raises(MissingColumn, match="the first row looks like data rather than headers: add a header row"):
        map_contact_columns(["Ann", "+1 (512) 555-0100"], [])


def test_a_number_column_mapped_to_ignore_is_missing() -> None:
    with pytest.raises(MissingColumn):
        map_contact_columns(["Phone"], [], {"Phone": IGNORE})


def test_column_map_serialises_and_indexes_fields() -> None:
    column_map = map_contact_columns(["Phone", "", "Email", "Mobile"], [])
    assert column_map.field_index() == {"number": 0, "email": 2}
    assert json.loads(json.dumps([issue.as_dict() for issue in column_map.issues])) == [
        {"column": 1, "header": "", "problem": "blank", "detail": "column 2 has no header; ignored"},
        {
            "column": 3,
            "header": "Mobile",
            "problem": "duplicate",
            "detail": 'column 4 "Mobile" is another "number" column; ignored (column 1 "Phone" is used)',
        },
    ]


@pytest.mark.parametrize(
    ("name", "fields", "issues"),
    [
        ("header_variants.csv", ["first_name", "last_name", "email", "number", "zip"], []),
        (
            "duplicate_headers.csv",
            ["number", "first_name", None, None, "email", None],
            [(2, "duplicate"), (3, "duplicate"), (5, "duplicate")],
        ),
        ("blank_header.csv", ["number", None, "first_name", None], [(1, "blank"), (3, "blank")]),
        (
            "trailing_empty_columns.csv",
            ["number", "first_name", "last_name", None, None, None],
            [(3, "blank"), (4, "blank"), (5, "blank")],
        ),
        ("cp1252.csv", ["first_name", "last_name", "number", "extra1"], []),
        ("semicolon.csv", ["number", "first_name", "last_name", "city", None], [(4, "unknown")]),
        ("tab.tsv", ["number", "first_name", "last_name", None], [(3, "unknown")]),
        ("utf8_bom.csv", ["number", "first_name", "last_name", "city"], []),
        ("contacts_full.csv", [*CONTACT_FIELDS, "loyalty_tier", None], [(18, "unknown")]),
    ],
)
def test_corpus_contact_columns(name: str, fields: list[str | None], issues: list[tuple[int, str]]) -> None:
    column_map = map_contact_columns(header_of(name), custom_fields=["loyalty_tier"])
    assert column_map.fields == fields
    assert problems(column_map) == issues


def test_corpus_file_without_a_number_column() -> None:
    with pytest.raises(MissingColumn, match='"first_name", "last_name", "email"'):
        map_contact_columns(header_of("no_number_column.csv"), custom_fields=[])


def test_corpus_optout_file() -> None:
    column_map = map_optout_columns(header_of("optouts_phone.csv"))
    assert column_map.fields == ["number"]
    assert column_map.issues == []


@pytest.mark.parametrize("header", ["phone", "Number", "MSISDN", "Mobile Number", "Cell"])
def test_optout_number_column_names(header: str) -> None:
    assert map_optout_columns([header]).fields == ["number"]


def test_optout_files_ignore_every_other_column() -> None:
    column_map = map_optout_columns(["Name", "Phone", "", "first_name", "Mobile"])
    assert column_map.fields == [None, "number", None, None, None]
    assert problems(column_map) == [(0, "ignored"), (2, "blank"), (3, "ignored"), (4, "duplicate")]
    assert column_map.issues[0].detail == (
        'column 1 "Name" is ignored: an opt-out file needs only the phone number column'
    )


def test_optout_mapping() -> None:
    assert map_optout_columns(["Handy", "Phone"], {"Handy": "number"}).fields == ["number", None]
    assert map_optout_columns(["Phone", "Handy"], {"phone": IGNORE, "handy": "Number"}).fields == [None, "number"]
    with pytest.raises(ValueError, match='which is not "number" or "ignore"'):
        map_optout_columns(["Phone", "Name"], {"Name": "first_name"})
    with pytest.raises(MissingColumn, match='"Name"'):
        map_optout_columns(["Name"])
