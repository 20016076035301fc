"""The dynamic-group query language, as pure code: parsing, evaluation and error positions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.errors import ValidationFailed
from chalicelib.segments import parse

ANA = {
    "number": "+15125550101",
    "first_name": "Ana",
    "city": "Austin",
    "opt_status": "opted_in",
    "status": "active",
    "blocked": False,
    "created_at": datetime(2025, 6, 1, 12, tzinfo=UTC),
    "last_message_at": datetime(2026, 1, 2, 9, tzinfo=UTC),
    "first_contact_at": None,
    "custom.tier": "gold",
    "custom.visits": "12",
}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('city = "Austin" AND opt_status = opted_in AND last_message_at > 2026-01-01', True),
        ("city = austin", True),
        ("city = 'Austin'", False),
        ('city != "Dallas"', True),
        ("city != Austin", False),
        ("first_name ~ an", True),
        ("first_name ~ Bo", False),
        ("number ~ +1512", True),
        ("last_message_at > 2026-01-02", False),
        ("last_message_at = 2026-01-02", True),
        ("last_message_at < 2026-01-03", True),
        ("created_at < 2025-06-01", False),
        ("blocked = false", True),
        ("blocked = TRUE", False),
        ("tier = gold", True),
        ("custom.tier = GOLD", True),
        ("visits > 9", True),
        ("visits < 9", False),
        ("first_contact_at > 2020-01-01", False),
        ("first_contact_at != 2020-01-01", True),
        ("email = x", False),
        ("email != x", True),
        ("city = Dallas OR city = Austin AND blocked = true", False),
        ("(city = Dallas OR city = Austin) AND blocked = false", True),
        ("city = Dallas or (tier = gold and not_blocked = x)", None),
        ("CITY = Austin", None),
    ],
)
def test_queries_match_as_documented(query: str, expected: bool | None) -> None:
    if expected is None:
        with pytest.raises(ValidationFailed):
            parse(query, ["tier", "visits"])
        return
    assert parse(query, ["tier", "visits"]).matches(ANA) is expected


def test_and_binds_tighter_than_or() -> None:
    assert parse("city = Dallas AND tier = gold OR status = x", ["tier"]).matches(ANA | {"custom.tier": "x"}) is False
    assert parse("status = active OR city = Dallas AND tier = x", ["tier"]).matches(ANA) is True


def test_quoted_strings_keep_spaces_keywords_and_escapes() -> None:
    query = parse(r'city = "New York" OR first_name = "AND" OR last_name = "say \"hi\""')
    assert query.matches({"city": "new york"})
    assert query.matches({"first_name": "and"})
    assert query.matches({"last_name": 'say "hi"'})
    assert query.fields == frozenset({"city", "first_name", "last_name"})


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", 'position 1: expected a condition such as city = "Austin"'),
        ("city =", "position 7: expected a value after '='"),
        ("city = AND", "position 8: expected a value after '='"),
        ("city", "position 5: expected an operator (=, !=, ~, <, >) after 'city'"),
        ("city Austin", "position 6: expected an operator (=, !=, ~, <, >) after 'city'"),
        ('city = "Austin', "position 8: expected a closing '\"' for this string"),
        ("(city = Austin", "position 15: expected ')'"),
        ("city = Austin)", "position 14: expected AND, OR or the end of the query, found ')'"),
        ("city = Austin AND", "position 18: expected a condition or '('"),
        ("AND city = x", "position 1: expected a field name, found 'AND'"),
        ("= x", "position 1: expected a field name, found '='"),
        ("town = x", "position 1: expected a contact field or a defined custom field, found 'town'"),
        ("custom.size = x", "position 1: expected a defined custom field, 'size' is not one (see /fields)"),
        ("created_at > 2026-13-01", "position 14: expected a real calendar date, found '2026-13-01'"),
        ("created_at > yesterday", "position 14: expected a date as YYYY-MM-DD for created_at, found 'yesterday'"),
        ("blocked = maybe", "position 11: expected true or false for blocked, found 'maybe'"),
        ("city = a & b", "position 10: expected a field, value, operator or parenthesis, found '&'"),
    ],
)
def test_errors_name_the_position_and_what_was_expected(query: str, message: str) -> None:
    with pytest.raises(ValidationFailed) as raised:
        parse(query)
    assert (raised.value.message, raised.value.field) == (message, "query")


def test_overlong_queries_are_refused() -> None:
    with pytest.raises(ValidationFailed, match="longer than"):
        parse("city = a OR " * 200 + "city = b")


def test_a_saved_query_still_parses_after_its_custom_field_is_gone() -> None:
    with pytest.raises(ValidationFailed):
        parse("tier = gold OR custom.size = 1")
    saved = parse("tier = gold OR custom.size = 1", custom_fields=None)
    assert saved.fields == frozenset({"custom.tier", "custom.size"})
    assert saved.matches({"custom.tier": "Gold"}) and not saved.matches({})
