"""The `make run` tooling: the local event worker's dispatch, and the files the stack writes.

The worker is tested against a throwaway Chalice app with its own handlers and
a moto server started here on a free port, so these tests do not depend on
which handlers `app.py` registers (none yet) nor on a running stack.
"""

from __future__ import annotations

import json
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from chalice import Chalice
from moto.server import ThreadedMotoServer

from devstack import dynamodb_local, lambda_events, worker
from devstack.environment import load_or_create_secrets, stage_environment, write_env_file

REGION = "us-east-1"


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=dynamodb_local.free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws(moto_endpoint: str) -> dict[str, Any]:
    options = {
        "endpoint_url": moto_endpoint,
        "region_name": REGION,
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    return {name: boto3.client(name, **options) for name in ("sqs", "sns", "s3")}


class Recorder:
    """A throwaway Chalice app whose handlers record what they were called with."""

    def __init__(self) -> None:
        suffix = uuid.uuid4().hex[:8]
        self.queue, self.topic, self.bucket = f"jobs-{suffix}", f"alerts-{suffix}", f"uploads-{suffix}"
        self.calls: list[tuple[str, dict[str, Any], Any]] = []
        self.fail_next = False
        self.app = app = Chalice(app_name="worker-test")

        @app.on_sqs_message(queue=self.queue, batch_size=5)
        def on_job(event: Any) -> dict[str, Any]:
            self._record("sqs", event)
            return {
                "batchItemFailures": [
                    {"itemIdentifier": record.to_dict()["messageId"]} for record in event if record.body == "fail"
                ]
            }

        @app.on_sns_message(topic=self.topic)
        def on_alert(event: Any) -> None:
            self._record("sns", event)

        @app.on_s3_event(bucket=self.bucket, prefix="in/")
        def on_upload(event: Any) -> None:
            self._record("s3", event)

    def _record(self, kind: str, event: Any) -> None:
        self.calls.append((kind, event.to_dict(), event))
        if self.fail_next:
            raise RuntimeError("handler failed for +15125550134")


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def bindings(recorder: Recorder, aws: dict[str, Any]) -> dict[str, worker.Binding]:
    found = worker.discover_bindings(
        recorder.app, aws["sqs"], aws["sns"], aws["s3"], chalice_config={"lambda_timeout": 120}, log=lambda _: None
    )
    return {binding.kind: binding for binding in found}


def queue_counts(sqs: Any, url: str) -> tuple[int, int]:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])


def quiet(_: str) -> None:
    pass


def test_discovery_binds_each_handler_and_creates_missing_queues(
    bindings: dict[str, worker.Binding], recorder: Recorder, aws: dict[str, Any]
) -> None:
    assert set(bindings) == {"sqs", "sns", "s3"}
    sqs_binding = bindings["sqs"]
    assert sqs_binding.queue_url.endswith(f"/{recorder.queue}")
    assert sqs_binding.source_arn == f"arn:aws:sqs:{REGION}:123456789012:{recorder.queue}"
    assert sqs_binding.batch_size == 5
    assert sqs_binding.function_name == "worker-test-local-on_job"
    assert sqs_binding.timeout_seconds == 120
    assert sqs_binding.handler is recorder.app.handler_map["on_job"]
    subscriptions = aws["sns"].list_subscriptions()["Subscriptions"]
    assert any(s["SubscriptionArn"] == bindings["sns"].source_arn for s in subscriptions)
    assert aws["sns"].get_subscription_attributes(SubscriptionArn=bindings["sns"].source_arn)["Attributes"][
        "RawMessageDelivery"
    ] in ("false", "False")


