"""Contact groups: static lists people fill, and dynamic ones that follow a saved query.

Membership lives in `GroupMember` items (see `group_members`), so listing a
group's members is a Query, for both kinds. A dynamic group's members are
materialized in the background: a job pages every contact through the
`by_created` index (Query, shard by shard), evaluates the query in Python,
stamps matching members with the job's generation and then removes members
stamped with an older one. `member_numbers` evaluates a dynamic group live
instead, for background consumers such as broadcasts that must not act on a
stale set.

Work that can outgrow a request (adding or removing by a contact query,
materializing, deleting or merging a big group) runs as jobs on the `groups`
queue (services/group_jobs.py); a job that runs low on Lambda time hands a cursor to its next run.
While jobs are pending the group shows `state: "pending"`. Deleting and
merging a small group run the same job inline instead.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import UpdateError
from pynamodb.transactions import TransactWrite

from chalicelib.errors import Conflict, ValidationFailed
from chalicelib.ids import new_id
from chalicelib.models import Contact, ContactGroup
from chalicelib.models.business_numbers import ACCOUNT
from chalicelib.models.contacts import INDEX_SHARDS, fold
from chalicelib.models.groups import DELETING, GROUP_PREFIX, NAME_LOCK_PREFIX, READY
from chalicelib.models.writes import condition_failed, write_transaction
from chalicelib.queues import enqueue
from chalicelib.segments import parse
from chalicelib.services import contacts, custom_fields, group_members
from chalicelib.services.group_jobs import PAGE, QUEUE_ENV, Predicate, bump_pending, load, missing, predicate, start
from chalicelib.services.paging import decode_cursor, encode_cursor
from chalicelib.timestamps import iso_z

STATIC, DYNAMIC = "static", "dynamic"
INLINE_MEMBERS = 500
"""Deleting or merging a group of at most this many members finishes within the request."""
_EDITABLE = ("name", "category", "description", "query")


# --- groups


def create_group(data: Mapping[str, Any]) -> dict[str, Any]:
    """Create a group; a dynamic one starts materializing in the background at once."""
    name = _clean_name(data.get("name"))
    kind = data.get("kind") or STATIC
    query = _checked_query(kind, data.get("query"))
    now = datetime.now(UTC)
    group = ContactGroup(
        ACCOUNT,
        new_id(GROUP_PREFIX),
        name=name,
        name_key=fold(name),
        kind=kind,
        definition=query,
        category=data.get("category"),
        description=data.get("description"),
        member_count=0,
        generation=1 if kind == DYNAMIC else 0,
        pending_jobs=1 if kind == DYNAMIC else 0,
        created_at=now,
        updated_at=now,
    )
    lock = ContactGroup(ACCOUNT, NAME_LOCK_PREFIX + group.name_key, group_id=group.id)

    def build(tx: TransactWrite) -> None:
        tx.save(group, condition=ContactGroup.id.does_not_exist())
        tx.save(lock, condition=ContactGroup.id.does_not_exist())

    if write_transaction(build):
        raise Conflict(f"a group named '{name}' already exists", field="name")
    if kind == DYNAMIC:
        enqueue(QUEUE_ENV, {"job": "materialize", "group_id": group.id, "generation": 1})
    return group_view(group)


def get_group(group_id: str) -> dict[str, Any]:
    return group_view(load(group_id))


def list_groups() -> dict[str, Any]:
    """Every group, by creation (ids sort by time); one Query returns the groups and their counters."""
    items = ContactGroup.query(ACCOUNT, range_key_condition=ContactGroup.id.startswith(GROUP_PREFIX + "_"))
    found: dict[str, ContactGroup] = {}
    for item in items:
        group_id, _, counter = item.id.partition("#")
        if not counter:
            found[group_id] = item
        elif group_id in found:
            found[group_id].member_count = int(found[group_id].member_count or 0) + int(item.member_count or 0)
    shown = [group for group in found.values() if group.state != DELETING]
    return {"items": [group_view(group) for group in shown]}


def update_group(group_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Rename, re-describe or (dynamic groups) change the query, which re-materializes the group."""
    unknown = set(changes) - set(_EDITABLE)
    if unknown:
        raise ValidationFailed(f"cannot change {sorted(unknown)}", field=sorted(unknown)[0])
    group = load(group_id)
    actions: list[Any] = [ContactGroup.updated_at.set(datetime.now(UTC))]
    for name in ("category", "description"):
        if name in changes:
            actions.append(getattr(ContactGroup, name).set(changes[name] or None))
    generation = None
    if "query" in changes:
        query = _checked_query(group.kind or STATIC, changes["query"])
        if query != group.definition:
            generation = int(group.generation) + 1
            actions += [
                ContactGroup.definition.set(query),
                ContactGroup.generation.set(generation),
                ContactGroup.pending_jobs.add(1),
            ]
    new_name = _clean_name(changes["name"]) if "name" in changes else group.name
    assert new_name is not None and group.name_key is not None
    _write_change(group, actions, new_name, generation is not None)
    if generation is not None:
        enqueue(QUEUE_ENV, {"job": "materialize", "group_id": group_id, "generation": generation})
    return get_group(group_id)


