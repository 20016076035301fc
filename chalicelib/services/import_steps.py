"""Writing an import's file in steps, each exactly once, whatever crashes or redeliveries happen in between.

A step is the rows between two byte offsets, reduced to one change per
number, plus the rows it rejected. It is planned from a consistent read of
the records its numbers have, written, and then the job is moved on to the
step's end (its offset and counts, conditioned on the offset the step started
from). A run that stops anywhere resumes at the job's offset: the step it
repeats finds what it had already written stamped with the job and the step,
takes the outcome from the stamp and writes the rest, so the result is the
same as one uninterrupted run.

Contacts are written the way the bulk of a file is: new contacts with
BatchWriteItem (25 a request, unprocessed items retried with backoff),
contacts that exist with TransactWriteItems conditioned on the version read,
so an edit or an opt-out landing meanwhile is never overwritten. A new
contact's write carries no condition, so it could replace a contact that
someone created between the read and the write; the only such write that
matters is an opt-out's view of the contact. Every opt-out change moves one
of ten epoch counters (`OptOutMark`), read before the step is planned and
again after it is written: where one moved, the marks of the step's new
contacts in that shard are read and a marked contact's view is restored from
the opt-out store. A step no opt-out raced costs two small reads.

Opt-out lists are written by services/optout_import_steps.py, with the same
steps and the same move of the job.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence, Set
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pynamodb.exceptions import UpdateError
from pynamodb.transactions import TransactWrite

from chalicelib.bulk.contact_rows import ContactRow, RowRejected
from chalicelib.bulk.csv_stream import Row, UnreadableFile
from chalicelib.errors import Conflict
from chalicelib.models import Contact, ImportJob, ImportRejection
from chalicelib.models.batch_writes import Call, put_requests, send_puts
from chalicelib.models.imports import COUNTS, RejectedRow, packed
from chalicelib.models.optouts import EPOCH_SHARDS, epoch_key
from chalicelib.models.writes import ATTEMPTS, Writer, backoff, condition_failed, write_transaction
from chalicelib.services import group_members, groups, optouts


class ImportFailed(Exception):
    """The file cannot be imported (unreadable, no number column, a group it cannot join); the job records why."""


TRANSACTION_ITEMS = 100
"""DynamoDB's limit for one TransactWriteItems."""
CONTACT_STEP_NUMBERS = 5000
"""Numbers per contact step: each step reads the opt-out epochs twice, moves the job on and writes the contacts
that exist in a transaction or so, which at 1,000 numbers a step was 9% of the engine's time on DynamoDB Local."""
QUEUED_NUMBERS = 1000
"""Numbers read and queued with the writer process at a time while a step is planned, so that it starts writing
a step's first contacts while the rest are read: a run's first step would otherwise keep it idle for a whole plan."""
OPTOUT_STEP_ITEMS = TRANSACTION_ITEMS - 1 - EPOCH_SHARDS
"""An opt-out step is one transaction: its opt-outs, their epoch counters, its rejected rows (an item a row at
most: they are packed) and the job's update."""
OPTOUT_WEIGHT = 4
"""Items per opt-out: store, history, mark and the contact's view (its epoch counter is shared)."""

RowParser = Callable[[list[str]], tuple[str, ContactRow | None]]
"""A row's cells -> its number and, for contacts, the changes it asks for (raises RowRejected)."""


@dataclass
class Step:
    """The rows between two offsets, reduced to one change per number, plus the rejected rows."""

    start_offset: int
    end_offset: int = 0
    next_line: int = 0
    rows: int = 0
    duplicates: int = 0
    changes: dict[str, ContactRow | None] = field(default_factory=dict)
    rejections: list[RejectedRow] = field(default_factory=list)

    def apart(self, held: Set[str]) -> tuple[list[str], list[str]]:
        """The step's numbers to plan now and those `held` back, each in file order."""
        return [n for n in self.changes if n not in held], [n for n in self.changes if n in held]

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(COUNTS, 0)
        counts.update(rows=self.rows, rejected=len(self.rejections), duplicates=self.duplicates)
        return counts


