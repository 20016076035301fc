"""The imports queue: S3 announces each file dropped under imports/, and paused imports resume from here.

Records are processed with Powertools' batch utility, so one bad record is
retried alone (partial batch response) instead of failing the whole batch.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from chalice import Blueprint
from chalice.app import SQSEvent

from chalicelib.observability import logger
from chalicelib.queues import enqueue
from chalicelib.services import import_jobs, imports

blueprint = Blueprint(__name__)
QUEUE_ENV = "IMPORTS_QUEUE_URL"


@blueprint.on_sqs_message(queue="imports", batch_size=1)
def import_files(event: SQSEvent) -> dict[str, Any]:
    context = event.context

    def handle(record: SQSRecord) -> None:
        for job_id in _job_ids(json.loads(record.body)):
            if imports.run(job_id, imports.Budget.from_lambda(context)) == "paused":
                enqueue(QUEUE_ENV, {"import_job": job_id})

    return process_partial_response(
        event=event.to_dict(), record_handler=handle, processor=BatchProcessor(EventType.SQS), context=context
    )


def _job_ids(body: dict[str, Any]) -> list[str]:
    """The jobs a message is about: a resume names one; an S3 notification names objects to find jobs for."""
    if "import_job" in body:
        return [body["import_job"]]
    ids = []
    for record in body.get("Records", []):
        s3_object = record["s3"]["object"]
        key = unquote_plus(s3_object["key"])
        job = import_jobs.job_for_object(key, s3_object.get("eTag", ""), s3_object.get("sequencer", ""))
        if job is None:
            logger.info("not an import file; ignored", extra={"key": key})
            continue
        ids.append(job.id)
    return ids
