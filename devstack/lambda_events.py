"""Lambda-shaped events and context, built from what the local queues deliver.

The local worker hands Chalice handlers exactly the dicts Lambda would (the
documented SQS, SNS and S3 event formats), so a handler cannot tell the
difference and nothing in `chalicelib/` needs a local code path.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

ACCOUNT_ID = "123456789012"
"""moto's default account: the account in every local ARN."""


@dataclass
class LocalLambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    function_name: str
    timeout_seconds: float = 60
    memory_limit_in_mb: int = 128
    region: str = "us-east-1"
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    identity: Any = None
    client_context: Any = None
    _deadline: float = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"{time.strftime('%Y/%m/%d')}/[$LATEST]local"

    def get_remaining_time_in_millis(self) -> int:
        """Counts down from the configured timeout, so checkpointing code behaves as in Lambda."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))


# --- SQS ---------------------------------------------------------------------------------------


def sqs_event(messages: Iterable[Mapping[str, Any]], queue_arn: str, region: str = "us-east-1") -> dict[str, Any]:
    """The event an SQS event source mapping delivers for one batch of received messages."""
    return {"Records": [sqs_record(message, queue_arn, region) for message in messages]}


def sqs_record(message: Mapping[str, Any], queue_arn: str, region: str = "us-east-1") -> dict[str, Any]:
    """One record: ReceiveMessage's PascalCase fields in Lambda's camelCase form."""
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {
            name: _sqs_message_attribute(value) for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody"),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def _sqs_message_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    converted: dict[str, Any] = {
        "dataType": value["DataType"],
        "stringListValues": list(value.get("StringListValues", [])),
        "binaryListValues": [_b64(item) for item in value.get("BinaryListValues", [])],
    }
    if "StringValue" in value:
        converted["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        converted["binaryValue"] = _b64(value["BinaryValue"])
    return converted


def _b64(data: bytes | str) -> str:
    return data if isinstance(data, str) else base64.b64encode(data).decode()


def failed_message_ids(result: Any, batch_ids: Iterable[str]) -> set[str]:
    """Which messages of a batch failed, reading a handler's return value as Lambda does.

    With ReportBatchItemFailures, a `{"batchItemFailures": [{"itemIdentifier": id}]}`
    response fails only those messages; no response, or an empty list, is a
    complete success; an identifier that is missing, empty or not in the batch
    fails the whole batch.
    """
    batch = set(batch_ids)
    if not isinstance(result, Mapping) or result.get("batchItemFailures") is None:
        return set()
    failures = result["batchItemFailures"]
    if not isinstance(failures, list):
        return batch
    failed = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, Mapping) else None
        if not identifier or identifier not in batch:
            return batch
        failed.add(identifier)
    return failed


# --- SNS ---------------------------------------------------------------------------------------


def sns_event(envelope: Mapping[str, Any], subscription_arn: str) -> dict[str, Any]:
    """The event SNS invokes a subscribed function with: one record per notification.

    `envelope` is the JSON an SQS queue subscribed with RawMessageDelivery=false
    receives; Lambda's record carries the same fields, two of them spelled
    differently (`SigningCertUrl`, `UnsubscribeUrl`).
    """
    return {
        "Records": [
            {
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription_arn,
                "EventSource": "aws:sns",
                "Sns": {
                    "Type": envelope.get("Type", "Notification"),
                    "MessageId": envelope["MessageId"],
                    "TopicArn": envelope["TopicArn"],
                    "Subject": envelope.get("Subject"),
                    "Message": envelope["Message"],
                    "Timestamp": envelope.get("Timestamp"),
                    "SignatureVersion": envelope.get("SignatureVersion", "1"),
                    "Signature": envelope.get("Signature", "EXAMPLE"),
                    "SigningCertUrl": envelope.get("SigningCertURL", envelope.get("SigningCertUrl", "")),
                    "UnsubscribeUrl": envelope.get("UnsubscribeURL", envelope.get("UnsubscribeUrl", "")),
                    "MessageAttributes": dict(envelope.get("MessageAttributes") or {}),
                },
            }
        ]
    }


# --- S3 ----------------------------------------------------------------------------------------


def s3_events(notification_body: str) -> list[dict[str, Any]]:
    """The S3 events a bucket notification message stands for, one per record as S3 invokes Lambda.

    The `s3:TestEvent` that S3 sends when a notification is configured yields none.
    """
    notification = json.loads(notification_body)
    if notification.get("Event") == "s3:TestEvent":
        return []
    return [{"Records": [record]} for record in notification.get("Records", [])]
