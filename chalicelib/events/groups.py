"""The groups queue: background work on contact groups (materializing, bulk membership changes, merges, deletes).

A job that runs low on Lambda time is continued by a message to this same
queue, carrying the cursor where it stopped.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from chalice import Blueprint
from chalice.app import SQSEvent

from chalicelib.budget import Budget
from chalicelib.queues import enqueue
from chalicelib.services import group_jobs as jobs

blueprint = Blueprint(__name__)


@blueprint.on_sqs_message(queue="groups", batch_size=1)
def group_jobs(event: SQSEvent) -> dict[str, Any]:
    context = event.context

    def handle(record: SQSRecord) -> None:
        following = jobs.run_job(json.loads(record.body), Budget.from_lambda(context))
        if following is not None:
            enqueue(jobs.QUEUE_ENV, following)

    return process_partial_response(
        event=event.to_dict(), record_handler=handle, processor=BatchProcessor(EventType.SQS), context=context
    )
