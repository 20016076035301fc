"""The exports queue: each message names an export job to write."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from chalice import Blueprint
from chalice.app import SQSEvent

from chalicelib.services import exports

blueprint = Blueprint(__name__)


@blueprint.on_sqs_message(queue="exports", batch_size=1)
def export_files(event: SQSEvent) -> dict[str, Any]:
    def handle(record: SQSRecord) -> None:
        exports.run(json.loads(record.body)["export_job"])

    return process_partial_response(
        event=event.to_dict(), record_handler=handle, processor=BatchProcessor(EventType.SQS), context=event.context
    )
