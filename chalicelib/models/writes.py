"""Conditional writes and transactions: how a write that lost a race is recognised.

Every rule that must hold under concurrency is a condition on a write, so
"the condition failed" is an answer the services act on, not an error.
"""

from __future__ import annotations

from pynamodb.connection import Connection
from pynamodb.exceptions import PynamoDBException, TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.config import aws_region


def condition_failed(error: PynamoDBException) -> bool:
    """True when a single-item write was refused by its condition (nothing was written)."""
    return error.cause_response_code == "ConditionalCheckFailedException"


def transaction() -> TransactWrite:
    return TransactWrite(connection=Connection(region=aws_region()))


def failed_conditions(error: TransactWriteError) -> list[int]:
    """Positions of the items whose condition failed: PynamoDB sends checks, deletes, puts, then updates."""
    reasons = error.cancellation_reasons or []
    return [i for i, reason in enumerate(reasons) if reason is not None and reason.code == "ConditionalCheckFailed"]


def conflicted(error: TransactWriteError) -> bool:
    """True when another transaction held one of the items: nothing was written and the same write may be retried."""
    reasons = error.cancellation_reasons or []
    return any(reason is not None and reason.code == "TransactionConflict" for reason in reasons)
