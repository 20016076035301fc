"""A contact group's background work, and what it shares with the requests that start it.

Jobs run on the `groups` queue (or inline, for a small group): materializing a
dynamic group, adding or removing by a contact query, merging, deleting. Every
step is a conditional membership write, so a job delivered twice repeats work
without double counting; a job short of Lambda time returns the message to
continue with.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import UpdateError
from pynamodb.transactions import TransactWrite

from chalicelib.budget import Budget
from chalicelib.errors import NotFound
from chalicelib.models import Contact, ContactGroup
from chalicelib.models.business_numbers import ACCOUNT
from chalicelib.models.contacts import INDEX_SHARDS, PROFILE_FIELDS
from chalicelib.models.groups import DELETING, GROUP_PREFIX, NAME_LOCK_PREFIX
from chalicelib.models.writes import condition_failed, write_transaction
from chalicelib.observability import logger
from chalicelib.queues import enqueue
from chalicelib.segments import parse
from chalicelib.services import contacts, custom_fields, group_members

QUEUE_ENV = "GROUPS_QUEUE_URL"
PAGE = 100
Predicate = Callable[[Contact], bool]


def segment_values(contact: Contact, defined: Collection[str]) -> dict[str, Any]:
    """A contact as the query language sees it: like the API, only values of defined custom fields."""
    custom = contact.custom.as_dict() if contact.custom else {}
    values: dict[str, Any] = {f"custom.{name}": value for name, value in custom.items() if name in defined}
    values.update({name: getattr(contact, name) for name in PROFILE_FIELDS})
    values.update(
        number=contact.number,
        status=contact.status,
        opt_status=contact.opt_status,
        blocked=contact.blocked,
        created_at=contact.created_at,
        last_message_at=contact.last_message_at,
        first_contact_at=contact.first_contact_at,
    )
    return values


def run_job(job: Mapping[str, Any], budget: Budget) -> dict[str, Any] | None:
    """Advance a job as far as the budget allows; the message to continue with, or None when finished.

    Every step is idempotent (conditional membership writes), so a job that
    is delivered again after a crash repeats work without double counting.
    """
    kind = job["job"]
    try:
        if kind == "materialize":
            return _materialize(job, budget)
        if kind in ("add_query", "remove_query"):
            return _by_query(job, budget)
        if kind == "merge":
            return _merge(job, budget)
        if kind == "delete":
            return _delete(job, budget)
    except NotFound:
        logger.info("group job stopped: its group is gone", extra={"job": kind, "group_id": job["group_id"]})
        return None
    raise ValueError(f"unknown group job {kind!r}")


def start(job: dict[str, Any], inline: bool) -> None:
    if not inline:
        enqueue(QUEUE_ENV, job)
        return
    current: dict[str, Any] | None = job
    while current is not None:
        current = run_job(current, Budget.seconds(3600))


def _materialize(job: Mapping[str, Any], budget: Budget) -> dict[str, Any] | None:
    group_id, generation = job["group_id"], int(job["generation"])
    group = load(group_id)
    if int(group.generation) != generation:
        bump_pending(group_id, -1)
        return None
    matches = predicate(group)
    if job.get("phase", "contacts") == "contacts":
        for shard in range(int(job.get("shard", 0)), INDEX_SHARDS):
            after = job.get("after") if shard == int(job.get("shard", 0)) else None
            for last_key in _materialize_shard(group_id, matches, generation, shard, after):
                if int(load(group_id).generation) != generation:
                    bump_pending(group_id, -1)
                    return None
                if budget.exhausted():
                    return {**job, "shard": shard, "after": last_key}
        job = {**job, "phase": "stale", "after": None}
    for page in group_members.member_pages(group_id, PAGE, after=job.get("after"), older_than=generation):
        group_members.remove(group_id, [member.number for member in page])
        if budget.exhausted():
            return {**job, "after": page[-1].number}
    _finish_materializing(group_id, generation)
    return None


def _materialize_shard(
    group_id: str, matches: Predicate, generation: int, shard: int, after: str | None
) -> Iterator[str]:
    """Bring one shard's matching contacts into the group; yields the last index key after each page."""
    condition = type(Contact.by_created).created_key > after if after else None
    page: list[Contact] = []
    for contact in Contact.by_created.query(str(shard), range_key_condition=condition, page_size=PAGE):
        page.append(contact)
        if len(page) == PAGE:
            _stamp(group_id, matches, generation, page)
            yield page[-1].created_key
            page = []
    if page:
        _stamp(group_id, matches, generation, page)
        yield page[-1].created_key