def steps(job: ImportJob, rows: Iterator[Row], parse: RowParser) -> Iterator[Step]:
    """The file's steps from the job's offset; a file that turns unreadable part-way still gets the rows before it.

    Where a step ends depends only on the rows from where it starts, so a run
    resuming at a step's start cuts the same steps as the run before it.
    """
    failure: list[UnreadableFile] = []

    def readable() -> Iterator[Row]:
        try:
            yield from rows
        except UnreadableFile as error:
            failure.append(error)

    full = _contact_step_full if job.kind == "contacts" else _optout_step_full
    step = Step(int(job.offset))
    for row in readable():
        step.rows += 1
        step.end_offset, step.next_line = row.end_offset, row.next_line
        try:
            number, changes = parse(row.cells)
        except RowRejected as rejected:
            step.rejections.append(RejectedRow(line=row.line, cells=row.cells, reason=rejected.reason))
        else:
            if number not in step.changes:
                step.changes[number] = changes
            else:
                earlier = step.changes[number]
                if earlier is not None and changes is not None:
                    earlier.merge(changes)
                step.duplicates += 1
        if full(step):
            yield step
            step = Step(step.end_offset)
    if step.rows:
        yield step
    if failure:
        raise failure[0]


def _contact_step_full(step: Step) -> bool:
    return len(step.changes) + len(step.rejections) >= CONTACT_STEP_NUMBERS


def _optout_step_full(step: Step) -> bool:
    return OPTOUT_WEIGHT * (len(step.changes) + 1) + len(step.rejections) > OPTOUT_STEP_ITEMS


# --- contacts


@dataclass(frozen=True)
class Stamp:
    """What an import did to a contact: which job, in which step, with which outcome."""

    job_id: str
    offset: int
    outcome: str

    def __str__(self) -> str:
        return f"{self.job_id}#{self.offset}#{self.outcome}"

    @classmethod
    def of(cls, contact: Contact | None) -> Stamp | None:
        if contact is None or not contact.import_stamp:
            return None
        job_id, offset, outcome = contact.import_stamp.split("#")
        return cls(job_id, int(offset), outcome)


@dataclass
class ContactPlan:
    counts: dict[str, int]
    epochs: dict[str, int]
    """The opt-out epoch counters as they were before the step's contacts were read."""
    sent: list[Call] = field(default_factory=list)
    """The contacts that did not exist and the rejected rows, queued with the writer process: no condition."""
    created: list[str] = field(default_factory=list)
    """The numbers of the contacts that did not exist: checked against the epochs after the write."""
    changed: list[Contact] = field(default_factory=list)
    """Contacts that exist: written in transactions conditioned on the version read."""
    recreated: list[str] = field(default_factory=list)
    """Contacts this step had created in a run that stopped: their opt-out marks may not have been checked."""
    memberships: dict[str, list[str]] = field(default_factory=dict)
    """Group name -> the step's numbers whose rows put them in it (adding a member twice adds it once)."""
    groups: dict[str, str] = field(default_factory=dict)
    """Group name -> its id, resolved (created if new) before the step's items are queued: a bad name fails first."""
    held: list[str] = field(default_factory=list)
    """Numbers the step before was writing when this one was planned: planned when this step is written."""


def plan_contacts(job: ImportJob, step: Step, held: Set[str]) -> ContactPlan:
    """Plan the step, but for the numbers `held`: the step before is still writing them (see `write_contacts`).

    The new contacts and the rejected rows are queued with the writer process
    here, behind the step before's: they are other items than any that step
    writes, so the writer process goes on to them while that step is
    finished off (opt-out checks, the job moved on) instead of waiting idle.
    """
    now, later = step.apart(held)
    plan = ContactPlan(step.counts(), optouts.epochs(), held=later)
    _plan_numbers(job, step, plan, now, packed(job.id, step.rejections))
    return plan


