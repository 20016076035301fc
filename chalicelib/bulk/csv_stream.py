"""Stream the rows of an uploaded CSV file, with the byte offsets needed to checkpoint and resume.

An import Lambda reads the S3 object as a stream of chunks and may run out of time part-way through. It then saves
the `end_offset` and `next_line` of the last row it handled and re-enqueues itself; the next run makes a ranged GET
from that offset and calls `read_rows`. That only gives the same rows as one uninterrupted run if nothing here
depends on bytes before a row boundary, hence the design:

- Lines are split on the raw bytes here, not by a text decoder or `io.TextIOWrapper`, because those hide how many
  bytes each line took; counting them is the only way to know where a row ends in the object.
- Each line is decoded on its own (UTF-8, and Windows-1252 for any byte sequence that is not UTF-8), so there is
  no decoder state and no whole-file encoding guess to carry across a checkpoint.
- The standard `csv` module does all the parsing (quoting, doubled quotes, line breaks inside quoted fields). It is
  fed one line at a time and pulls a line only when it needs one, so when it returns a row the lines handed to it so
  far end exactly where the row ends.

Memory stays flat whatever the file size: one chunk, one line and one row are held at a time, plus the first
SNIFF_BYTES until they are parsed (a line may not exceed `MAX_LINE_BYTES`; a quoted field may not exceed
`csv.field_size_limit()` characters).
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import chain, islice

DELIMITERS = (",", ";", "\t")
SNIFF_BYTES = 64 * 1024
MAX_LINE_BYTES = 1024 * 1024

_SNIFF_ROWS = 20
_LINE_END = re.compile(rb"\r\n|\r|\n")
_TEXT = re.compile(r"[^\s,;]")
_SEP_HINT = re.compile(r"sep=(.)[\r\n]*", re.IGNORECASE)
# Fed to csv.reader after the last line. At the start of a record it parses as a record of its own (the normal end);
# inside a quoted field that was never closed it is appended to that field, which is how an unbalanced quote is
# noticed instead of silently swallowing the rest of the file. A lone surrogate can never come out of decoding.
_END = "\udfff"
_FALLBACK = "bulk-csv-cp1252"
_BINARY_SIGNATURES = (
    (codecs.BOM_UTF16_LE, "the file is UTF-16 text, which is not supported: save it as CSV UTF-8"),
    (codecs.BOM_UTF16_BE, "the file is UTF-16 text, which is not supported: save it as CSV UTF-8"),
    (
        b"PK\x03\x04",
        "this looks like an Excel workbook (.xlsx) or another zip archive, not a CSV file: "
        "open it in Excel and save it as CSV UTF-8",
    ),
    (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        "this looks like an old Excel workbook (.xls), not a CSV file: open it in Excel and save it as CSV UTF-8",
    ),
)

# Windows-1252 as browsers decode it (WHATWG): its five unassigned bytes map to the Latin-1 code points, so every
# byte decodes to something and Latin-1 files come out right too.
_CP1252 = tuple(bytes([byte]).decode("cp1252", "ignore") or chr(byte) for byte in range(256))


def _cp1252_fallback(error: UnicodeDecodeError) -> tuple[str, int]:
    """Decode the bytes UTF-8 rejected as Windows-1252 and carry on decoding UTF-8 after them.

    Falling back per invalid sequence rather than per line or per file means a line that mixes both encodings (rows
    pasted together from two exports) decodes right, and valid UTF-8 is never touched. Windows-1252 text is almost
    never valid UTF-8 by accident: an accented letter is followed by an ASCII letter, not a continuation byte.
    """
    return "".join(_CP1252[byte] for byte in error.object[error.start : error.end]), error.end


codecs.register_error(_FALLBACK, _cp1252_fallback)


class UnreadableFile(ValueError):
    """The bytes are not a CSV file we can read; the message says what is wrong and how to fix the file.

    `open_csv` raises it for problems at the start of the file; iterating rows raises it for a line that can never
    end (a quoted field that is never closed, or a line longer than MAX_LINE_BYTES).
    """


@dataclass(frozen=True)
class Dialect:
    """How the file separates cells. A checkpoint must save it: a resumed run starts mid-file and cannot sniff."""

    delimiter: str

    def __post_init__(self) -> None:
        if self.delimiter not in DELIMITERS:
            raise ValueError(f"unsupported delimiter {self.delimiter!r}; expected one of {DELIMITERS!r}")

    def as_dict(self) -> dict[str, str]:
        return {"delimiter": self.delimiter}

    @classmethod
    def from_dict(cls, data: Mapping[str, str]) -> Dialect:
        return cls(delimiter=data["delimiter"])


@dataclass(frozen=True)
class Row:
    """One non-blank record of the file.

    `line` is the 1-based physical line where the row starts (the header is line 1 unless blank lines or Excel's
    "sep=" line precede it); a quoted field with line breaks makes a row span several lines. `cells` are exactly as
    parsed, trailing empty cells included and as many as the row has (not padded or cut to the header's width), so
    a rejected row can be written back as it was. `end_offset` and `next_line` are where the next row starts in
    bytes and in lines: a checkpoint saves both and passes them to `read_rows`.
    """

    line: int
    cells: list[str]
    end_offset: int
    next_line: int


@dataclass(frozen=True)
class Opened:
    """A file whose header has been read; `rows` lazily yields the data rows after it.

    `header_end` and `header_next_line` are the resume position before the first data row (a checkpoint taken
    before any row was handled).
    """

    dialect: Dialect
    header: list[str]
    header_end: int
    header_next_line: int
    rows: Iterator[Row]


def open_csv(chunks: Iterable[bytes]) -> Opened:
    """Read the header (sniffing the delimiter from the first SNIFF_BYTES) and return a lazy iterator over the rows.

    Only the first SNIFF_BYTES are held at once, to sniff; the chunks read for it are then parsed like the rest.
    Raises UnreadableFile for a file that is empty, UTF-16, binary or a spreadsheet workbook.
    """
    stream = iter(chunks)
    head: list[bytes] = []
    sample = bytearray()
    for chunk in stream:
        head.append(chunk)
        sample += chunk[: SNIFF_BYTES - len(sample)]
        if len(sample) == SNIFF_BYTES:
            break
    _refuse_binary(bytes(sample))
    dialect, hinted = _sniff(bytes(sample), complete=len(sample) < SNIFF_BYTES)
    cursor = _Cursor(0, 1)
    lines = _lines(chain(head, stream), cursor)
    if hinted:
        next(lines)
    rows = _rows(lines, cursor, dialect)
    header = next(rows, None)
    if header is None:
        raise UnreadableFile("the file is empty: it has no header row and no data")
    return Opened(dialect, header.cells, header.end_offset, header.next_line, rows)


def read_rows(chunks: Iterable[bytes], dialect: Dialect, start_offset: int, start_line: int) -> Iterator[Row]:
    """Rows of an object whose bytes `chunks` yields from `start_offset`, used to resume after a checkpoint.

    `start_offset` and `start_line` must be a position this module handed out (`Row.end_offset`/`Row.next_line`,
    or `Opened.header_end`/`Opened.header_next_line`); offsets and line numbers continue from there.
    """
    cursor = _Cursor(start_offset, start_line)
    return _rows(_lines(chunks, cursor), cursor, dialect)


class _Cursor:
    """Where the lines handed out so far end: the byte offset in the object and the number of the next line."""

    def __init__(self, offset: int, line: int) -> None:
        self.offset = offset
        self.line = line

    def advance(self, raw: bytes | bytearray) -> str:
        """Decode one raw line (terminator included) and move past it; a UTF-8 BOM is dropped at offset 0 only."""
        body = raw[len(codecs.BOM_UTF8) :] if self.offset == 0 and raw.startswith(codecs.BOM_UTF8) else raw
        self.offset += len(raw)
        self.line += 1
        return body.decode("utf-8", _FALLBACK)


def _lines(chunks: Iterable[bytes], cursor: _Cursor) -> Iterator[str]:
    """Decoded physical lines with their terminators (csv keeps line breaks inside quoted fields from them).

    A line ends at LF, CRLF or a lone CR (old Mac exports). A CR that ends a chunk is held until the next chunk shows
    whether an LF follows, so a CRLF split across chunks stays one terminator. A UTF-8 character split across chunks
    is decoded whole because decoding waits for the end of the line (CR and LF never occur inside one).
    """
    pending = bytearray()
    for chunk in chunks:
        scan = max(len(pending) - 1, 0)
        pending += chunk
        start = 0
        while (match := _LINE_END.search(pending, scan)) is not None:
            if match.group() == b"\r" and match.end() == len(pending):
                break
            yield cursor.advance(pending[start : match.end()])
            start = scan = match.end()
        del pending[:start]
        if len(pending) > MAX_LINE_BYTES:
            raise UnreadableFile(
                f"line {cursor.line} is longer than {MAX_LINE_BYTES // 1024 // 1024} MiB without a line break: "
                "this is not a CSV file we can read"
            )
    if pending:
        yield cursor.advance(pending)


def _rows(lines: Iterator[str], cursor: _Cursor, dialect: Dialect) -> Iterator[Row]:
    """Parse `lines` with csv.reader, skipping records with no text (blank lines, lines of only delimiters).

    A record of `_END` alone is the normal end of the input; `_END` at the end of a field means the input ended
    inside a quoted field.
    """
    reader = csv.reader(chain(lines, [_END]), delimiter=dialect.delimiter)
    while True:
        line = cursor.line
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:  # strict=False leaves one error: a field over csv.field_size_limit()
            raise UnreadableFile(_unclosed_quote(line)) from error
        if cells == [_END]:
            return
        if cells and cells[-1].endswith(_END):
            raise UnreadableFile(_unclosed_quote(line))
        if _has_text(cells):
            yield Row(line, cells, cursor.offset, cursor.line)


def _unclosed_quote(line: int) -> str:
    return (
        f"line {line}: a quoted field is never closed (or is longer than {csv.field_size_limit()} characters), "
        'so the rest of the file would be read as one value: look for a stray " in that row'
    )


def _refuse_binary(sample: bytes) -> None:
    for signature, problem in _BINARY_SIGNATURES:
        if sample.startswith(signature):
            raise UnreadableFile(problem)
    if b"\x00" in sample:
        raise UnreadableFile(
            "the file contains binary data (NUL bytes), so it is not a text CSV file: "
            "if it is a spreadsheet or UTF-16 text, save it as CSV UTF-8"
        )


def _sniff(sample: bytes, complete: bool) -> tuple[Dialect, bool]:
    """The delimiter, and whether the first line is Excel's "sep=;" hint (which then names it and is skipped).

    Each candidate parses the sample with csv (so quoted delimiters do not count); the one that splits the header
    into more than one cell and keeps the most data rows at the header's width wins, then the widest header, then
    the order of DELIMITERS (so a one-column file is read with ","). csv.Sniffer is not used: it guesses from
    character frequencies and picks odd delimiters (letters, spaces) on small or irregular files.
    """
    if not complete:
        cut = max(sample.rfind(b"\n"), sample.rfind(b"\r"))
        sample = sample[: cut + 1] if cut >= 0 else sample
    lines = list(_lines([sample], _Cursor(0, 1)))
    hint = _SEP_HINT.fullmatch(lines[0]) if lines else None
    if hint and hint.group(1) in DELIMITERS:
        return Dialect(hint.group(1)), True
    return Dialect(max(DELIMITERS, key=lambda delimiter: _shape(lines, delimiter))), False


def _shape(lines: list[str], delimiter: str) -> tuple[bool, int, int]:
    records = list(islice(filter(_has_text, csv.reader(lines, delimiter=delimiter)), 1 + _SNIFF_ROWS))
    if not records:
        return False, 0, 0
    width = len(records[0])
    return width > 1, sum(len(cells) == width for cells in records[1:]), width


def _has_text(cells: list[str]) -> bool:
    """Whether a record holds anything but whitespace and delimiters, whichever delimiter it was split on."""
    return any(_TEXT.search(cell) for cell in cells)
