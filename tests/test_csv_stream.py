"""Streaming CSV reader: decoding, line splitting, sniffing, offsets, resuming and flat memory.

Files under tests/data/csv are real-world cases (see its README); the rest are built here byte by byte.
"""

from __future__ import annotations

import json
import re
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from chalicelib.bulk.csv_stream import MAX_LINE_BYTES, Dialect, Opened, Row, UnreadableFile, open_csv, read_rows

CORPUS = Path(__file__).parent / "data" / "csv"
REFUSED = ("utf16.csv", "empty.csv", "workbook.xlsx", "unclosed_quote.csv")
READABLE = sorted(
    path.name for path in CORPUS.iterdir() if path.suffix in (".csv", ".tsv") and path.name not in REFUSED
)
# A file with every hazard for offsets: a BOM, CRLF, quoted LF and CRLF, Windows-1252 and UTF-8 bytes (on one line
# too), blank and delimiter-only lines, doubled quotes, and a last line without a line break.
MIXED = (
    b"\xef\xbb\xbfphone,first_name,notes\r\n"
    b'+15125550001,Jos\xe9,"a\r\nb"\r\n'
    b"\r\n"
    b'+15125550002,M\xc3\xbcller,"x\ny\nz"\r\n'
    b'+15125550003,Fran\xe7ois,"\x80 ""q"""\r\n'
    b",,\r\n"
    b"+15125550004,Jos\xe9 Jos\xc3\xa9,end"
)


