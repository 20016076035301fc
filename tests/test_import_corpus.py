"""Every awkward file in tests/data/csv through the real import pipeline, with the counts each must give."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from chalicelib.models import Contact, OptOut
from chalicelib.services import custom_fields
from tests.test_imports import counts, drop

CORPUS = Path(__file__).parent / "data" / "csv"

# file: (status, rows, created, rejected, duplicates, column issues as (header, problem))
EXPECTED = {
    "utf8_bom.csv": ("done", 3, 3, 0, 0, []),
    "utf8_no_bom.csv": ("done", 2, 2, 0, 0, []),
    "cp1252.csv": ("done", 3, 3, 0, 0, []),
    "crlf.csv": ("done", 3, 3, 0, 0, []),
    "semicolon.csv": ("done", 3, 3, 0, 0, [("Balance", "unknown")]),
    "tab.tsv": ("done", 2, 2, 0, 0, [("Company", "unknown")]),
    "quoted_multiline.csv": ("done", 5, 5, 0, 0, [("notes", "unknown")]),
    "blank_lines.csv": ("done", 3, 3, 0, 0, []),
    "trailing_empty_columns.csv": ("done", 2, 2, 0, 0, [("", "blank")] * 3),
    "duplicate_headers.csv": (
        "done",
        2,
        2,
        0,
        0,
        [("Mobile", "duplicate"), ("first_name", "duplicate"), ("email", "duplicate")],
    ),
    "blank_header.csv": ("done", 2, 2, 0, 0, [("", "blank"), (" ", "blank")]),
    "header_variants.csv": ("done", 2, 2, 0, 0, []),
    "no_number_column.csv": ("failed", 0, 0, 0, 0, []),
    "no_trailing_newline.csv": ("done", 2, 2, 0, 0, []),
    "header_only.csv": ("done", 0, 0, 0, 0, []),
    "excel_sep_hint.csv": ("done", 1, 1, 0, 0, []),
    "mac_cr.csv": ("done", 2, 2, 0, 0, []),
    "contacts_full.csv": ("done", 2, 2, 0, 0, [("Fax", "unknown")]),
    "unclosed_quote.csv": ("failed", 1, 1, 0, 0, []),
    "messy_rows.csv": ("done", 9, 2, 5, 2, []),
    "utf16.csv": ("failed", 0, 0, 0, 0, []),
    "empty.csv": ("failed", 0, 0, 0, 0, []),
    "workbook.xlsx": ("failed", 0, 0, 0, 0, []),
    "optouts_phone.csv": ("done", 4, 4, 0, 0, []),
}


def test_every_corpus_file_has_an_expectation():
    files = {p.name for p in CORPUS.iterdir() if p.suffix in (".csv", ".tsv", ".xlsx")}
    assert files == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_file(client, bucket, name):
    custom_fields.create_field("loyalty_tier", "Loyalty Tier")
    kind = "optouts" if name.startswith("optouts") else "contacts"
    key_name = name if name.endswith(".csv") else f"{name}.csv"
    job = drop(client, bucket, f"imports/{kind}/{key_name}", (CORPUS / name).read_bytes())

    status, rows, created, rejected, duplicates, issues = EXPECTED[name]
    assert (job["status"], job["rows"], job["created"], job["rejected"], job["duplicates"]) == (
        status,
        rows,
        created,
        rejected,
        duplicates,
    ), counts(job)
    assert [(i["header"], i["problem"]) for i in job["column_issues"]] == issues
    if status == "failed":
        assert job["error"], "a failed file says why"
    if kind == "contacts":
        assert len(list(Contact.scan())) == created
    else:
        assert len(list(OptOut.scan())) == created


def test_messy_rows_are_merged_and_rejected_with_reasons(client, bucket):
    job = drop(client, bucket, "imports/contacts/messy_rows.csv", (CORPUS / "messy_rows.csv").read_bytes())
    maria = Contact.get("+15125550101")
    assert (maria.first_name, maria.last_name, maria.email) == ("Mary", "Garcia-Lopez", "maria@example.com")
    assert maria.groups == {"VIP", "Spring"}
    assert Contact.get("+15125550106").groups == {"VIP", "Spring"}
    header, *rejected = csv.reader(io.StringIO(bucket.read(job["rejected_file"]).decode()))
    assert header == ["number", "first_name", "last_name", "email", "Activated", "Group", "reason"]
    assert [(row[0], row[-1].split(" ")[:2]) for row in rejected] == [
        ("+1 512 555 0102", ["bad", "email"]),
        ("555-0103", ["invalid", "number"]),
        ("", ["missing", "number"]),
        ("5125550104", ["bad", "status"]),
        ("5125550105", ["more", "cells"]),
    ]
    assert rejected[-1][:7] == ["5125550105", "Liam", "O'Brien", "", "no", "", "extra cell"], "the row as it was"