def _plan_numbers(
    job: ImportJob, step: Step, plan: ContactPlan, numbers: list[str], rejections: Sequence[ImportRejection] = ()
) -> None:
    """Plan `numbers` a slice at a time, each slice's new contacts queued as soon as it is planned.

    A slice's groups are resolved before its items are queued, so a group that
    fails the job fails it before any contact in it is written.
    """
    queued: list[ImportRejection | Contact] = list(rejections)
    for start in range(0, len(numbers), QUEUED_NUMBERS):
        queued += _plan_slice(job, step, plan, numbers[start : start + QUEUED_NUMBERS])
        for name in plan.memberships.keys() - plan.groups.keys():
            plan.groups[name] = _static_group(name)
        _queue(plan, queued)
        queued = []
    _queue(plan, queued)


def _queue(plan: ContactPlan, items: Sequence[ImportRejection | Contact]) -> None:
    if items:
        plan.sent.append(send_puts(put_requests(items)))


def _plan_slice(job: ImportJob, step: Step, plan: ContactPlan, numbers: list[str]) -> list[Contact]:
    """Plan `numbers` from one read: the contacts that exist go to `plan.changed`; the new ones are returned."""
    existing = _read_contacts(numbers)
    created: list[Contact] = []
    now = datetime.now(UTC)
    for number in numbers:
        changes = step.changes[number]
        assert changes is not None
        for name in changes.groups:
            plan.memberships.setdefault(name, []).append(number)
        contact = existing.get(number)
        stamp = Stamp.of(contact)
        if stamp is not None and (stamp.job_id, stamp.offset) == (job.id, step.start_offset):
            plan.counts[stamp.outcome] += 1  # written by this very step in a run that stopped before the job moved on
            if stamp.outcome == "created":
                plan.recreated.append(number)
            continue
        contact, outcome = _apply(contact, number, changes, job.id, now)
        contact.import_stamp = str(Stamp(job.id, step.start_offset, outcome))
        plan.counts[outcome] += 1
        (created if outcome == "created" else plan.changed).append(contact)
    for contact in created:
        contact.version = 1  # what a conditional save of a new contact would have stored
    plan.created += [contact.number for contact in created]
    return created


def write_contacts(job: ImportJob, step: Step, plan: ContactPlan) -> bool:
    """Write a planned contact step and move the job on; False when another run has taken the job over.

    Steps are written one at a time, in order, so the step before has landed
    by now: the numbers the plan held back are read and planned here, a read
    of a few numbers rather than the whole step planned after that write
    (they exist by now, so they are transactions, not new items queued behind
    the next step's). Contacts that exist are written in their transactions
    while the new ones go in batches: they are different items, and one after
    the other the transactions kept the batches waiting for 2% of an import.
    """
    _plan_numbers(job, step, plan, plan.held)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-known") as known:
        transactions = [
            known.submit(_write_changed, job, step, plan.changed[start : start + TRANSACTION_ITEMS])
            for start in range(0, len(plan.changed), TRANSACTION_ITEMS)
        ]
        for call in plan.sent:
            call.result()
        for transaction in transactions:
            transaction.result()
    for number in optouts.marked(_unchecked(plan)):
        optouts.restore_view(number)
    for name, numbers in plan.memberships.items():
        group_members.add(plan.groups[name], numbers)
    return _move_job(job, step, plan.counts)


def _unchecked(plan: ContactPlan) -> list[str]:
    """The new contacts an opt-out may have raced: in a shard whose epoch moved, or created by a run that stopped."""
    now = optouts.epochs()
    moved = {key for key in now.keys() | plan.epochs.keys() if now.get(key) != plan.epochs.get(key)}
    return [number for number in plan.created if epoch_key(number) in moved] + plan.recreated


