"""Contacts: the rules for creating, changing, finding and removing them.

Numbers are identities: a contact is stored under its E.164 number, so "the same
number written differently" is the same contact by construction, and creating
one that exists is a conditional-write conflict rather than a duplicate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pynamodb.exceptions import DeleteError, PutError

from chalicelib.config import get_settings
from chalicelib.errors import Conflict, NotFound, ValidationFailed
from chalicelib.models import Contact
from chalicelib.models.contacts import INDEX_SHARDS, PROFILE_FIELDS, fold, shard_of, sort_key
from chalicelib.models.groups import GROUP_PREFIX
from chalicelib.models.merged_query import Stream, merged_query
from chalicelib.models.writes import backoff, condition_failed
from chalicelib.phone import InvalidPhoneNumber, normalize, search_prefixes
from chalicelib.services import custom_fields, group_members
from chalicelib.services.paging import Page, decode_cursor, encode_cursor
from chalicelib.timestamps import iso_z

SortField = Literal["created_at", "last_message_at", "last_name"]
_SORT_INDEX = {
    "created_at": ("by_created", "created_key"),
    "last_message_at": ("by_activity", "activity_key"),
    "last_name": ("by_last_name", "last_name_key"),
}
_VERSION_RETRIES = 10
GROUP_ID_PREFIX = GROUP_PREFIX + "_"
"""`group=` with a contact group's id lists its members; any other value is a label imports wrote."""


def parse_number(raw: str, field: str = "number") -> str:
    try:
        return normalize(raw, get_settings().default_phone_region)
    except InvalidPhoneNumber as error:
        raise ValidationFailed(f"{field}: {error.reason}", field=field) from None


def create_contact(data: Mapping[str, Any]) -> dict[str, Any]:
    number = parse_number(data["number"])
    defined = custom_fields.list_fields()
    now = datetime.now(UTC)
    contact = Contact(number, created_at=now, updated_at=now)
    _apply(contact, data, defined)
    try:
        contact.save(condition=Contact.number.does_not_exist())
    except PutError as error:
        if condition_failed(error):
            raise Conflict(f"a contact with number {number} already exists", field="number") from None
        raise
    return contact_view(contact, defined)


def get_contact(raw_number: str) -> dict[str, Any]:
    """The contact with every group it belongs to: its memberships' group ids besides any imported labels."""
    contact = _load(raw_number)
    view = contact_view(contact, custom_fields.list_fields())
    view["groups"] = sorted(set(view["groups"]) | set(group_members.group_ids_of(contact.number)))
    return view


