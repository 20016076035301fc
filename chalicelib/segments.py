"""The query language of dynamic groups: a small grammar, parsed once, evaluated in Python.

    query      := or
    or         := and ("OR" and)*
    and        := term ("AND" term)*
    term       := "(" or ")" | comparison
    comparison := field op value
    op         := "=" | "!=" | "~" (starts with) | "<" | ">"
    value      := "quoted string" | bare-word | YYYY-MM-DD | true | false

Fields are the contact's `number`, its profile fields (`city`, `first_name`,
...), its state (`status`, `opt_status`, `blocked`, `created_at`,
`last_message_at`, `first_contact_at`) and its custom fields, written
`custom.<name>` or by bare name when no built-in field has that name.
Keywords (AND, OR, true, false) are case-insensitive.

Text compares case-insensitively (`city = austin` matches "Austin"); `<` and
`>` compare numbers when both sides are numbers. Date fields compare by UTC
calendar day: `last_message_at > 2026-01-01` means on 2 January or later. A
contact without a value for a field matches only `!=`.

The language is evaluated over contacts read by index Queries, so it needs no
index of its own and any field can be used; a syntax error names the 1-based
column where it was found and what was expected there.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NoReturn

from chalicelib.errors import ValidationFailed
from chalicelib.models.contacts import PROFILE_FIELDS

DATE_FIELDS = frozenset({"created_at", "last_message_at", "first_contact_at"})
BOOLEAN_FIELDS = frozenset({"blocked"})
STATE_FIELDS = frozenset({"status", "opt_status", *BOOLEAN_FIELDS, *DATE_FIELDS})
BUILT_IN_FIELDS = frozenset({"number", *PROFILE_FIELDS, *STATE_FIELDS})
CUSTOM_PREFIX = "custom."
OPERATORS = ("!=", "=", "~", "<", ">")
MAX_LENGTH = 2000

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<open>\()
  | (?P<close>\))
  | (?P<op>!=|=|~|<|>)
  | (?P<word>[A-Za-z0-9_.+\-@:/']+)
    """,
    re.VERBOSE,
)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

Values = Mapping[str, Any]
"""A contact as the predicate sees it: field name (custom ones as `custom.<name>`) to value."""


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    column: int
    """1-based position of the token's first character."""


@dataclass(frozen=True)
class Segment:
    """A parsed query: `matches` decides one contact; `fields` lists what it reads."""

    text: str
    test: Callable[[Values], bool]
    fields: frozenset[str]

    def matches(self, values: Values) -> bool:
        return self.test(values)


def parse(text: str, custom_fields: Collection[str] | None = ()) -> Segment:
    """Parse `text` or raise ValidationFailed (field `query`) naming the column and what was expected.

    `custom_fields` are the names a new query may use; None accepts any name,
    for a saved query whose custom field was deleted since (it then has no
    values, like any field a contact lacks).
    """
    if len(text) > MAX_LENGTH:
        raise ValidationFailed(f"query is longer than {MAX_LENGTH} characters", field="query")
    parser = _Parser(_tokens(text), len(text), None if custom_fields is None else frozenset(custom_fields))
    if not parser.tokens:
        _fail(1, 'expected a condition such as city = "Austin"')
    test = parser.parse_or()
    if parser.peek() is not None:
        token = parser.peek()
        assert token is not None
        _fail(token.column, f"expected AND, OR or the end of the query, found '{token.text}'")
    return Segment(text, test, frozenset(parser.fields))


def _tokens(text: str) -> list[Token]:
    tokens, position = [], 0
    while position < len(text):
        found = _TOKEN.match(text, position)
        if found is None:
            if text[position] == '"':
                _fail(position + 1, "expected a closing '\"' for this string")
            _fail(position + 1, f"expected a field, value, operator or parenthesis, found '{text[position]}'")
        assert found is not None and found.lastgroup is not None
        if found.lastgroup != "space":
            tokens.append(Token(found.lastgroup, found.group(), position + 1))
        position = found.end()
    return tokens


def _fail(column: int, expected: str) -> NoReturn:
    raise ValidationFailed(f"position {column}: {expected}", field="query")


