"""Queues, topics and the key that encrypts what AWS services publish to us.

Queues use SQS-managed encryption: S3 can then deliver bucket notifications
without a key policy. Topics need a KMS key, and it must be a customer managed
one, because the services that publish to them (End User Messaging SMS,
CloudWatch alarms) can only use a key whose policy names them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

EUM_SMS_SERVICE = "sms-voice.amazonaws.com"
"""AWS End User Messaging SMS: publishes inbound messages and delivery events to SNS."""
CLOUDWATCH_SERVICE = "cloudwatch.amazonaws.com"
DEAD_LETTER_RETENTION = Duration.days(14)
MAX_RECEIVE_COUNT = 5
"""Deliveries before a message is parked in the dead-letter queue for a person to look at."""


@dataclass(frozen=True)
class WorkQueue:
    """A queue the app consumes, addressed in code by `name` (`@app.on_sqs_message(queue=name)`)."""

    name: str
    queue: sqs.Queue
    dead_letters: sqs.Queue


@dataclass(frozen=True)
class EventTopic:
    """A topic the app subscribes to, addressed in code by `name` (`@app.on_sns_message(topic=name)`)."""

    name: str
    topic: sns.Topic


def camel(name: str) -> str:
    """`delivery-events` -> `DeliveryEvents`, for construct ids."""
    return "".join(part.capitalize() for part in name.replace("_", "-").split("-"))


def build_topic_key(scope: Construct, publishers: Sequence[str]) -> kms.Key:
    """A rotating key that the publishing services may use only on behalf of this account."""
    key = kms.Key(
        scope,
        "MessagingKey",
        description="Encrypts the SMS event and alarm topics",
        enable_key_rotation=True,
        removal_policy=RemovalPolicy.RETAIN,
    )
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowPublishingServices",
            principals=[iam.ServicePrincipal(service) for service in publishers],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            resources=["*"],  # in a key policy, "*" means this key
            conditions={"StringEquals": {"aws:SourceAccount": Stack.of(scope).account}},
        )
    )
    return key


def build_work_queue(scope: Construct, name: str, visibility_timeout: Duration) -> WorkQueue:
    """A queue with its own encrypted dead-letter queue; poison messages stop retrying after a few tries."""
    base = camel(name)
    dead_letters = sqs.Queue(
        scope,
        f"{base}DeadLetterQueue",
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=DEAD_LETTER_RETENTION,
    )
    queue = sqs.Queue(
        scope,
        f"{base}Queue",
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        visibility_timeout=visibility_timeout,
        dead_letter_queue=sqs.DeadLetterQueue(queue=dead_letters, max_receive_count=MAX_RECEIVE_COUNT),
    )
    return WorkQueue(name=name, queue=queue, dead_letters=dead_letters)


def build_topic(scope: Construct, name: str, key: kms.IKey, publisher: str | None = None) -> EventTopic:
    """An encrypted, TLS-only topic; `publisher` is the AWS service allowed to publish to it."""
    topic = sns.Topic(scope, f"{camel(name)}Topic", master_key=key, enforce_ssl=True)
    if publisher:
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowServicePublish",
                principals=[iam.ServicePrincipal(publisher)],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(scope).account}},
            )
        )
    return EventTopic(name=name, topic=topic)