def _static_group(name: str) -> str:
    """The id of the static group a file names, created if new; looked up each step (two reads)."""
    try:
        return groups.resolve_static_group(name)
    except Conflict as error:
        raise ImportFailed(f"group '{name}': {error.message}") from None


def _write_changed(job: ImportJob, step: Step, contacts: list[Contact]) -> None:
    """Conditioned on each version read; a contact that changed meanwhile is read and changed again."""
    for attempt in range(ATTEMPTS):
        if not write_transaction(_saving(contacts)):
            return
        backoff(attempt)
        contacts = _replanned(job, step, contacts)
    raise RuntimeError(f"import {job.id}: contacts kept changing under the step at offset {step.start_offset}")


def _saving(contacts: list[Contact]) -> Writer:
    def write(tx: TransactWrite) -> None:
        for contact in contacts:
            tx.save(contact)

    return write


def _replanned(job: ImportJob, step: Step, contacts: list[Contact]) -> list[Contact]:
    """The same changes applied to fresh reads; the step's counts stay as planned (the outcome is the row's)."""
    fresh = _read_contacts([contact.number for contact in contacts])
    now = datetime.now(UTC)
    replanned = []
    for contact in contacts:
        changes = step.changes[contact.number]
        assert changes is not None
        again, _ = _apply(fresh.get(contact.number), contact.number, changes, job.id, now)
        again.import_stamp = contact.import_stamp
        replanned.append(again)
    return replanned


def _read_contacts(numbers: list[str]) -> dict[str, Contact]:
    if not numbers:
        return {}
    return {contact.number: contact for contact in Contact.batch_get(numbers, consistent_read=True)}


def _apply(
    contact: Contact | None, number: str, changes: ContactRow, job_id: str, now: datetime
) -> tuple[Contact, str]:
    """The contact as the row leaves it, and the outcome: created, updated, unchanged or duplicates.

    Opt-out state and blocking are never touched: only the opt-out store and
    staff change those.
    """
    stamp = Stamp.of(contact)
    if contact is None:
        contact = Contact(number, created_at=now, updated_at=now)
        outcome = "created"
    elif stamp is not None and stamp.job_id == job_id:
        outcome = "duplicates"
    else:
        outcome = "updated" if _changes_anything(contact, changes) else "unchanged"
    for name, value in changes.fields.items():
        setattr(contact, name, value)
    if changes.custom:
        contact.custom = {**(contact.custom.as_dict() if contact.custom else {}), **changes.custom}
    if changes.status:
        contact.status = changes.status
    if changes.groups:
        contact.groups = set(contact.groups or ()) | changes.groups
    if outcome != "unchanged":
        contact.updated_at = now
    return contact, outcome


def _changes_anything(contact: Contact, changes: ContactRow) -> bool:
    custom = contact.custom.as_dict() if contact.custom else {}
    return (
        any(getattr(contact, name) != value for name, value in changes.fields.items())
        or any(custom.get(name) != value for name, value in changes.custom.items())
        or (changes.status is not None and changes.status != contact.status)
        or not changes.groups <= set(contact.groups or ())
    )


# --- the job


def _move_job(job: ImportJob, step: Step, counts: Mapping[str, int]) -> bool:
    try:
        ImportJob(job.id).update(actions=job_actions(step, counts), condition=job_at(step))
    except UpdateError as error:
        if condition_failed(error):
            return False
        raise
    job.offset, job.line = step.end_offset, step.next_line
    return True


def job_actions(step: Step, counts: Mapping[str, int]) -> list[object]:
    return [
        ImportJob.offset.set(step.end_offset),
        ImportJob.line.set(step.next_line),
        *(getattr(ImportJob, name).add(value) for name, value in counts.items() if value),
    ]


def job_at(step: Step) -> object:
    return (ImportJob.offset == step.start_offset) & (ImportJob.status == "running")