def _write_change(group: ContactGroup, actions: list[Any], new_name: str, new_generation: bool) -> None:
    """Apply `actions`, moving the name lock in the same transaction when the folded name changes.

    A new query must follow the generation it read, so two racing query
    changes cannot both start "the next" materialization.
    """
    old_key, new_key = group.name_key, fold(new_name)
    if new_name != group.name:
        actions += [ContactGroup.name.set(new_name), ContactGroup.name_key.set(new_key)]
    condition = (ContactGroup.state != DELETING) & (ContactGroup.name_key == old_key)
    if new_generation:
        condition &= ContactGroup.generation == group.generation

    def build(tx: TransactWrite) -> None:
        if new_key != old_key:
            tx.delete(ContactGroup(ACCOUNT, NAME_LOCK_PREFIX + old_key), condition=ContactGroup.group_id == group.id)
            lock = ContactGroup(ACCOUNT, NAME_LOCK_PREFIX + new_key, group_id=group.id)
            tx.save(lock, condition=ContactGroup.id.does_not_exist())
        tx.update(ContactGroup(ACCOUNT, group.id), actions=actions, condition=condition)

    failed = write_transaction(build)
    if not failed:
        return
    if new_key != old_key and 1 in failed:
        raise Conflict(f"a group named '{new_name}' already exists", field="name")
    raise Conflict("the group changed while this request was applied; read it again and retry", field="group_id")


def delete_group(group_id: str) -> tuple[dict[str, Any], bool]:
    """Delete a group (never its contacts); returns its last view and whether it finished inline.

    The group disappears and its name is free at once; its memberships are
    removed by the delete job, inline for small groups.
    """
    group = load(group_id)

    def build(tx: TransactWrite) -> None:
        tx.delete(
            ContactGroup(ACCOUNT, NAME_LOCK_PREFIX + (group.name_key or "")),
            condition=ContactGroup.group_id == group_id,
        )
        tx.update(
            ContactGroup(ACCOUNT, group_id),
            actions=[ContactGroup.state.set(DELETING), ContactGroup.updated_at.set(datetime.now(UTC))],
            condition=ContactGroup.state != DELETING,
        )

    if write_transaction(build):
        raise missing(group_id)
    inline = int(group.member_count) <= INLINE_MEMBERS
    start({"job": "delete", "group_id": group_id}, inline)
    return group_view(group), inline


def merge_groups(into_id: str, from_id: str) -> tuple[dict[str, Any], bool]:
    """Move every member of `from_id` into `into_id`, then delete `from_id`; both must be static."""
    if into_id == from_id:
        raise ValidationFailed("a group cannot be merged into itself", field="from")
    into, source = load(into_id), load(from_id, field="from")
    for group in (into, source):
        if group.kind != STATIC:
            raise Conflict(f"group {group.id} is dynamic; its members follow its query", field="from")
    bump_pending(into_id, 1)
    inline = int(source.member_count) <= INLINE_MEMBERS
    start({"job": "merge", "group_id": into_id, "from": from_id}, inline)
    return get_group(into_id), inline


def refresh_group(group_id: str) -> dict[str, Any]:
    """Re-materialize a dynamic group now (contacts changed since its last run)."""
    group = load(group_id)
    if group.kind != DYNAMIC:
        raise Conflict("only a dynamic group is refreshed; a static group's members are its list", field="group_id")
    item = ContactGroup(ACCOUNT, group_id)
    try:
        item.update(
            actions=[ContactGroup.generation.add(1), ContactGroup.pending_jobs.add(1)],
            condition=ContactGroup.state != DELETING,
        )
    except UpdateError as error:
        if condition_failed(error):
            raise missing(group_id) from None
        raise
    enqueue(QUEUE_ENV, {"job": "materialize", "group_id": group_id, "generation": int(item.generation)})
    return get_group(group_id)


def resolve_static_group(name: str) -> str:
    """The id of the static group named `name` (any case), created if there is none: for imports."""
    key = fold(_clean_name(name))
    for _ in range(3):
        try:
            lock = ContactGroup.get(ACCOUNT, NAME_LOCK_PREFIX + key, consistent_read=True)
        except ContactGroup.DoesNotExist:
            try:
                return str(create_group({"name": name})["id"])
            except Conflict:
                continue
        assert lock.group_id is not None
        _require_static(load(lock.group_id, field="group"))
        return lock.group_id
    raise Conflict(f"group '{name}' is being created and deleted concurrently; try again", field="group")


# --- members


def add_members(group_id: str, numbers: Sequence[str]) -> dict[str, Any]:
    """Add numbers to a static group; a bad number is reported with its index and costs none of the others."""
    group = load(group_id)
    _require_static(group)
    valid, rejected = _parsed(numbers)
    outcome = group_members.add(group_id, valid)
    return {
        "added": outcome.changed,
        "already_members": outcome.unchanged,
        "rejected": rejected,
        "group": get_group(group_id),
    }


