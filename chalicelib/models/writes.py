"""Conditional writes and transactions: how a write that lost a race is recognised.

Every rule that must hold under concurrency is a condition on a write, so
"the condition failed" is an answer the services act on, not an error.
"""

from __future__ import annotations

import functools
import random
import time
import uuid
from collections.abc import Callable

from pynamodb.connection import Connection
from pynamodb.exceptions import PynamoDBException, TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.config import aws_region


def condition_failed(error: PynamoDBException) -> bool:
    """True when a single-item write was refused by its condition (nothing was written)."""
    return error.cause_response_code == "ConditionalCheckFailedException"


Writer = Callable[[TransactWrite], None]
"""Adds its writes to a transaction: builders compose, so several changes can commit as one."""

ATTEMPTS = 8


def backoff(attempt: int, base_seconds: float = 0.01) -> None:
    """Full-jitter exponential pause before retrying a write that lost a race."""
    time.sleep(random.uniform(0, base_seconds * 2**attempt))


def write_transaction(build: Writer) -> list[int]:
    """Run the transaction `build` describes; the positions whose condition failed (empty: written).

    DynamoDB cancels a transaction outright when another one holds one of its
    items (TransactionConflict): nothing was written, so it is retried here,
    for every caller, rather than surfacing as an error under load. Each
    attempt carries a client request token, so botocore's own retry of an
    attempt whose answer was lost (a timeout, a 500) cannot apply it twice or
    report its own success as a failed condition.
    """
    for attempt in range(ATTEMPTS):
        try:
            token = uuid.uuid4().hex
            with TransactWrite(connection=connection(aws_region()), client_request_token=token) as tx:
                build(tx)
        except TransactWriteError as error:
            failed = failed_conditions(error)
            if failed:
                return failed
            if not conflicted(error) or attempt == ATTEMPTS - 1:
                raise
            backoff(attempt, 0.02)
        else:
            return []
    raise AssertionError("unreachable")


@functools.cache
def connection(region: str) -> Connection:
    """One connection per region for the process: each new one builds a botocore client (~0.5 s of loading)."""
    return Connection(region=region)


def failed_conditions(error: TransactWriteError) -> list[int]:
    """Positions of the items whose condition failed: PynamoDB sends checks, deletes, puts, then updates."""
    reasons = error.cancellation_reasons or []
    return [i for i, reason in enumerate(reasons) if reason is not None and reason.code == "ConditionalCheckFailed"]


def conflicted(error: TransactWriteError) -> bool:
    """True when another transaction held one of the items: nothing was written and the same write may be retried."""
    reasons = error.cancellation_reasons or []
    return any(reason is not None and reason.code == "TransactionConflict" for reason in reasons)
