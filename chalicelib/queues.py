"""Messages the app sends itself through its queues (a paused import resuming, later exports and sends)."""

from __future__ import annotations

import json
from typing import Any

from chalicelib.aws_clients import LazyClient
from chalicelib.config import resource_name

_sqs = LazyClient("sqs")


def enqueue(queue_env: str, message: dict[str, Any]) -> None:
    """Send `message` as JSON to the queue whose URL the stage sets in `queue_env`."""
    _sqs.get().send_message(QueueUrl=resource_name(queue_env), MessageBody=json.dumps(message))