def test_sqs_batch_reaches_handler_as_lambda_event_and_only_reported_failures_stay(
    bindings: dict[str, worker.Binding], recorder: Recorder, aws: dict[str, Any]
) -> None:
    sqs, binding = aws["sqs"], bindings["sqs"]
    for body in ("one", "fail", "three"):
        sqs.send_message(
            QueueUrl=binding.queue_url,
            MessageBody=body,
            MessageAttributes={"kind": {"DataType": "String", "StringValue": "test"}},
        )

    outcome = worker.poll_once(binding, sqs, wait_seconds=2, log=quiet)

    assert len(recorder.calls) == 1
    kind, event, chalice_event = recorder.calls[0]
    assert kind == "sqs"
    records = event["Records"]
    assert [r["body"] for r in records] == ["one", "fail", "three"]
    first = records[0]
    assert first["eventSource"] == "aws:sqs"
    assert first["eventSourceARN"] == binding.source_arn
    assert first["awsRegion"] == REGION
    assert first["receiptHandle"] and first["messageId"] and first["md5OfBody"]
    assert first["attributes"]["ApproximateReceiveCount"] == "1"
    assert first["messageAttributes"]["kind"]["stringValue"] == "test"
    assert first["messageAttributes"]["kind"]["dataType"] == "String"
    assert 0 < chalice_event.context.get_remaining_time_in_millis() <= 120_000
    assert chalice_event.context.function_name == "worker-test-local-on_job"
    failed_id = records[1]["messageId"]
    assert outcome.failed == [failed_id]
    assert len(outcome.succeeded) == 2
    assert queue_counts(sqs, binding.queue_url) == (0, 1)  # only the failure waits for its retry


def test_sqs_handler_that_raises_leaves_the_whole_batch(
    bindings: dict[str, worker.Binding], recorder: Recorder, aws: dict[str, Any]
) -> None:
    sqs, binding = aws["sqs"], bindings["sqs"]
    sqs.send_message(QueueUrl=binding.queue_url, MessageBody="a")
    sqs.send_message(QueueUrl=binding.queue_url, MessageBody="b")
    recorder.fail_next = True
    lines: list[str] = []

    outcome = worker.poll_once(binding, sqs, wait_seconds=2, log=lines.append)

    assert outcome.succeeded == [] and len(outcome.failed) == 2
    assert queue_counts(sqs, binding.queue_url) == (0, 2)
    assert any("RuntimeError" in line for line in lines)


def test_sns_notification_reaches_handler_as_lambda_sns_event(
    bindings: dict[str, worker.Binding], recorder: Recorder, aws: dict[str, Any]
) -> None:
    topic_arn = aws["sns"].create_topic(Name=recorder.topic)["TopicArn"]
    aws["sns"].publish(
        TopicArn=topic_arn,
        Message='{"originationNumber": "+15125550134"}',
        Subject="inbound",
        MessageAttributes={"source": {"DataType": "String", "StringValue": "eum"}},
    )

    outcome = worker.poll_once(bindings["sns"], aws["sqs"], wait_seconds=2, log=quiet)

    assert len(outcome.succeeded) == 1
    kind, event, chalice_event = recorder.calls[0]
    assert kind == "sns"
    (record,) = event["Records"]
    assert record["EventSource"] == "aws:sns"
    assert record["EventSubscriptionArn"] == bindings["sns"].source_arn
    assert record["Sns"]["TopicArn"] == topic_arn
    assert record["Sns"]["MessageId"] and record["Sns"]["Timestamp"]
    assert chalice_event.message == '{"originationNumber": "+15125550134"}'
    assert chalice_event.subject == "inbound"
    assert chalice_event.message_attributes == {"source": {"Type": "String", "Value": "eum"}}
    assert queue_counts(aws["sqs"], bindings["sns"].queue_url) == (0, 0)


def test_sns_handler_failure_keeps_the_notification_for_retry(
    bindings: dict[str, worker.Binding], recorder: Recorder, aws: dict[str, Any]
) -> None:
    topic_arn = aws["sns"].create_topic(Name=recorder.topic)["TopicArn"]
    aws["sns"].publish(TopicArn=topic_arn, Message="hello")
    recorder.fail_next = True

    outcome = worker.poll_once(bindings["sns"], aws["sqs"], wait_seconds=2, log=quiet)

    assert outcome.succeeded == [] and len(outcome.failed) == 1
    assert queue_counts(aws["sqs"], bindings["sns"].queue_url) == (0, 1)