def update_contact(raw_number: str, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Apply a partial update as read-modify-write guarded by the item's version.

    Index keys are derived from several fields, so a blind UpdateItem could
    leave them stale; a lost race is simply re-read and re-applied.
    """
    defined = custom_fields.list_fields()
    for attempt in range(_VERSION_RETRIES):
        contact = _load(raw_number)
        _apply(contact, changes, defined)
        contact.updated_at = datetime.now(UTC)
        try:
            contact.save()
        except PutError as error:
            if not condition_failed(error):
                raise
            backoff(attempt)
            continue
        return contact_view(contact, defined)
    raise Conflict("the contact is being changed by others right now; try again", field="number")


def delete_contact(raw_number: str) -> None:
    """Delete a contact, unless it has opted out somewhere.

    The guard reads a contact's opt-out view, and a contact created again for
    the number (an inbound text, an import) would start opted in: so the
    record of someone who opted out stays, in the same conditional delete.
    """
    number = parse_number(raw_number)
    deletable = (
        Contact.number.exists()
        & (Contact.opt_status != "opted_out")
        & Contact.opted_out_campaigns.does_not_exist()
        & Contact.opted_out_numbers.does_not_exist()
    )
    try:
        Contact(number).delete(condition=deletable, add_version_condition=False)
    except DeleteError as error:
        if not condition_failed(error):
            raise
        _load(number)
        raise Conflict(
            f"{number} has opted out; its record keeps the opt-out in force, so clear its fields instead",
            field="number",
        ) from None
    group_members.forget_number(number)


@dataclass(frozen=True)
class ContactQuery:
    q: str | None = None
    opt_status: str | None = None
    status: str | None = None
    blocked: bool | None = None
    group: str | None = None
    sort: SortField = "created_at"
    order: Literal["asc", "desc"] | None = None
    limit: int = 50
    cursor: str | None = None

    @property
    def descending(self) -> bool:
        """Searches read in key order; dates default to newest first, names to A-Z."""
        if self.q:
            return False
        if self.order is not None:
            return self.order == "desc"
        return self.sort != "last_name"

    def fingerprint_params(self) -> dict[str, Any]:
        params = dict(self.__dict__)
        params.pop("cursor")
        params.pop("limit")
        return params


def list_contacts(query: ContactQuery) -> Page:
    """One page of contacts, served by index Queries only (never a table scan)."""
    if query.group is not None and query.group.startswith(GROUP_ID_PREFIX):
        return _list_group(query)
    params = query.fingerprint_params()
    after = decode_cursor(query.cursor, params)
    items, next_after = merged_query(
        _streams(query),
        descending=query.descending,
        after=after,
        limit=query.limit,
        filter_condition=_filters(query),
    )
    defined = custom_fields.list_fields()
    return Page([contact_view(c, defined) for c in items], encode_cursor(next_after, params))


def _list_group(query: ContactQuery) -> Page:
    """A contact group's contacts in number order: its memberships by Query, the contacts by BatchGetItem.

    A group is usually a small part of all contacts, so reading its members is
    cheaper than filtering every contact; the other filters apply to what was read.
    """
    if query.q:
        raise ValidationFailed("q cannot be combined with a group id; list the group, then search", field="q")
    params = query.fingerprint_params()
    after = decode_cursor(query.cursor, params)
    assert query.group is not None
    found: list[Contact] = []
    for members in group_members.member_pages(query.group, after=after):
        loaded = group_members.contacts_for(member.number for member in members)
        found += [loaded[m.number] for m in members if m.number in loaded and _passes(loaded[m.number], query)]
        if len(found) > query.limit:
            break
    shown = found[: query.limit]
    next_after = shown[-1].number if len(found) > query.limit else None
    defined = custom_fields.list_fields()
    return Page([contact_view(c, defined) for c in shown], encode_cursor(next_after, params))


def _passes(contact: Contact, query: ContactQuery) -> bool:
    return all(
        wanted is None or getattr(contact, name) == wanted
        for name, wanted in (("opt_status", query.opt_status), ("status", query.status), ("blocked", query.blocked))
    )


def _streams(query: ContactQuery) -> list[Stream]:
    shards = [str(shard) for shard in range(INDEX_SHARDS)]
    if not query.q:
        index_name, key_attr = _SORT_INDEX[query.sort]
        index = getattr(Contact, index_name)
        return [Stream(index, shard, key_attr) for shard in shards]
    if query.sort != "created_at" or query.order is not None:
        raise ValidationFailed(
            "search results come in number or name order; sort and order cannot be combined with q",
            field="sort",
        )
    if any(ch.isalpha() for ch in query.q):
        prefixes = _name_prefixes(query.q)
    else:
        prefixes = [("by_number", "number", p) for p in search_prefixes(query.q, get_settings().default_phone_region)]
        if not prefixes:
            raise ValidationFailed("q must contain a name or some digits of a number", field="q")
    return [
        Stream(getattr(Contact, index), shard, attr, prefix) for index, attr, prefix in prefixes for shard in shards
    ]


def _name_prefixes(q: str) -> list[tuple[str, str, str]]:
    """Last-name prefix, first-name prefix and, for "first last", both together."""
    text = fold(q)
    prefixes = [("by_last_name", "last_name_key", text), ("by_first_name", "first_name_key", text)]
    words = text.split()
    if len(words) >= 2:
        prefixes.append(("by_first_name", "first_name_key", sort_key(words[0], " ".join(words[1:]))))
    return prefixes


def _filters(query: ContactQuery) -> Any:
    conditions = []
    if query.opt_status is not None:
        conditions.append(Contact.opt_status == query.opt_status)
    if query.status is not None:
        conditions.append(Contact.status == query.status)
    if query.blocked is not None:
        conditions.append(Contact.blocked == query.blocked)
    if query.group is not None:
        conditions.append(Contact.groups.contains(query.group))
    combined = None
    for condition in conditions:
        combined = condition if combined is None else combined & condition
    return combined


def _load(raw_number: str) -> Contact:
    number = parse_number(raw_number)
    try:
        return Contact.get(number)
    except Contact.DoesNotExist:
        raise NotFound(f"no contact with number {number}", field="number") from None


def _apply(contact: Contact, data: Mapping[str, Any], defined: Mapping[str, Any]) -> None:
    for name in PROFILE_FIELDS:
        if name in data:
            setattr(contact, name, _blank_to_none(data[name]))
    for name in ("status", "blocked"):
        if name in data and data[name] is not None:
            setattr(contact, name, data[name])
    if data.get("custom"):
        values = dict(contact.custom.as_dict() if contact.custom else {})
        for name, value in data["custom"].items():
            if name not in defined:
                raise ValidationFailed(f"custom field '{name}' is not defined (see /fields)", field=f"custom.{name}")
            if _blank_to_none(value) is None:
                values.pop(name, None)
            else:
                values[name] = value
        contact.custom = values


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value


def contact_view(contact: Contact, defined: Mapping[str, Any]) -> dict[str, Any]:
    """The API's representation; custom values appear only for defined fields."""
    custom = contact.custom.as_dict() if contact.custom else {}
    view: dict[str, Any] = {"number": contact.number}
    view.update({name: getattr(contact, name) for name in PROFILE_FIELDS})
    view.update(
        custom={name: value for name, value in custom.items() if name in defined},
        status=contact.status,
        blocked=contact.blocked,
        channel=contact.channel,
        groups=sorted(contact.groups or ()),
        opt_status=contact.opt_status,
        opted_out_campaigns=sorted(contact.opted_out_campaigns or ()),
        opted_out_numbers=sorted(contact.opted_out_numbers or ()),
        created_at=iso_z(contact.created_at),
        updated_at=iso_z(contact.updated_at),
        first_contact_at=iso_z(contact.first_contact_at),
        last_message_at=iso_z(contact.last_message_at),
    )
    return view


def upsert_actions(number: str, now: datetime, *, messaged: bool = False, opt_status: str | None = None) -> list[Any]:
    """UpdateItem actions that create a bare contact if absent and leave an existing one intact.

    Inbound messages and opt-outs must not need a read first, and they must not
    create a half-formed item: every attribute a list view relies on, index
    keys included, is set only if it does not exist yet. `messaged` also stamps
    "this contact just texted or was texted"; `opt_status` sets the company-wide
    opt-out view (only the opt-out store passes it). PynamoDB moves the version
    on every update, so a bulk import that read the contact before this write
    cannot overwrite it.
    """
    bare_name_key = sort_key("", "", number)
    actions = [
        Contact.created_at.set(Contact.created_at | now),
        Contact.updated_at.set(now),
        Contact.status.set(Contact.status | "active"),
        Contact.blocked.set(Contact.blocked | False),
        Contact.channel.set(Contact.channel | "sms"),
        Contact.opt_status.set(opt_status or (Contact.opt_status | "opted_in")),
        Contact.custom.set(Contact.custom | {}),
        Contact.shard.set(Contact.shard | shard_of(number)),
        Contact.created_key.set(Contact.created_key | sort_key(now.isoformat(), number)),
        Contact.last_name_key.set(Contact.last_name_key | bare_name_key),
        Contact.first_name_key.set(Contact.first_name_key | bare_name_key),
    ]
    if not messaged:
        return [*actions, Contact.activity_key.set(Contact.activity_key | sort_key("", number))]
    return [
        *actions,
        Contact.first_contact_at.set(Contact.first_contact_at | now),
        Contact.last_message_at.set(now),
        Contact.activity_key.set(sort_key(now.isoformat(), number)),
    ]


def record_activity(number: str, now: datetime) -> str:
    """Create the contact if unknown and stamp its last message; one UpdateItem, no read.

    Returns the contact's display name ("" if it has none), which the update
    returns anyway, so conversations can keep the name they sort by current.
    """
    contact = Contact(number)
    contact.update(actions=upsert_actions(number, now, messaged=True), add_version_condition=False)
    return display_name(contact)


def display_name(contact: Contact) -> str:
    return " ".join(part for part in (contact.first_name, contact.last_name) if part)


def placeholder_names() -> list[str]:
    return ["number", *PROFILE_FIELDS, *custom_fields.list_fields()]


def placeholder_values(number: str) -> dict[str, str | None]:
    """What `{first_name}` and friends stand for in a message to `number` (unknown contact: just the number)."""
    try:
        contact = Contact.get(number)
    except Contact.DoesNotExist:
        return {"number": number}
    return values_of(contact)


def values_of(contact: Contact) -> dict[str, str | None]:
    """Placeholder values from a contact already read (a broadcast renders from the guard's batch read)."""
    number = contact.number
    custom = contact.custom.as_dict() if contact.custom else {}
    values: dict[str, str | None] = {name: str(value) for name, value in custom.items()}
    values.update({name: getattr(contact, name) for name in PROFILE_FIELDS})
    values["number"] = number
    return values
