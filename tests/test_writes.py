"""Transactions that lose to another transaction are retried; condition failures are answers."""

import pytest
from pynamodb.connection import Connection
from pynamodb.exceptions import CancellationReason, TransactWriteError, VerboseClientError

from chalicelib.models import OpenConversation
from chalicelib.models.writes import ATTEMPTS, write_transaction


def cancelled(*codes):
    cause = VerboseClientError(
        {"Error": {"Code": "TransactionCanceledException", "Message": "cancelled"}},
        "TransactWriteItems",
        cancellation_reasons=[CancellationReason(code) if code else None for code in codes],
    )
    return TransactWriteError("Failed to write transaction items", cause)


@pytest.fixture
def conflicts_first(monkeypatch):
    """The first `n` commits are cancelled by a concurrent transaction, as DynamoDB does under load."""
    original = Connection.transact_write_items
    state = {"left": 0, "calls": 0}

    def flaky(self, *args, **kwargs):
        state["calls"] += 1
        if state["left"] > 0:
            state["left"] -= 1
            raise cancelled("TransactionConflict", None)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Connection, "transact_write_items", flaky)
    return state


def _open(tx, pair="a|b"):
    tx.save(OpenConversation(pair, conversation_id="c1"), condition=OpenConversation.pair.does_not_exist())


def test_a_conflicting_transaction_is_retried_until_it_commits(dynamodb, conflicts_first):
    conflicts_first["left"] = 3
    assert write_transaction(_open) == []
    assert conflicts_first["calls"] == 4
    assert OpenConversation.get("a|b").conversation_id == "c1"


def test_a_failed_condition_is_returned_not_retried(dynamodb, conflicts_first):
    assert write_transaction(_open) == []
    assert write_transaction(_open) == [0]
    assert conflicts_first["calls"] == 2


def test_conflicts_that_never_clear_are_raised(dynamodb, conflicts_first):
    conflicts_first["left"] = ATTEMPTS
    with pytest.raises(TransactWriteError):
        write_transaction(_open)
    assert conflicts_first["calls"] == ATTEMPTS