def test_s3_object_reaches_handler_with_its_decoded_key(
    bindings: dict[str, worker.Binding], recorder: Recorder, aws: dict[str, Any]
) -> None:
    aws["s3"].put_object(Bucket=recorder.bucket, Key="in/new contacts.csv", Body=b"number\n")
    aws["s3"].put_object(Bucket=recorder.bucket, Key="elsewhere.csv", Body=b"number\n")

    for _ in range(3):  # the s3:TestEvent from configuring the bucket may come in its own batch
        worker.poll_once(bindings["s3"], aws["sqs"], wait_seconds=1, log=quiet)

    assert [(kind, chalice_event.bucket, chalice_event.key) for kind, _, chalice_event in recorder.calls] == [
        ("s3", recorder.bucket, "in/new contacts.csv")
    ]
    assert queue_counts(aws["sqs"], bindings["s3"].queue_url) == (0, 0)


def test_app_without_event_handlers_idles_until_stopped(aws: dict[str, Any]) -> None:
    empty = Chalice(app_name="no-events")
    assert worker.discover_bindings(empty, aws["sqs"], aws["sns"], aws["s3"], log=quiet) == []
    stop = threading.Event()
    runner = threading.Thread(target=worker.run, args=([], lambda: aws["sqs"], stop))
    runner.start()
    runner.join(timeout=1.5)
    assert runner.is_alive()
    stop.set()
    runner.join(timeout=5)
    assert not runner.is_alive()


@pytest.mark.parametrize(
    ("result", "failed"),
    [
        (None, set()),
        ({"batchItemFailures": []}, set()),
        ({"batchItemFailures": [{"itemIdentifier": "b"}]}, {"b"}),
        ({"batchItemFailures": [{"itemIdentifier": "zzz"}]}, {"a", "b"}),
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, {"a", "b"}),
        ({"batchItemFailures": "b"}, {"a", "b"}),
    ],
)
def test_partial_batch_response_is_read_as_lambda_reads_it(result: Any, failed: set[str]) -> None:
    assert lambda_events.failed_message_ids(result, ["a", "b"]) == failed


def test_worker_logs_never_show_full_phone_numbers() -> None:
    text = "number +15125550134 and (512) 555-0134 and 512-555-0134 at 14:02:03, request 42"
    redacted = worker.redact_numbers(text)
    assert "5550134" not in redacted and "555-0134" not in redacted
    assert "+*********34" in redacted
    assert "14:02:03, request 42" in redacted
    arn = "arn:aws:sqs:us-east-1:123456789012:local-imports"
    assert worker.redact_numbers(arn) == arn


def test_lambda_timeout_is_looked_up_like_chalice() -> None:
    config = {
        "lambda_timeout": 30,
        "stages": {"local": {"lambda_timeout": 45, "lambda_functions": {"imports": {"lambda_timeout": 900}}}},
    }
    assert worker.lambda_timeout(config, "local", "imports") == 900
    assert worker.lambda_timeout(config, "local", "other") == 45
    assert worker.lambda_timeout(config, "prod", "other") == 30
    assert worker.lambda_timeout({}, "local", "other") == worker.DEFAULT_LAMBDA_TIMEOUT


def test_env_file_loads_verbatim_in_a_shell(tmp_path: Path) -> None:
    values = {
        "PLAIN": "http://127.0.0.1:8080",
        "QUOTES": 'it\'s "quoted"',
        "SHELLY": "$HOME `id` ; rm -rf / & | * ? \\ ~",
        "SPACES": "  two  spaces  ",
        "EMPTY": "",
    }
    env_file = tmp_path / "env"
    write_env_file(env_file, values)
    script = f"set -a; . '{env_file}'; set +a; " + "; ".join(f'printf "%s\\0" "${key}"' for key in values)
    output = subprocess.run(["sh", "-c", script], capture_output=True, check=True, env={}).stdout.decode()
    assert output.split("\0")[:-1] == list(values.values())
    assert env_file.stat().st_mode & 0o077 == 0  # it holds tokens and secrets


def test_webhook_secrets_are_made_once_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    first = load_or_create_secrets(path)
    assert set(first) == {"TWILIO_AUTH_TOKEN", "INBOUND_WEBHOOK_SECRET"}
    assert len(first["TWILIO_AUTH_TOKEN"]) == 32
    assert load_or_create_secrets(path) == first
    assert json.loads(path.read_text()) == first


def test_stage_environment_is_global_then_local_stage() -> None:
    env = stage_environment("local")
    assert env["STAGE"] == "local"
    assert env["CONTACTS_TABLE"] == "local-contacts"
    assert env["POWERTOOLS_SERVICE_NAME"] == "sms-engagement"
