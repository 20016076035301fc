"""The local event worker: what Lambda's event sources do in AWS, done by polling local queues.

`python -m devstack.worker` imports `app.py`, reads which event handlers the
Chalice app registered, and for each one polls a local SQS queue and calls the
handler with a Lambda-shaped event:

- `@app.on_sqs_message(queue=...)`: the queue of that name, in batches of the
  handler's `batch_size`; messages are deleted when the handler returns, except
  those it reports in a partial batch response (`batchItemFailures`).
- `@app.on_sns_message(topic=...)`: a worker-owned queue subscribed to the
  topic (RawMessageDelivery off, so the SNS envelope arrives), one
  notification per invocation as SNS invokes Lambda.
- `@app.on_s3_event(bucket=...)`: a worker-owned queue added to the bucket's
  notifications with the handler's events, prefix and suffix.

A message whose handler fails is left on its queue: it becomes visible again
after the visibility timeout and, after a few attempts, moves to the queue's
dead-letter queue, as in AWS. Other event sources (schedules, streams) are
listed at start-up and not run.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import boto3
from chalice.app import S3EventConfig, SNSEventConfig, SQSEventConfig

from devstack import lambda_events
from devstack.resources import ensure_bucket, ensure_queue_notification, ensure_queue_with_dlq, queue_arn

ROOT = Path(__file__).resolve().parent.parent
LONG_POLL_SECONDS = 20
"""The longest wait SQS allows; an idle worker makes one request per queue per 20 s."""
DEFAULT_LAMBDA_TIMEOUT = 60
"""Chalice's default function timeout, used when `.chalice/config.json` sets none."""

Kind = Literal["sqs", "sns", "s3"]
Log = Callable[[str], None]


# --- log lines without phone numbers ------------------------------------------------------------

_PHONE_NUMBER = re.compile(r"\+?\d{7,15}\b|\(\d{3}\)\s?\d{3}-\d{4}|\b\d{3}[-.\s]\d{3}[-.\s]\d{4}\b")


def redact_numbers(text: str) -> str:
    """Mask anything that looks like a phone number, keeping its last two digits.

    Exception messages and tracebacks from handlers can quote numbers; the
    worker's log must not.
    """

    def mask(match: re.Match[str]) -> str:
        raw, start, end = match.group(0), match.start(), match.end()
        if text[start - 1 : start] == ":" and text[end : end + 1] == ":":
            return raw  # an account id inside an ARN
        return re.sub(r"\d", "*", raw[:-2]) + raw[-2:]

    return _PHONE_NUMBER.sub(mask, text)


def log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} worker: {redact_numbers(message)}", flush=True)


# --- what to poll, for which handler ---------------------------------------------------------------


@dataclass(frozen=True)
class Binding:
    """One registered event handler and the local queue whose messages reach it."""

    kind: Kind
    name: str
    handler: Callable[[dict[str, Any], Any], Any]
    queue_url: str
    source_arn: str
    function_name: str
    batch_size: int = 1
    timeout_seconds: float = DEFAULT_LAMBDA_TIMEOUT
    region: str = "us-east-1"

    def describe(self) -> str:
        queue = self.queue_url.rsplit("/", 1)[-1]
        return f"{self.kind} handler {self.name!r} <- queue {queue} ({self.source_arn})"


@dataclass
class Outcome:
    """What happened to the messages of one receive call."""

    succeeded: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def discover_bindings(
    app: Any,
    sqs: Any,
    sns: Any,
    s3: Any,
    *,
    stage: str = "local",
    chalice_config: Mapping[str, Any] | None = None,
    region: str = "us-east-1",
    log: Log = log,
) -> list[Binding]:
    """Bind each SQS, SNS and S3 handler the Chalice app registered to a local queue, creating what is missing."""
    bindings = []
    for config in app.event_sources:
        common = {
            "name": config.name,
            "handler": app.handler_map[config.name],
            "function_name": f"{app.app_name}-{stage}-{config.name}",
            "timeout_seconds": lambda_timeout(chalice_config or {}, stage, config.name),
            "region": region,
        }
        if isinstance(config, SQSEventConfig):
            bindings.append(_sqs_binding(config, sqs, common, log))
        elif isinstance(config, SNSEventConfig):
            bindings.append(_sns_binding(config, sqs, sns, common))
        elif isinstance(config, S3EventConfig):
            bindings.append(_s3_binding(config, sqs, s3, common, log))
        else:
            log(f"not run locally: {type(config).__name__} {config.name!r} (only SQS, SNS and S3 events are)")
    return bindings


def _sqs_binding(config: SQSEventConfig, sqs: Any, common: dict[str, Any], log: Log) -> Binding:
    name = config.queue or (config.queue_arn or "").rsplit(":", 1)[-1]
    try:
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except sqs.exceptions.QueueDoesNotExist:
        log(f"queue {name!r} did not exist locally; created it for handler {config.name!r}")
        url, _ = ensure_queue_with_dlq(sqs, name)
    return Binding("sqs", queue_url=url, source_arn=queue_arn(sqs, url), batch_size=config.batch_size, **common)


