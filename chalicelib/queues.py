"""Messages the app sends itself through its queues (a paused import resuming, later exports and sends)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from chalicelib.aws_clients import LazyClient
from chalicelib.config import resource_name

_sqs = LazyClient("sqs")


SQS_BATCH = 10
MAX_DELAY_SECONDS = 900
"""The longest delay SQS allows on one message; later work is re-queued until it is due."""


def enqueue(queue_env: str, message: dict[str, Any], delay_seconds: int = 0) -> None:
    """Send `message` as JSON to the queue whose URL the stage sets in `queue_env`."""
    _sqs.get().send_message(
        QueueUrl=resource_name(queue_env),
        MessageBody=json.dumps(message),
        DelaySeconds=max(0, min(delay_seconds, MAX_DELAY_SECONDS)),
    )


def enqueue_all(queue_env: str, messages: Sequence[dict[str, Any]]) -> None:
    """Send many messages, ten per request; a message SQS did not take fails the call, so the caller's retry resends."""
    url = resource_name(queue_env)
    for start in range(0, len(messages), SQS_BATCH):
        entries = [
            {"Id": str(i), "MessageBody": json.dumps(message)}
            for i, message in enumerate(messages[start : start + SQS_BATCH])
        ]
        failed = _sqs.get().send_message_batch(QueueUrl=url, Entries=entries).get("Failed", [])
        if failed:
            raise RuntimeError(f"SQS refused {len(failed)} of {len(entries)} messages: {failed[0].get('Message')}")
