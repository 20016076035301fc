"""Search, filters, sorts and cursor paging of GET /contacts, against DynamoDB Local."""

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest

from chalicelib.models import Contact

BASE = datetime(2026, 1, 1, tzinfo=UTC)
FIRST_NAMES = ["Ana", "Ben", "Cara", "Dev", "Eli", "Fay"]
LAST_NAMES = ["Smith", "Smithers", "Jones", "Lopez", "Nguyen"]


def number(i: int) -> str:
    return f"+1512555{i:04d}"


def seed(count: int = 120) -> list[Contact]:
    """`count` contacts with distinct times, varied names and states."""
    contacts = []
    with Contact.batch_write() as batch:
        for i in range(count):
            contact = Contact(
                number(i),
                first_name=FIRST_NAMES[i % len(FIRST_NAMES)],
                last_name=LAST_NAMES[i % len(LAST_NAMES)],
                created_at=BASE + timedelta(minutes=i),
                updated_at=BASE + timedelta(minutes=i),
                last_message_at=None if i % 4 == 0 else BASE + timedelta(days=1, minutes=(i * 37) % 120),
                status="inactive" if i % 3 == 0 else "active",
                blocked=i % 10 == 0,
                opt_status="opted_out" if i % 7 == 0 else "opted_in",
                groups={"vip"} if i % 5 == 0 else set(),
            )
            batch.save(contact)
            contacts.append(contact)
    return contacts


