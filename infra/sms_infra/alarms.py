"""Alarms for the failures nobody would otherwise notice, all notifying one topic.

Thresholds are "any at all": dead letters, 5XX responses and function errors
each mean a bug or an outage for a system of this size, not noise.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

PERIOD = Duration.minutes(5)


def _any_at_all(
    scope: Construct, construct_id: str, metric: cloudwatch.IMetric, description: str, topic: sns.ITopic
) -> cloudwatch.Alarm:
    alarm = cloudwatch.Alarm(
        scope,
        construct_id,
        metric=metric,
        threshold=0,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluation_periods=1,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        alarm_description=description,
    )
    alarm.add_alarm_action(actions.SnsAction(topic))
    alarm.add_ok_action(actions.SnsAction(topic))
    return alarm


def dead_letter_alarm(scope: Construct, name: str, dead_letters: sqs.IQueue, topic: sns.ITopic) -> cloudwatch.Alarm:
    metric = dead_letters.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum")
    return _any_at_all(
        scope, f"{name}DeadLettersAlarm", metric, f"Messages from the {name} queue are in its dead-letter queue", topic
    )


def api_errors_alarm(scope: Construct, api_name: str, api_stage: str, topic: sns.ITopic) -> cloudwatch.Alarm:
    metric = cloudwatch.Metric(
        namespace="AWS/ApiGateway",
        metric_name="5XXError",
        dimensions_map={"ApiName": api_name, "Stage": api_stage},
        statistic="Sum",
        period=PERIOD,
    )
    return _any_at_all(scope, "Api5xxAlarm", metric, f"The REST API {api_name} returned 5XX responses", topic)


def function_errors_alarm(scope: Construct, logical_id: str, function_name: str, topic: sns.ITopic) -> cloudwatch.Alarm:
    metric = cloudwatch.Metric(
        namespace="AWS/Lambda",
        metric_name="Errors",
        dimensions_map={"FunctionName": function_name},
        statistic="Sum",
        period=PERIOD,
    )
    return _any_at_all(scope, f"{logical_id}ErrorsAlarm", metric, f"Function {logical_id} raised errors", topic)