def _sns_binding(config: SNSEventConfig, sqs: Any, sns: Any, common: dict[str, Any]) -> Binding:
    url, _ = ensure_queue_with_dlq(sqs, _worker_queue_name(config.name))
    subscription = sns.subscribe(
        TopicArn=_topic_arn(sns, config.topic),
        Protocol="sqs",
        Endpoint=queue_arn(sqs, url),
        Attributes={"RawMessageDelivery": "false"},
        ReturnSubscriptionArn=True,
    )
    return Binding("sns", queue_url=url, source_arn=subscription["SubscriptionArn"], **common)


def _topic_arn(sns: Any, topic: str) -> str:
    """Chalice takes a topic name or ARN; either way, make sure the topic exists locally."""
    if topic.startswith("arn:"):
        try:
            sns.get_topic_attributes(TopicArn=topic)
            return topic
        except sns.exceptions.NotFoundException:
            topic = topic.rsplit(":", 1)[-1]
    return sns.create_topic(Name=topic)["TopicArn"]  # idempotent: returns the existing topic's ARN


def _s3_binding(config: S3EventConfig, sqs: Any, s3: Any, common: dict[str, Any], log: Log) -> Binding:
    ensure_bucket(s3, config.bucket)
    url, _ = ensure_queue_with_dlq(sqs, _worker_queue_name(config.name))
    rules = [{"Name": name, "Value": value} for name, value in (("prefix", config.prefix), ("suffix", config.suffix))]
    notification: dict[str, Any] = {
        "Id": _worker_queue_name(config.name),
        "QueueArn": queue_arn(sqs, url),
        "Events": list(config.events),
    }
    if any(rule["Value"] for rule in rules):
        notification["Filter"] = {"Key": {"FilterRules": [rule for rule in rules if rule["Value"]]}}
    if ensure_queue_notification(s3, config.bucket, notification):
        log(f"bucket {config.bucket!r} now notifies the worker for handler {config.name!r}")
    return Binding("s3", queue_url=url, source_arn=f"arn:aws:s3:::{config.bucket}", **common)


def _worker_queue_name(handler_name: str) -> str:
    # SQS names: at most 80 of [A-Za-z0-9_-]; "-dlq" is appended for the dead-letter queue.
    return f"devstack-worker-{re.sub(r'[^A-Za-z0-9_-]', '-', handler_name)}"[:76]


def lambda_timeout(chalice_config: Mapping[str, Any], stage: str, function: str) -> float:
    """The function's `lambda_timeout`, looked up the way Chalice does: function, stage, global."""
    stage_config = chalice_config.get("stages", {}).get(stage, {})
    for scope in (
        stage_config.get("lambda_functions", {}).get(function, {}),
        stage_config,
        chalice_config.get("lambda_functions", {}).get(function, {}),
        chalice_config,
    ):
        if "lambda_timeout" in scope:
            return float(scope["lambda_timeout"])
    return DEFAULT_LAMBDA_TIMEOUT


# --- one receive, one dispatch ---------------------------------------------------------------------


def receive(binding: Binding, sqs: Any, wait_seconds: int = LONG_POLL_SECONDS) -> list[dict[str, Any]]:
    """One long-polling receive: a batch of up to `batch_size` for SQS handlers, else up to 10."""
    response = sqs.receive_message(
        QueueUrl=binding.queue_url,
        MaxNumberOfMessages=min(max(binding.batch_size, 1), 10) if binding.kind == "sqs" else 10,
        WaitTimeSeconds=wait_seconds,
        AttributeNames=["All"],
        MessageAttributeNames=["All"],
    )
    return response.get("Messages", [])


def poll_once(binding: Binding, sqs: Any, wait_seconds: int = LONG_POLL_SECONDS, log: Log = log) -> Outcome:
    """Receive one batch from the binding's queue and hand it to the handler."""
    messages = receive(binding, sqs, wait_seconds)
    return dispatch(binding, messages, sqs, log) if messages else Outcome()


def dispatch(binding: Binding, messages: Sequence[Mapping[str, Any]], sqs: Any, log: Log = log) -> Outcome:
    """Invoke the handler for received messages and delete the ones it processed."""
    if binding.kind == "sqs":
        outcome = _dispatch_sqs_batch(binding, messages, log)
    else:
        outcome = Outcome()
        for message in messages:
            build = _sns_events if binding.kind == "sns" else _s3_events
            handled = all(invoke(binding, event, log)[0] for event in build(binding, message))
            (outcome.succeeded if handled else outcome.failed).append(message["MessageId"])
    done = set(outcome.succeeded)
    delete_messages(sqs, binding.queue_url, [m for m in messages if m["MessageId"] in done], log)
    log(
        f"{binding.kind} {binding.name}: {len(messages)} message(s), {len(outcome.succeeded)} done"
        + (f", {len(outcome.failed)} left for retry" if outcome.failed else "")
    )
    return outcome