def fetch_all(api, **params):
    """Follow next_cursor to the end; return the numbers in order and the page count."""
    numbers, pages, cursor = [], 0, None
    while True:
        query = dict(params, **({"cursor": cursor} if cursor else {}))
        response = api.get("/contacts?" + urlencode(query))
        assert response.status_code == 200, response.body
        page = json.loads(response.body)
        assert len(page["items"]) <= int(params.get("limit", 50))
        numbers += [item["number"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            return numbers, pages


@pytest.fixture
def contacts():
    return seed()


def test_paging_120_contacts_by_50_returns_each_exactly_once(as_agent, contacts):
    numbers, pages = fetch_all(as_agent, limit=50)
    assert pages == 3
    assert len(numbers) == 120
    assert len(set(numbers)) == 120
    assert numbers == [c.number for c in sorted(contacts, key=lambda c: c.created_at, reverse=True)]


def _expected_order(contacts, sort, descending):
    if sort == "created_at":
        key = lambda c: (c.created_at, c.number)  # noqa: E731
    elif sort == "last_message_at":
        key = lambda c: (c.last_message_at or datetime.min.replace(tzinfo=UTC), c.number)  # noqa: E731
    else:
        key = lambda c: (c.last_name.casefold(), c.first_name.casefold(), c.number)  # noqa: E731
    return [c.number for c in sorted(contacts, key=key, reverse=descending)]


@pytest.mark.parametrize("sort", ["created_at", "last_message_at", "last_name"])
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_each_sort_in_each_order_pages_through_everything_in_order(as_agent, contacts, sort, order):
    numbers, _ = fetch_all(as_agent, sort=sort, order=order, limit=50)
    assert numbers == _expected_order(contacts, sort, order == "desc")


def test_default_orders(as_agent, contacts):
    names, _ = fetch_all(as_agent, sort="last_name", limit=200)
    assert names == _expected_order(contacts, "last_name", descending=False)
    recent, _ = fetch_all(as_agent, sort="last_message_at", limit=200)
    assert recent == _expected_order(contacts, "last_message_at", descending=True)


@pytest.mark.parametrize(
    ("params", "predicate"),
    [
        ({"opt_status": "opted_out"}, lambda c: c.opt_status == "opted_out"),
        ({"opt_status": "opted_in"}, lambda c: c.opt_status == "opted_in"),
        ({"status": "inactive"}, lambda c: c.status == "inactive"),
        ({"status": "active"}, lambda c: c.status == "active"),
        ({"blocked": "true"}, lambda c: c.blocked),
        ({"blocked": "false"}, lambda c: not c.blocked),
        ({"group": "vip"}, lambda c: "vip" in c.groups),
        ({"group": "vip", "status": "inactive"}, lambda c: "vip" in c.groups and c.status == "inactive"),
    ],
)
def test_each_filter_returns_exactly_the_matching_contacts(as_agent, contacts, params, predicate):
    numbers, _ = fetch_all(as_agent, limit=7, **params)
    expected = [c.number for c in sorted(contacts, key=lambda c: c.created_at, reverse=True) if predicate(c)]
    assert expected, "the fixture must contain matches"
    assert numbers == expected


@pytest.mark.parametrize("typed", ["512555001", "(512) 555-001", "1-512-555-001", "+1512555001", "+1 512 555 001"])
def test_search_by_number_prefix_in_any_common_format(as_agent, contacts, typed):
    numbers, _ = fetch_all(as_agent, q=typed, limit=4)
    assert numbers == [number(i) for i in range(10, 20)]


def test_number_search_with_no_match_is_empty(as_agent, contacts):
    assert fetch_all(as_agent, q="+44 20")[0] == []


@pytest.mark.parametrize("typed", ["smi", "SMI", "Smith"])
def test_search_by_last_name_prefix_is_case_insensitive(as_agent, contacts, typed):
    numbers, _ = fetch_all(as_agent, q=typed, limit=10)
    expected = {c.number for c in contacts if c.last_name.casefold().startswith(typed.casefold())}
    assert sorted(numbers) == sorted(expected)
    assert len(numbers) == len(set(numbers))


def test_search_by_first_name_prefix(as_agent, contacts):
    numbers, _ = fetch_all(as_agent, q="car", limit=5)
    assert sorted(numbers) == sorted(c.number for c in contacts if c.first_name == "Cara")


def test_search_by_first_and_last_name(as_agent, contacts):
    numbers, _ = fetch_all(as_agent, q="ana smi", limit=5)
    expected = {c.number for c in contacts if c.first_name == "Ana" and c.last_name.startswith("Smi")}
    assert expected
    assert sorted(numbers) == sorted(expected)


def test_contact_matching_first_and_last_name_prefix_appears_once(as_agent):
    as_agent.post("/contacts", {"number": "5125550100", "first_name": "Sam", "last_name": "Samson"})
    as_agent.post("/contacts", {"number": "5125550101", "first_name": "Sandy", "last_name": "Ortiz"})
    as_agent.post("/contacts", {"number": "5125550102", "first_name": "Omar", "last_name": "Sato"})
    for limit in (1, 2, 50):
        numbers, _ = fetch_all(as_agent, q="sa", limit=limit)
        assert sorted(numbers) == ["+15125550100", "+15125550101", "+15125550102"]


def test_search_combines_with_filters(as_agent, contacts):
    numbers, _ = fetch_all(as_agent, q="jones", status="inactive", limit=3)
    assert sorted(numbers) == sorted(c.number for c in contacts if c.last_name == "Jones" and c.status == "inactive")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("sort=first_name", "sort"),
        ("order=up", "order"),
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=ten", "limit"),
        ("blocked=maybe", "blocked"),
        ("opt_status=unknown", "opt_status"),
        ("colour=blue", "colour"),
        ("cursor=garbage!", "cursor"),
        ("q=smith&sort=last_message_at", "sort"),
        ("q=---", "q"),
    ],
)
def test_bad_list_parameters_are_400_naming_the_parameter(as_agent, query, field):
    response = as_agent.get("/contacts?" + query)
    assert response.status_code == 400, response.body
    assert json.loads(response.body)["error"]["field"] == field


def test_cursor_from_another_query_is_refused(as_agent, contacts):
    page = json.loads(as_agent.get("/contacts?limit=10&sort=last_name").body)
    response = as_agent.get(
        "/contacts?" + urlencode({"limit": 10, "sort": "created_at", "cursor": page["next_cursor"]})
    )
    assert response.status_code == 400
    assert json.loads(response.body)["error"]["field"] == "cursor"


def test_cursor_survives_a_change_of_page_size(as_agent, contacts):
    first = json.loads(as_agent.get("/contacts?limit=30").body)
    rest, _ = fetch_all(as_agent, limit=45, cursor=first["next_cursor"])
    assert [i["number"] for i in first["items"]] + rest == _expected_order(contacts, "created_at", True)
