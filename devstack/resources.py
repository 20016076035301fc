"""The AWS resources `infra/` owns in the cloud, created locally: tables, bucket, queues, topics.

Every step is "create if absent", so a second run (or a reused moto server)
finds what the first one made and changes nothing.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from devstack.children import StackError

IMPORTS_PREFIX = "imports/"
_NOTIFICATION_ID = "imports-to-imports-queue"
_OBJECT_CREATED = ["s3:ObjectCreated:*"]
MAX_RECEIVE_COUNT = 5
"""Deliveries before SQS moves a message to its dead-letter queue (what infra configures too)."""


@dataclass(frozen=True)
class ResourceNames:
    """The logical names event handlers use in their decorators (`infra/` maps them to real ARNs)."""

    bucket: str = "sms-engagement-local"
    imports_queue: str = "imports"
    exports_queue: str = "exports"
    send_queue: str = "send"
    groups_queue: str = "groups"
    inbound_sms_topic: str = "inbound-sms"
    delivery_events_topic: str = "delivery-events"


@dataclass(frozen=True)
class LocalResources:
    """What was created, in the form the app and the developer's shell need it."""

    names: ResourceNames
    imports_queue_url: str
    imports_dlq_url: str
    exports_queue_url: str
    exports_dlq_url: str
    send_queue_url: str
    groups_queue_url: str
    inbound_sms_topic_arn: str
    delivery_events_topic_arn: str

    def environment(self) -> dict[str, str]:
        return {
            "BUCKET": self.names.bucket,
            "IMPORTS_QUEUE_URL": self.imports_queue_url,
            "IMPORTS_DLQ_URL": self.imports_dlq_url,
            "EXPORTS_QUEUE_URL": self.exports_queue_url,
            "EXPORTS_DLQ_URL": self.exports_dlq_url,
            "SEND_QUEUE_URL": self.send_queue_url,
            "GROUPS_QUEUE_URL": self.groups_queue_url,
            "INBOUND_SMS_TOPIC_ARN": self.inbound_sms_topic_arn,
            "DELIVERY_EVENTS_TOPIC_ARN": self.delivery_events_topic_arn,
        }


def ensure_tables() -> list[str]:
    """Create the app's tables from its models (the env must already point at DynamoDB Local)."""
    from chalicelib.models.tables import SchemaOutdated, create_tables

    try:
        return create_tables()
    except SchemaOutdated as outdated:
        raise StackError(str(outdated)) from None


def ensure_resources(s3: Any, sqs: Any, sns: Any, names: ResourceNames | None = None) -> LocalResources:
    """Create the bucket, queues (each with a DLQ), topics and the bucket's imports/ notification."""
    names = names or ResourceNames()
    ensure_bucket(s3, names.bucket)
    imports_url, imports_dlq_url = ensure_queue_with_dlq(sqs, names.imports_queue)
    exports_url, exports_dlq_url = ensure_queue_with_dlq(sqs, names.exports_queue)
    send_url, _ = ensure_queue_with_dlq(sqs, names.send_queue)
    groups_url, _ = ensure_queue_with_dlq(sqs, names.groups_queue)
    ensure_imports_notification(s3, names.bucket, queue_arn(sqs, imports_url))
    return LocalResources(
        names=names,
        imports_queue_url=imports_url,
        imports_dlq_url=imports_dlq_url,
        exports_queue_url=exports_url,
        exports_dlq_url=exports_dlq_url,
        send_queue_url=send_url,
        groups_queue_url=groups_url,
        inbound_sms_topic_arn=sns.create_topic(Name=names.inbound_sms_topic)["TopicArn"],
        delivery_events_topic_arn=sns.create_topic(Name=names.delivery_events_topic)["TopicArn"],
    )


def ensure_bucket(s3: Any, name: str) -> None:
    try:
        s3.head_bucket(Bucket=name)
    except s3.exceptions.ClientError:
        s3.create_bucket(Bucket=name)  # us-east-1 takes no LocationConstraint


