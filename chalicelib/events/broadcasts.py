"""The send queue: a broadcast's resolution steps and send batches, one message per invocation.

One message at a time because a send batch is paced to the business number's
rate and may take most of the function's time; the budget below leaves room
to queue the rest of a batch before Lambda stops the function.
"""

from __future__ import annotations

import json
import time
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from chalice import Blueprint
from chalice.app import SQSEvent

from chalicelib.services import broadcast_fanout

blueprint = Blueprint(__name__)
MARGIN_SECONDS = 30.0
MARGIN_SHARE = 0.25
"""A short-lived function (a test's, a local run's) keeps a quarter of its time in reserve instead of 30 s."""
DEFAULT_BUDGET_SECONDS = 240.0
"""When there is no Lambda context to ask (local runs), the budget of a five-minute function."""


@blueprint.on_sqs_message(queue="send", batch_size=1)
def send_broadcasts(event: SQSEvent) -> dict[str, Any]:
    context = event.context
    budget = DEFAULT_BUDGET_SECONDS
    if context is not None:
        remaining = context.get_remaining_time_in_millis() / 1000
        budget = remaining - min(MARGIN_SECONDS, remaining * MARGIN_SHARE)
    deadline = time.monotonic() + budget

    def handle(record: SQSRecord) -> None:
        broadcast_fanout.handle(json.loads(record.body), lambda: deadline - time.monotonic())

    return process_partial_response(
        event=event.to_dict(), record_handler=handle, processor=BatchProcessor(EventType.SQS), context=context
    )
