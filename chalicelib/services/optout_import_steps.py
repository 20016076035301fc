"""Writing an opt-out list's steps: each step is one transaction, so a redelivered step changes nothing twice.

Each opt-out is four items (store, history, mark, contact view) that must land
together, and the transaction also holds the epoch counters they move, the
step's rejected rows and the job moved on to the step's end, conditioned on
the offset it started from (see services/import_steps.py).
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pynamodb.transactions import TransactWrite

from chalicelib.models import ImportJob, OptOut
from chalicelib.models.imports import packed
from chalicelib.models.writes import ATTEMPTS, Writer, backoff, write_transaction
from chalicelib.services import optouts
from chalicelib.services.import_steps import Step, job_actions, job_at


@dataclass
class OptOutPlan:
    counts: dict[str, int]
    writers: list[Writer] = field(default_factory=list)
    numbers: list[str] = field(default_factory=list)
    """The numbers opted out: their epoch counters move in the same transaction."""
    held: list[str] = field(default_factory=list)
    """Numbers the step before was writing when this one was planned: planned when this step is written."""


def plan_optouts(job: ImportJob, step: Step, held: Set[str]) -> OptOutPlan:
    """Plan the step, but for the numbers `held`: the step before is still writing them (see `write_optouts`)."""
    now, later = step.apart(held)
    plan = OptOutPlan(step.counts(), held=later)
    _plan_optout_numbers(job, plan, now)
    return plan


def _plan_optout_numbers(job: ImportJob, plan: OptOutPlan, numbers: list[str]) -> None:
    """Opt out each number not opted out yet; one this file already opted out is a duplicate."""
    scope = optouts.Scope(job.campaign_id)
    keys = [(number, scope.key) for number in numbers]
    existing = {record.number: record for record in OptOut.batch_get(keys, consistent_read=True)} if keys else {}
    reason = optout_reason(job)
    now = datetime.now(UTC)
    for number in numbers:
        record = existing.get(number)
        if record is None:
            plan.counts["created"] += 1
            actor = job.created_by or "import"
            plan.writers.append(optouts.opt_out_writes(number, scope, "import", actor, reason, now))
            plan.numbers.append(number)
        elif record.reason == reason:
            plan.counts["duplicates"] += 1
        else:
            plan.counts["unchanged"] += 1


def write_optouts(job: ImportJob, step: Step, plan: OptOutPlan) -> bool:
    """One transaction: the opt-outs, the rejected rows and the job moved on; replanned if a number changed.

    The step before has landed by now, so the numbers the plan held back are planned here.
    """
    _plan_optout_numbers(job, plan, plan.held)
    for attempt in range(ATTEMPTS):
        if not write_transaction(_optout_transaction(job.id, step, plan)):
            job.offset, job.line = step.end_offset, step.next_line
            return True
        current = ImportJob.get(job.id, consistent_read=True)
        if int(current.offset) != step.start_offset or current.status != "running":
            return False
        backoff(attempt)
        plan = plan_optouts(job, step, set())
    raise RuntimeError(f"import {job.id}: opt-outs kept changing under the step at offset {step.start_offset}")


def optout_reason(job: ImportJob) -> str:
    return f"imported from {job.name} ({job.id})"


def _optout_transaction(job_id: str, step: Step, plan: OptOutPlan) -> Writer:
    def write(tx: TransactWrite) -> None:
        for writer in plan.writers:
            writer(tx)
        optouts.epoch_writes(plan.numbers)(tx)
        for rejection in packed(job_id, step.rejections):
            tx.save(rejection)
        tx.update(ImportJob(job_id), actions=job_actions(step, plan.counts), condition=job_at(step))

    return write