def remove_members(group_id: str, numbers: Sequence[str]) -> dict[str, Any]:
    group = load(group_id)
    _require_static(group)
    valid, rejected = _parsed(numbers)
    outcome = group_members.remove(group_id, valid)
    return {
        "removed": outcome.changed,
        "not_members": outcome.unchanged,
        "rejected": rejected,
        "group": get_group(group_id),
    }


def change_members_by_query(group_id: str, filters: Mapping[str, Any], *, adding: bool) -> dict[str, Any]:
    """Add (or remove) every contact a `GET /contacts` query matches, in the background."""
    _require_static(load(group_id))
    checked = _checked_filters(filters)
    bump_pending(group_id, 1)
    enqueue(QUEUE_ENV, {"job": "add_query" if adding else "remove_query", "group_id": group_id, "filters": checked})
    return get_group(group_id)


def list_members(group_id: str, limit: int = 50, cursor: str | None = None) -> dict[str, Any]:
    """A page of members in number order; a dynamic group's as last materialized (see `materialized_at`)."""
    group = load(group_id)
    params = {"group_id": group_id}
    after = decode_cursor(cursor, params)
    members = []
    for page in group_members.member_pages(group_id, page_size=limit + 1, after=after):
        members += page
        if len(members) > limit:
            break
    shown = members[:limit]
    next_after = shown[-1].number if len(members) > limit else None
    return {
        "items": [{"number": m.number, "added_at": iso_z(m.added_at)} for m in shown],
        "next_cursor": encode_cursor(next_after, params),
        "member_count": int(group.member_count),
        "materialized_at": iso_z(group.materialized_at),
        "state": _state(group),
    }


def member_numbers(group_id: str, page_size: int = 100) -> Iterator[list[str]]:
    """Pages of E.164 numbers of the group's members, for background work;
    dynamic groups evaluated live (not from the materialized set).
    Raises NotFound for an unknown group."""
    group = load(group_id)
    if group.kind == DYNAMIC:
        return _live_pages(predicate(group), page_size)
    return _stored_pages(group_id, page_size)


def _stored_pages(group_id: str, page_size: int) -> Iterator[list[str]]:
    for page in group_members.member_pages(group_id, page_size=page_size):
        yield [member.number for member in page]


def _live_pages(matches: Predicate, page_size: int) -> Iterator[list[str]]:
    page: list[str] = []
    for shard in range(INDEX_SHARDS):
        for contact in Contact.by_created.query(str(shard), page_size=PAGE):
            if matches(contact):
                page.append(contact.number)
                if len(page) == page_size:
                    yield page
                    page = []
    if page:
        yield page


# --- helpers


def group_view(group: ContactGroup) -> dict[str, Any]:
    return {
        "id": group.id,
        "name": group.name,
        "kind": group.kind,
        "query": group.definition,
        "category": group.category,
        "description": group.description,
        "member_count": int(group.member_count or 0),
        "state": _state(group),
        "created_at": iso_z(group.created_at),
        "updated_at": iso_z(group.updated_at),
        "materialized_at": iso_z(group.materialized_at),
    }


def _state(group: ContactGroup) -> str:
    return "pending" if int(group.pending_jobs or 0) > 0 else READY


def _require_static(group: ContactGroup) -> None:
    if group.kind != STATIC:
        raise Conflict("a dynamic group's members follow its query; change the query instead", field="group_id")


def _clean_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValidationFailed("name is required", field="name")
    return name.strip()


def _checked_query(kind: str, query: Any) -> str | None:
    if kind not in (STATIC, DYNAMIC):
        raise ValidationFailed("kind is static or dynamic", field="kind")
    if kind == STATIC:
        if query:
            raise ValidationFailed("a static group has no query; create a dynamic group instead", field="query")
        return None
    if not isinstance(query, str) or not query.strip():
        raise ValidationFailed("a dynamic group needs a query", field="query")
    parse(query, custom_fields.list_fields())
    return query.strip()


def _checked_filters(filters: Mapping[str, Any]) -> dict[str, Any]:
    """The contact-list filters a job replays; tried once now so a bad query is a 400, not a failed job."""
    allowed = {"q", "opt_status", "status", "blocked", "group"}
    unknown = set(filters) - allowed
    if unknown:
        raise ValidationFailed(f"query: unknown filters {sorted(unknown)}", field="query")
    checked = {name: value for name, value in filters.items() if value is not None}
    contacts.list_contacts(contacts.ContactQuery(**checked, limit=1))
    return checked


def _parsed(numbers: Sequence[str]) -> tuple[list[str], list[dict[str, Any]]]:
    valid: dict[str, None] = {}
    rejected = []
    for index, raw in enumerate(numbers):
        try:
            valid[contacts.parse_number(str(raw), field=f"numbers.{index}")] = None
        except ValidationFailed as error:
            rejected.append({"index": index, "number": str(raw), "message": error.message})
    return list(valid), rejected
