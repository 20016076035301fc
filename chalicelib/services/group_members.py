"""Group memberships: the writes that keep members and counts equal.

A membership is an item of its own (group, number), the one source of truth
for "who is in the group" (`Contact.groups` keeps only labels imports wrote).
Every membership write goes in a transaction with an ADD to one of the
group's counter items and a check that the group still exists, so the count
stays exact when two requests add overlapping numbers at once: a member that
already exists fails its put condition, the transaction is retried without
it, and only real inserts are counted. The counter is split over a few items
so that one big add can write several transactions at a time without them
contending for a single counter.

A membership may name a number that is not a contact (yet), as a recipient
list would; it shows among the group's contacts once the contact exists.
This module knows nothing of group rules (names, kinds, jobs); the contacts
service uses it too, so a deleted contact leaves no memberships behind.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from pynamodb.transactions import TransactWrite

from chalicelib.errors import NotFound
from chalicelib.models import Contact, ContactGroup, GroupMember
from chalicelib.models.business_numbers import ACCOUNT
from chalicelib.models.groups import DELETING
from chalicelib.models.writes import write_transaction

MEMBERS_PER_TRANSACTION = 98
"""A transaction holds at most 100 actions: the group check, the members and one counter."""
COUNTER_SHARDS = 4
"""Counter items per group: writers that add to different ones never contend, so a big add runs in parallel."""
RESTAMPS_PER_TRANSACTION = 100
BATCH_GET_KEYS = 100


def counter_id(group_id: str, shard: int) -> str:
    """The sort key of one of the group's counters; it sorts right after the group's own item."""
    return f"{group_id}#n{shard}"


@dataclass
class Outcome:
    """What a bulk membership change did, for the caller's summary."""

    changed: int = 0
    unchanged: int = 0

    def merge(self, other: Outcome) -> None:
        self.changed += other.changed
        self.unchanged += other.unchanged


def add(group_id: str, numbers: Sequence[str], generation: int = 0) -> Outcome:
    """Make `numbers` (E.164) members; existing members are left as they are and not counted."""
    return _in_parallel(group_id, numbers, adding=True, generation=generation)


def remove(group_id: str, numbers: Sequence[str]) -> Outcome:
    """End the memberships of `numbers`; numbers that are not members are counted as unchanged."""
    return _in_parallel(group_id, numbers, adding=False)


def _in_parallel(group_id: str, numbers: Sequence[str], *, adding: bool, generation: int = 0) -> Outcome:
    """Split the numbers over the counter shards and write each share in its own thread."""
    distinct = list(dict.fromkeys(numbers))
    shares = [(shard, distinct[shard::COUNTER_SHARDS]) for shard in range(COUNTER_SHARDS)]
    shares = [(shard, share) for shard, share in shares if share]

    def write(shard: int, share: Sequence[str]) -> Outcome:
        outcome = Outcome()
        for chunk in _chunks(share, MEMBERS_PER_TRANSACTION):
            outcome.merge(_write_chunk(group_id, chunk, shard, adding=adding, generation=generation))
        return outcome

    total = Outcome()
    if len(shares) <= 1:
        for share in shares:
            total.merge(write(*share))
        return total
    with ThreadPoolExecutor(max_workers=len(shares), thread_name_prefix="group-members") as pool:
        for outcome in pool.map(lambda pair: write(*pair), shares):
            total.merge(outcome)
    return total


def _write_chunk(group_id: str, numbers: Sequence[str], shard: int, *, adding: bool, generation: int = 0) -> Outcome:
    """One transaction; members whose condition failed (already in / already out) are dropped and it is retried."""
    pending = list(numbers)
    outcome = Outcome()
    group_live = ContactGroup.id.exists()
    if adding:
        group_live &= ContactGroup.state != DELETING
    while pending:
        now = datetime.now(UTC)
        current = list(pending)

        def build(tx: TransactWrite, current: list[str] = current, now: datetime = now) -> None:
            tx.condition_check(ContactGroup, ACCOUNT, group_id, condition=group_live)
            for number in current:
                if adding:
                    member = GroupMember(group_id, number, added_at=now, generation=generation)
                    tx.save(member, condition=GroupMember.number.does_not_exist())
                else:
                    tx.delete(GroupMember(group_id, number), condition=GroupMember.number.exists())
            change = len(current) if adding else -len(current)
            tx.update(
                ContactGroup(ACCOUNT, counter_id(group_id, shard)), actions=[ContactGroup.member_count.add(change)]
            )

        failed = write_transaction(build)
        if not failed:
            outcome.changed += len(current)
            return outcome
        if 0 in failed:
            raise NotFound(f"no contact group {group_id}", field="group_id")
        refused = {current[position - 1] for position in failed}
        outcome.unchanged += len(refused)
        pending = [number for number in current if number not in refused]
    return outcome


def restamp(group_id: str, numbers: Sequence[str], generation: int) -> list[str]:
    """Mark existing members as current for `generation`; returns the numbers that were not members.

    A stamp never moves back: a superseded run cannot make a newer run's
    member look stale to it. Such a member is returned as well, and adding it
    again changes nothing.
    """
    missing: list[str] = []
    for chunk in _chunks(numbers, RESTAMPS_PER_TRANSACTION):
        pending = list(chunk)
        while pending:
            current = list(pending)

            def build(tx: TransactWrite, current: list[str] = current) -> None:
                for number in current:
                    tx.update(
                        GroupMember(group_id, number),
                        actions=[GroupMember.generation.set(generation)],
                        condition=GroupMember.number.exists() & (GroupMember.generation <= generation),
                    )

            failed = write_transaction(build)
            if not failed:
                break
            gone = {current[position] for position in failed}
            missing += [number for number in current if number in gone]
            pending = [number for number in current if number not in gone]
    return missing


def existing(group_id: str, numbers: Sequence[str]) -> set[str]:
    """Which of `numbers` are members, by BatchGetItem (100 keys per call)."""
    found: set[str] = set()
    for chunk in _chunks(numbers, BATCH_GET_KEYS):
        found |= {member.number for member in GroupMember.batch_get([(group_id, n) for n in chunk])}
    return found


def member_pages(
    group_id: str, page_size: int = 100, after: str | None = None, older_than: int | None = None
) -> Iterator[list[GroupMember]]:
    """The group's members in number order, a Query page at a time; `older_than`: only those stamped before it."""
    results = GroupMember.query(
        group_id,
        range_key_condition=GroupMember.number > after if after else None,
        filter_condition=GroupMember.generation < older_than if older_than is not None else None,
        page_size=page_size,
    )
    page: list[GroupMember] = []
    for member in results:
        page.append(member)
        if len(page) == page_size:
            yield page
            page = []
    if page:
        yield page


def group_ids_of(number: str) -> list[str]:
    """The ids of the groups `number` belongs to: one Query on the by_number index."""
    return [member.group_id for member in GroupMember.by_number.query(number)]


def forget_number(number: str) -> None:
    """Remove a deleted contact from every group it was in, keeping each group's count exact."""
    for group_id in group_ids_of(number):
        try:
            remove(group_id, [number])
        except NotFound:
            GroupMember(group_id, number).delete()


def contacts_for(numbers: Iterable[str]) -> dict[str, Contact]:
    """Contacts by number, read with BatchGetItem (100 keys per call)."""
    found: dict[str, Contact] = {}
    for chunk in _chunks(list(numbers), BATCH_GET_KEYS):
        found.update({contact.number: contact for contact in Contact.batch_get(chunk)})
    return found


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