def ensure_queue_with_dlq(sqs: Any, name: str) -> tuple[str, str]:
    """Create `name` and `name-dlq`, and point the queue's redrive policy at the DLQ."""
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    redrive = json.dumps({"deadLetterTargetArn": queue_arn(sqs, dlq_url), "maxReceiveCount": str(MAX_RECEIVE_COUNT)})
    try:
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except sqs.exceptions.QueueDoesNotExist:
        return sqs.create_queue(QueueName=name, Attributes={"RedrivePolicy": redrive})["QueueUrl"], dlq_url
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": redrive})
    return url, dlq_url


def queue_arn(sqs: Any, queue_url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def ensure_imports_notification(s3: Any, bucket: str, imports_queue_arn: str) -> bool:
    """Send ObjectCreated under imports/ to the imports queue; True when the configuration changed."""
    return ensure_queue_notification(
        s3,
        bucket,
        {
            "Id": _NOTIFICATION_ID,
            "QueueArn": imports_queue_arn,
            "Events": _OBJECT_CREATED,
            "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": IMPORTS_PREFIX}]}},
        },
    )


def ensure_queue_notification(s3: Any, bucket: str, wanted: dict[str, Any]) -> bool:
    """Add (or replace, by `Id`) one queue notification, keeping the bucket's others.

    The configuration is only written when it differs, because S3 (and moto)
    sends an `s3:TestEvent` message to every configured queue on each write.
    """
    current = s3.get_bucket_notification_configuration(Bucket=bucket)
    queues = current.get("QueueConfigurations", [])
    if any(_same_notification(existing, wanted) for existing in queues):
        return False
    others = [existing for existing in queues if existing.get("Id") != wanted["Id"]]
    configuration = {
        key: current[key] for key in ("TopicConfigurations", "LambdaFunctionConfigurations") if current.get(key)
    }
    configuration["QueueConfigurations"] = [*others, wanted]
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=configuration)
    return True


def _same_notification(existing: dict[str, Any], wanted: dict[str, Any]) -> bool:
    def rules(config: dict[str, Any]) -> list[tuple[str, str]]:
        found = config.get("Filter", {}).get("Key", {}).get("FilterRules", [])
        return sorted((rule["Name"].lower(), rule["Value"]) for rule in found)

    return (
        existing.get("QueueArn") == wanted["QueueArn"]
        and sorted(existing.get("Events", [])) == sorted(wanted["Events"])
        and rules(existing) == rules(wanted)
    )


def verify_imports_notification(s3: Any, sqs: Any, bucket: str, queue_url: str, timeout: float = 10.0) -> None:
    """Put a probe object under imports/ and wait for its event on the imports queue.

    It runs before the worker starts, so the probe's message (and any
    `s3:TestEvent`) is consumed here; other messages are made visible again
    for the worker.
    """
    key = f"{IMPORTS_PREFIX}.devstack-probe/{uuid.uuid4()}"
    s3.put_object(Bucket=bucket, Key=key, Body=b"probe")
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            response = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            found = False
            for message in response.get("Messages", []):
                kind = _s3_message_kind(message["Body"], key)
                if kind in ("probe", "test"):
                    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                    found = found or kind == "probe"
                else:
                    sqs.change_message_visibility(
                        QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                    )
            if found:
                return
    finally:
        s3.delete_object(Bucket=bucket, Key=key)
    raise RuntimeError(f"an object put under s3://{bucket}/{IMPORTS_PREFIX} produced no message on {queue_url}")


def _s3_message_kind(body: str, probe_key: str) -> str:
    try:
        event = json.loads(body)
    except ValueError:
        return "other"
    if event.get("Event") == "s3:TestEvent":
        return "test"
    records = event.get("Records") or [{}]
    # Keys arrive URL-encoded: "+" for spaces in AWS, and moto encodes "/" as well.
    key = unquote_plus(records[0].get("s3", {}).get("object", {}).get("key", ""))
    return "probe" if key == probe_key else "other"