def _stamp(group_id: str, matches: Predicate, generation: int, page: list[Contact]) -> None:
    matching = [c.number for c in page if matches(c)]
    if not matching:
        return
    present = group_members.existing(group_id, matching)
    vanished = group_members.restamp(group_id, [n for n in matching if n in present], generation)
    group_members.add(group_id, [n for n in matching if n not in present] + vanished, generation)


def _finish_materializing(group_id: str, generation: int) -> None:
    actions = [ContactGroup.pending_jobs.add(-1)]
    try:
        ContactGroup(ACCOUNT, group_id).update(
            actions=[*actions, ContactGroup.materialized_at.set(datetime.now(UTC))],
            condition=ContactGroup.generation == generation,
        )
    except UpdateError as error:
        if not condition_failed(error):
            raise
        bump_pending(group_id, -1)


def _by_query(job: Mapping[str, Any], budget: Budget) -> dict[str, Any] | None:
    group_id, adding = job["group_id"], job["job"] == "add_query"
    cursor = job.get("cursor")
    while True:
        page = contacts.list_contacts(contacts.ContactQuery(**job["filters"], limit=PAGE, cursor=cursor))
        numbers = [item["number"] for item in page.items]
        if adding:
            group_members.add(group_id, numbers)
        else:
            group_members.remove(group_id, numbers)
        cursor = page.next_cursor
        if cursor is None:
            bump_pending(group_id, -1)
            return None
        if budget.exhausted():
            return {**job, "cursor": cursor}


def _merge(job: Mapping[str, Any], budget: Budget) -> dict[str, Any] | None:
    into_id, from_id = job["group_id"], job["from"]
    for page in group_members.member_pages(from_id, PAGE, after=job.get("after")):
        group_members.add(into_id, [member.number for member in page])
        if budget.exhausted():
            return {**job, "after": page[-1].number}
    _release_source(from_id, into_id)
    bump_pending(into_id, -1)
    return {"job": "delete", "group_id": from_id}


def _release_source(from_id: str, into_id: str) -> None:
    """Mark the merged group as deleting and free its name; a redelivered merge finds this done already."""
    try:
        source = ContactGroup.get(ACCOUNT, from_id, consistent_read=True)
    except ContactGroup.DoesNotExist:
        return
    if source.state == DELETING:
        return

    def build(tx: TransactWrite) -> None:
        tx.delete(
            ContactGroup(ACCOUNT, NAME_LOCK_PREFIX + (source.name_key or "")),
            condition=ContactGroup.group_id == from_id,
        )
        tx.update(ContactGroup(ACCOUNT, from_id), actions=[ContactGroup.state.set(DELETING)])

    write_transaction(build)
    logger.info("group merged", extra={"group_id": into_id, "merged": from_id})


def _delete(job: Mapping[str, Any], budget: Budget) -> dict[str, Any] | None:
    group_id = job["group_id"]
    for page in group_members.member_pages(group_id, PAGE):
        group_members.remove(group_id, [member.number for member in page])
        if budget.exhausted():
            return dict(job)

    def build(tx: TransactWrite) -> None:
        tx.delete(ContactGroup(ACCOUNT, group_id), condition=ContactGroup.state == DELETING)
        for shard in range(group_members.COUNTER_SHARDS):
            tx.delete(ContactGroup(ACCOUNT, group_members.counter_id(group_id, shard)))

    write_transaction(build)
    return None


def load(group_id: str, field: str = "group_id") -> ContactGroup:
    """The group with its current member count: one Query reads the group's item and its counters."""
    if not group_id.startswith(GROUP_PREFIX + "_") or "#" in group_id:
        raise missing(group_id, field)
    group, count = None, 0
    for item in ContactGroup.query(ACCOUNT, ContactGroup.id.startswith(group_id), consistent_read=True):
        if item.id == group_id:
            group = item
        else:
            count += int(item.member_count or 0)
    if group is None or group.state == DELETING:
        raise missing(group_id, field)
    group.member_count = int(group.member_count or 0) + count
    return group


def missing(group_id: str, field: str = "group_id") -> NotFound:
    return NotFound(f"no contact group {group_id}", field=field)


def bump_pending(group_id: str, change: int) -> None:
    try:
        ContactGroup(ACCOUNT, group_id).update(
            actions=[ContactGroup.pending_jobs.add(change)], condition=ContactGroup.id.exists()
        )
    except UpdateError as error:
        if not condition_failed(error):
            raise


def predicate(group: ContactGroup) -> Predicate:
    """A saved query as a test of one contact.

    It is parsed without today's field list, so a custom field deleted since
    does not break it: like the API, it no longer sees that field's values.
    """
    assert group.definition is not None
    segment = parse(group.definition, custom_fields=None)
    defined = frozenset(custom_fields.list_fields())
    return lambda contact: segment.matches(segment_values(contact, defined))