def chunked(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def read_all(data: bytes, size: int = 7) -> tuple[Opened, list[Row]]:
    opened = open_csv(chunked(data, size))
    return opened, list(opened.rows)


def corpus(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


# file -> (delimiter, header, data rows, {(row, column): cell})
RAGGED = {"messy_rows.csv"}
"""Files with a row wider than the header on purpose (the import rejects it)."""
EXPECTED: dict[str, tuple[str, list[str], int, dict[tuple[int, int], str]]] = {
    "utf8_bom.csv": (",", ["phone", "first_name", "last_name", "city"], 3, {(0, 1): "José", (2, 3): "北京"}),
    "utf8_no_bom.csv": (
        ",",
        ["number", "first_name", "last_name", "extra1"],
        2,
        {(0, 3): "café ☕ 😀", (1, 3): "naïve, façade"},
    ),
    "cp1252.csv": (
        ",",
        ["First Name", "Last Name", "Phone", "Extra1"],
        3,
        {(0, 0): "José", (0, 1): "Müller", (0, 3): "€5 off", (1, 3): "“smart” quotes", (2, 1): "Straße"},
    ),
    "crlf.csv": (",", ["phone", "first_name", "last_name", "email"], 3, {(2, 3): "grace@example.com"}),
    "semicolon.csv": (
        ";",
        ["Phone", "First Name", "Last Name", "City", "Balance"],
        3,
        {(0, 1): "Jürgen", (0, 4): "12,50", (1, 4): "1.234,00", (2, 1): "Eva; Maria"},
    ),
    "tab.tsv": (
        "\t",
        ["Mobile", "First Name", "Last Name", "Company"],
        2,
        {(0, 2): "Smith, Jr.", (0, 3): "Acme, Inc.", (1, 2): 'O"Neil'},
    ),
    "quoted_multiline.csv": (
        ",",
        ["phone", "first_name", "notes"],
        5,
        {
            (0, 2): "line one\nline two",
            (1, 2): 'has "quotes", and, commas',
            (2, 2): "crlf inside\r\nsecond\r\nthird",
            (4, 0): "+15125550155",
            (4, 1): 'Ed "Eddie"',
            (4, 2): "",
        },
    ),
    "blank_lines.csv": (",", ["phone", "first_name"], 3, {(0, 1): "Ann", (1, 1): "Bob", (2, 1): "Cy"}),
    "trailing_empty_columns.csv": (
        ",",
        ["phone", "first_name", "last_name", "", "", ""],
        2,
        {(0, 0): "+15125550171", (0, 5): "", (1, 2): "Ray"},
    ),
    "duplicate_headers.csv": (
        ",",
        ["Phone", "First Name", "Mobile", "first_name", "Email", "email"],
        2,
        {(0, 2): "+15125550999", (1, 5): ""},
    ),
    "blank_header.csv": (",", ["phone", "", "first_name", " "], 2, {(0, 1): "note a", (1, 3): ""}),
    "header_variants.csv": (
        ",",
        ["First Name", "LastName", "E-mail", "Mobile", "Zip Code"],
        2,
        {(0, 3): "(512) 555-0201", (1, 4): "78702-1234"},
    ),
    "no_number_column.csv": (",", ["first_name", "last_name", "email"], 1, {(0, 2): "ann@example.com"}),
    "optouts_phone.csv": (",", ["phone"], 4, {(1, 0): "(512) 555-0302", (3, 0): "15125550304"}),
    "no_trailing_newline.csv": (",", ["phone", "first_name"], 2, {(1, 1): "Bob"}),
    "header_only.csv": (",", ["phone", "first_name", "last_name"], 0, {}),
    "excel_sep_hint.csv": (";", ["phone", "first_name"], 1, {(0, 1): "Ann"}),
    "mac_cr.csv": (",", ["phone", "first_name"], 2, {(0, 1): "Ann", (1, 1): "Bob"}),
    "contacts_full.csv": (",", [], 2, {(0, 15): "1", (0, 16): "VIP", (1, 16): "Leads", (1, 18): ""}),
    "messy_rows.csv": (
        ",",
        ["number", "first_name", "last_name", "email", "Activated", "Group"],
        9,
        {(1, 0): "512.555.0101", (6, 6): "extra cell", (7, 5): "VIP;Spring"},
    ),
}


def test_every_readable_corpus_file_has_expectations() -> None:
    assert sorted(EXPECTED) == READABLE


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_file(name: str) -> None:
    delimiter, header, count, cells = EXPECTED[name]
    opened, rows = read_all(corpus(name))
    assert opened.dialect == Dialect(delimiter)
    if header:
        assert opened.header == header
    assert len(rows) == count
    for (row, column), value in cells.items():
        assert rows[row].cells[column] == value
    widths = {len(row.cells) for row in rows}
    assert widths <= ({len(opened.header), len(opened.header) + 1} if name in RAGGED else {len(opened.header)})


def test_readme_lists_every_file_with_its_row_count() -> None:
    listed = dict(re.findall(r"^\| `([^`]+)` \| [^|]+ \| ([^|]+) \|", (CORPUS / "README.md").read_text(), re.M))
    assert sorted(listed) == sorted(path.name for path in CORPUS.iterdir() if path.suffix in (".csv", ".tsv", ".xlsx"))
    for name in READABLE:
        assert listed[name].strip() == str(EXPECTED[name][2])


@pytest.mark.parametrize("name", READABLE)
def test_chunk_sizes_do_not_change_the_result(name: str) -> None:
    def result(size: int) -> tuple[object, ...]:
        opened, rows = read_all(corpus(name), size)
        return opened.dialect, opened.header, opened.header_end, opened.header_next_line, rows

    whole = result(1 << 20)
    for size in (1, 2, 3, 5, 64):
        assert result(size) == whole, size


def test_line_numbers_count_physical_lines() -> None:
    opened, rows = read_all(corpus("quoted_multiline.csv"))
    assert opened.header_next_line == 2
    assert [row.line for row in rows] == [2, 4, 5, 8, 9]
    assert [row.next_line for row in rows] == [4, 5, 8, 9, 10]

    opened, rows = read_all(corpus("blank_lines.csv"))
    assert opened.header_next_line == 3
    assert [row.line for row in rows] == [3, 7, 10]

    opened, rows = read_all(corpus("excel_sep_hint.csv"))
    assert opened.header_next_line == 3
    assert [row.line for row in rows] == [3]


def test_offsets_are_row_boundaries_in_the_raw_bytes() -> None:
    data = corpus("quoted_multiline.csv")
    opened, rows = read_all(data)
    assert data[: opened.header_end] == b"phone,first_name,notes\r\n"
    assert data[rows[1].end_offset : rows[2].end_offset] == b'+15125550153,Cy,"crlf inside\r\nsecond\r\nthird"\r\n'
    assert rows[-1].end_offset == len(data)


def test_mixed_file_decodes_each_invalid_sequence_as_windows_1252() -> None:
    opened, rows = read_all(MIXED)
    assert opened.header == ["phone", "first_name", "notes"]
    assert [row.cells for row in rows] == [
        ["+15125550001", "José", "a\r\nb"],
        ["+15125550002", "Müller", "x\ny\nz"],
        ["+15125550003", "François", '€ "q"'],
        ["+15125550004", "José José", "end"],
    ]
    assert [row.line for row in rows] == [2, 5, 8, 10]
    assert rows[-1].end_offset == len(MIXED)


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b"Jos\xe9", "José"),
        (b"Jos\xc3\xa9", "José"),
        (b"\xe2\x82\xac and \x80", "€ and €"),
        (b"\xe2\x82x", "\xe2\u201ax"),  # a UTF-8 sequence cut short: its bytes are Windows-1252
        (b"a\x81b\x9d", "a\x81b\x9d"),  # bytes Windows-1252 leaves unassigned keep their Latin-1 meaning
        (b"\xf0\x9f\x98\x80", "😀"),
    ],
)
def test_decoding(raw: bytes, text: str) -> None:
    _, rows = read_all(b"phone,note\n+15125550001," + raw + b"\n", 1)
    assert rows[0].cells[1] == text