class _Parser:
    def __init__(self, tokens: list[Token], length: int, custom_fields: frozenset[str] | None) -> None:
        self.tokens = tokens
        self.position = 0
        self.end_column = length + 1
        self.custom_fields = custom_fields
        self.fields: set[str] = set()

    def peek(self) -> Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> Token | None:
        token = self.peek()
        self.position += token is not None
        return token

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token is not None and token.kind == "word" and token.text.upper() == word:
            self.position += 1
            return True
        return False

    def parse_or(self) -> Callable[[Values], bool]:
        parts = [self.parse_and()]
        while self.keyword("OR"):
            parts.append(self.parse_and())
        if len(parts) == 1:
            return parts[0]
        return lambda values: any(part(values) for part in parts)

    def parse_and(self) -> Callable[[Values], bool]:
        parts = [self.parse_term()]
        while self.keyword("AND"):
            parts.append(self.parse_term())
        if len(parts) == 1:
            return parts[0]
        return lambda values: all(part(values) for part in parts)

    def parse_term(self) -> Callable[[Values], bool]:
        token = self.take()
        if token is None:
            _fail(self.end_column, "expected a condition or '('")
        assert token is not None
        if token.kind == "open":
            inner = self.parse_or()
            closing = self.take()
            if closing is None or closing.kind != "close":
                _fail(closing.column if closing else self.end_column, "expected ')'")
            return inner
        if token.kind != "word" or _is_keyword(token):
            _fail(token.column, f"expected a field name, found '{token.text}'")
        field = self.field_name(token)
        operator = self.take()
        if operator is None or operator.kind != "op":
            column = operator.column if operator else self.end_column
            _fail(column, f"expected an operator (=, !=, ~, <, >) after '{token.text}'")
        assert operator is not None
        value = self.take()
        if value is None or value.kind not in ("word", "string") or _is_keyword(value):
            _fail(value.column if value else self.end_column, f"expected a value after '{operator.text}'")
        assert value is not None
        return _comparison(field, operator.text, _literal(field, value))

    def knows(self, custom_name: str) -> bool:
        return self.custom_fields is None or custom_name in self.custom_fields

    def field_name(self, token: Token) -> str:
        name = token.text
        if name.lower().startswith(CUSTOM_PREFIX):
            bare = name[len(CUSTOM_PREFIX) :]
            if not self.knows(bare):
                _fail(token.column, f"expected a defined custom field, '{bare}' is not one (see /fields)")
            field = CUSTOM_PREFIX + bare
        elif name in BUILT_IN_FIELDS:
            field = name
        elif self.knows(name):
            field = CUSTOM_PREFIX + name
        else:
            _fail(token.column, f"expected a contact field or a defined custom field, found '{name}'")
        self.fields.add(field)
        return field


def _is_keyword(token: Token) -> bool:
    """AND and OR are never bare values (quote them to mean the words), so `city = AND` is a missing value."""
    return token.kind == "word" and token.text.upper() in ("AND", "OR")


def _literal(field: str, token: Token) -> Any:
    text = re.sub(r"\\(.)", r"\1", token.text[1:-1]) if token.kind == "string" else token.text
    if field in DATE_FIELDS:
        if not _DATE.match(text):
            _fail(token.column, f"expected a date as YYYY-MM-DD for {field}, found '{text}'")
        try:
            return date.fromisoformat(text)
        except ValueError:
            _fail(token.column, f"expected a real calendar date, found '{text}'")
    if field in BOOLEAN_FIELDS:
        if text.lower() not in ("true", "false"):
            _fail(token.column, f"expected true or false for {field}, found '{text}'")
        return text.lower() == "true"
    return text


def _comparison(field: str, operator: str, expected: Any) -> Callable[[Values], bool]:
    def test(values: Values) -> bool:
        actual = _comparable(values.get(field))
        if actual is None:
            return operator == "!="
        return _compare(actual, operator, expected)

    return test


def _comparable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _compare(actual: Any, operator: str, expected: Any) -> bool:
    if operator == "~":
        return str(actual).casefold().startswith(str(expected).casefold())
    if isinstance(expected, date | bool):
        left, right = actual, expected
    else:
        left, right = _ordered(str(actual), expected)
    if operator == "=":
        return left == right
    if operator == "!=":
        return left != right
    if operator == "<":
        return left < right
    return left > right


def _ordered(actual: str, expected: str) -> tuple[Any, Any]:
    """Numbers compare as numbers, everything else as case-folded text."""
    try:
        return float(actual), float(expected)
    except ValueError:
        return actual.casefold(), expected.casefold()