def _dispatch_sqs_batch(binding: Binding, messages: Sequence[Mapping[str, Any]], log: Log) -> Outcome:
    ids = [message["MessageId"] for message in messages]
    returned, result = invoke(binding, lambda_events.sqs_event(messages, binding.source_arn, binding.region), log)
    failed = lambda_events.failed_message_ids(result, ids) if returned else set(ids)
    return Outcome(succeeded=[i for i in ids if i not in failed], failed=[i for i in ids if i in failed])


def _sns_events(binding: Binding, message: Mapping[str, Any]) -> list[dict[str, Any]]:
    envelope = json.loads(message["Body"])
    if envelope.get("Type", "Notification") != "Notification":
        return []  # e.g. SubscriptionConfirmation: nothing for the handler
    return [lambda_events.sns_event(envelope, binding.source_arn)]


def _s3_events(binding: Binding, message: Mapping[str, Any]) -> list[dict[str, Any]]:
    return lambda_events.s3_events(message["Body"])


def invoke(binding: Binding, event: dict[str, Any], log: Log = log) -> tuple[bool, Any]:
    """Call the handler as Lambda would: (True, its return value), or (False, None) if it raised."""
    context = lambda_events.LocalLambdaContext(binding.function_name, binding.timeout_seconds, region=binding.region)
    try:
        return True, binding.handler(event, context)
    except Exception:
        log(f"{binding.kind} {binding.name} raised (request {context.aws_request_id}):\n{traceback.format_exc()}")
        return False, None


def delete_messages(sqs: Any, queue_url: str, messages: Sequence[Mapping[str, Any]], log: Log = log) -> None:
    for start in range(0, len(messages), 10):
        chunk = messages[start : start + 10]
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)]
        response = sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries)
        for failure in response.get("Failed", []):
            log(f"could not delete a message from {queue_url}: {failure.get('Message', failure)}")


# --- running ------------------------------------------------------------------------------------


def poll_forever(binding: Binding, sqs: Any, stop: threading.Event, busy: threading.Lock) -> None:
    """Keep polling until `stop`; `busy` is held while a handler runs so shutdown can wait for it."""
    while not stop.is_set():
        try:
            messages = receive(binding, sqs)
        except Exception as error:  # the local endpoint restarting, for instance: retry, don't die
            log(f"receiving from {binding.queue_url} failed ({error}); retrying in 5 s")
            stop.wait(5)
            continue
        if not messages:
            continue
        with busy:
            if stop.is_set():
                _release(sqs, binding.queue_url, messages)
                return
            try:
                dispatch(binding, messages, sqs)
            except Exception:
                log(f"dispatching to {binding.name} failed:\n{traceback.format_exc()}")


def _release(sqs: Any, queue_url: str, messages: Sequence[Mapping[str, Any]]) -> None:
    """Make messages received during shutdown visible again at once, for the next run."""
    for message in messages:
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)


def run(bindings: Sequence[Binding], client_factory: Callable[[], Any], stop: threading.Event) -> None:
    """Poll every binding on its own thread until `stop`, then let running handlers finish."""
    if not bindings:
        log("app.py registers no SQS, SNS or S3 event handlers yet: nothing to poll, idling until stopped")
        while not stop.wait(1):
            pass
        return
    busy_locks = []
    for binding in bindings:
        log(f"polling for {binding.describe()}")
        busy = threading.Lock()
        busy_locks.append(busy)
        # One client per thread: boto3 clients are thread-safe, creating them is not.
        sqs = client_factory()
        threading.Thread(
            target=poll_forever, args=(binding, sqs, stop, busy), name=f"poll-{binding.name}", daemon=True
        ).start()
    while not stop.wait(1):
        pass
    for binding, busy in zip(bindings, busy_locks, strict=True):
        # Pollers blocked in a long poll are daemon threads and simply end with the process.
        if busy.acquire(timeout=binding.timeout_seconds):
            busy.release()


def load_app() -> Any:
    """The Chalice app object from `app.py`, imported the way Lambda imports it."""
    sys.path.insert(0, str(ROOT))
    import app as app_module

    return app_module.app


def main() -> int:
    stop = threading.Event()

    def request_stop(signum: int, _frame: Any) -> None:
        log(f"{signal.Signals(signum).name} received, stopping")
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    region = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
    stage = os.environ.get("STAGE", "local")
    session = boto3.session.Session(region_name=region)
    chalice_config = json.loads((ROOT / ".chalice/config.json").read_text())
    bindings = discover_bindings(
        load_app(),
        session.client("sqs"),
        session.client("sns"),
        session.client("s3"),
        stage=stage,
        chalice_config=chalice_config,
        region=region,
    )
    run(bindings, lambda: boto3.session.Session(region_name=region).client("sqs"), stop)
    log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