@pytest.mark.parametrize(
    ("data", "delimiter"),
    [
        (b"phone\n+15125550001\n", ","),
        (b"phone,name\n+15125550001,Lee; Ann\n", ","),
        (b"phone;amount\n+4930123456;12,50\n+4930123457;1,00\n", ";"),
        (b'"Last, First";phone\n"Lee, Ann";+15125550001\n', ";"),
        (b"phone\tname\n+15125550001\tLee, Ann\n", "\t"),
        (b"a;b;c\n", ";"),
        (b"name,phone;fax\nLee,+1;+2\nRay,+3;+4\n", ","),
        (b"sep=\t\na,b\tc\n", "\t"),
        (b"\n\n  \nphone;name\n", ";"),
    ],
)
def test_delimiter_sniffing(data: bytes, delimiter: str) -> None:
    assert open_csv([data]).dialect.delimiter == delimiter


def test_sniffing_looks_at_the_start_only_and_reads_the_rest_with_its_choice() -> None:
    head = b"phone;name\n" + b"+15125550001;Lee\n" * 5000
    opened = open_csv(chunked(head + b"+15125550002;Ray, Ann\n", 1000))
    assert opened.dialect.delimiter == ";"
    assert list(opened.rows)[-1].cells == ["+15125550002", "Ray, Ann"]


def test_dialect_round_trips_through_json() -> None:
    for delimiter in (",", ";", "\t"):
        dialect = Dialect(delimiter)
        assert Dialect.from_dict(json.loads(json.dumps(dialect.as_dict()))) == dialect
    with pytest.raises(ValueError, match="unsupported delimiter"):
        Dialect.from_dict({"delimiter": "|"})


@pytest.mark.parametrize("name", [*READABLE, "MIXED"])
def test_resuming_at_every_row_boundary_gives_the_uninterrupted_result(name: str) -> None:
    data = MIXED if name == "MIXED" else corpus(name)
    opened, rows = read_all(data)
    positions = [(opened.header_end, opened.header_next_line)] + [(row.end_offset, row.next_line) for row in rows]
    for k, (offset, line) in enumerate(positions):
        for size in (1, 3, 4, 11):
            resumed = list(read_rows(chunked(data[offset:], size), opened.dialect, offset, line))
            assert rows[:k] + resumed == rows, (k, size)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (corpus("utf16.csv"), "UTF-16"),
        (b"\xfe\xff\x00p\x00h", "UTF-16"),
        (corpus("workbook.xlsx"), r"Excel workbook \(\.xlsx\)"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), r"old Excel workbook \(\.xls\)"),
        (b"phone,name\n\x1f\x8b\x08\x00junk", "binary data"),
        (corpus("empty.csv"), "empty"),
        (b"\xef\xbb\xbf", "empty"),
        (b"\r\n\n  \n,,,\r\n", "empty"),
        (b"sep=;\r\n", "empty"),
        (b"phone,name\n" + b"x" * (MAX_LINE_BYTES + 1), "longer than 1 MiB"),
    ],
)
def test_unreadable_files_are_refused_with_the_fix(data: bytes, message: str) -> None:
    with pytest.raises(UnreadableFile, match=message):
        list(open_csv(chunked(data, 65536)).rows)


def test_a_quote_never_closed_stops_the_rows_at_its_line() -> None:
    opened = open_csv([corpus("unclosed_quote.csv")])
    assert next(opened.rows).cells == ["+15125550901", "Ann"]
    with pytest.raises(UnreadableFile, match=r'^line 3: a quoted field is never closed.*stray "'):
        next(opened.rows)


def test_a_quote_never_closed_in_a_large_file_is_caught_by_the_field_limit() -> None:
    data = b'phone,name\n+15125550001,"Ann\n' + b"+15125550002,Bob\n" * 10000
    with pytest.raises(UnreadableFile, match=r"^line 2: a quoted field is never closed"):
        list(open_csv(chunked(data, 1024)).rows)


def test_a_line_too_long_after_the_header_is_refused_while_reading_rows() -> None:
    opened = open_csv(chunked(b"phone,name\n+15125550001,Ann\n" + b"x" * (MAX_LINE_BYTES + 1), 65536))
    assert next(opened.rows).line == 2
    with pytest.raises(UnreadableFile, match=r"^line 3 is longer than 1 MiB"):
        next(opened.rows)


def test_memory_stays_flat_whatever_the_file_size() -> None:
    count = 200_000

    def upload() -> Iterator[bytes]:
        yield b"phone,first_name,last_name,notes\r\n"
        batch = bytearray()
        for index in range(count):
            batch += b'+1512555%04d,Ann,Lee,"a, b\r\nc"\r\n' % (index % 10000)
            if len(batch) >= 1000:
                yield bytes(batch)
                batch.clear()
        yield bytes(batch)

    tracemalloc.start()
    try:
        opened = open_csv(upload())
        rows = next_line = 0
        for row in opened.rows:
            rows += 1
            next_line = row.next_line
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert rows == count
    assert next_line == 2 + 2 * count
    assert peak < 5 * 1024 * 1024
