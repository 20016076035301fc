"""The one stack: data stores, messaging, identity, alarms, and the Chalice app wired to them.

The stack's construct id is the Chalice stage (the Chalice construct takes
its stage from its scope), so create it as a direct child of the app:
`SmsEngagementStack(app, "prod", ...)`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns_subscriptions as subscriptions
from chalice.cdk import Chalice
from constructs import Construct
from pynamodb.models import Model

from chalicelib.api.authorizer import PLACEHOLDER_POOL_ARN
from chalicelib.auth import ROLES
from chalicelib.models import ALL_MODELS
from sms_infra import alarms, permissions
from sms_infra.chalice_app import (
    REST_API_ID,
    authorizer_overrides,
    consumed_queues,
    event_source_overrides,
    function_ids,
    isolated_packaging,
    packaged_template,
)
from sms_infra.identity import build_identity
from sms_infra.messaging import (
    CLOUDWATCH_SERVICE,
    EUM_SMS_SERVICE,
    EventTopic,
    WorkQueue,
    build_topic,
    build_topic_key,
    build_work_queue,
    camel,
)
from sms_infra.storage import build_bucket, notify_imports
from sms_infra.tables import TableSpec, build_table, index_arns, table_spec

APP_NAME = "sms-engagement"
API_STAGE = "api"
"""API Gateway stage name: URLs end in /api/."""
API_TIMEOUT_SECONDS = 29
"""API Gateway gives up on an integration after 29 s; a longer-running handler would only waste money."""
MEMORY_MB = 512
"""More memory is more CPU: pydantic and powertools import noticeably faster at 512 MB than at 128 MB."""
IMPORT_MEMORY_MB = 3538
"""Two full vCPUs for the import worker: it plans a step while its writer process sends the step before
(`chalicelib/models/batch_writes.py`), and on one vCPU the two would take turns. About $0.05 a 1M-row import."""
WORKER_TIMEOUT = Duration.minutes(5)
"""Functions that consume infra's queues run this long at most; long imports continue from a checkpoint."""
QUEUE_VISIBILITY = Duration.minutes(6 * WORKER_TIMEOUT.to_minutes())
"""AWS's advice for Lambda consumers: at least six times the function timeout, or messages are redelivered
while a throttled or retried invocation still holds them."""
LOG_RETENTION = logs.RetentionDays.ONE_MONTH
QUEUE_NAMES = ("imports", "exports", "send", "groups")
"""Logical names the app uses in `@app.on_sqs_message(queue=...)`; infra maps them to real queues."""
EVENT_TOPIC_NAMES = ("inbound-sms", "delivery-events")
"""Logical names for `@app.on_sns_message(topic=...)`; End User Messaging SMS publishes to both."""
BUCKET_ENV = "BUCKET"
USER_POOL_ENV = "USER_POOL_ID"
USER_POOL_CLIENT_ENV = "USER_POOL_CLIENT_ID"


def queue_env(name: str) -> str:
    """`imports` -> `IMPORTS_QUEUE_URL`."""
    return f"{_env_word(name)}_QUEUE_URL"


def topic_env(name: str) -> str:
    """`inbound-sms` -> `INBOUND_SMS_TOPIC_ARN`."""
    return f"{_env_word(name)}_TOPIC_ARN"


def _env_word(name: str) -> str:
    return name.upper().replace("-", "_")


def _gateway_error(code: str, message: str) -> dict[str, Any]:
    body = '{"error": {"code": "%s", "message": %s}}' % (code, message)  # noqa: UP031 - VTL, not Python
    return {"responseTemplates": {"application/json": body}}


GATEWAY_RESPONSES: dict[str, dict[str, Any]] = {
    "UNAUTHORIZED": {"statusCode": 401, **_gateway_error("unauthorized", '"a valid user token is required"')},
    "ACCESS_DENIED": {"statusCode": 403, **_gateway_error("forbidden", "$context.error.messageString")},
    "DEFAULT_4XX": _gateway_error("bad_request", "$context.error.messageString"),
    "DEFAULT_5XX": _gateway_error("internal_error", "$context.error.messageString"),
}
"""Errors API Gateway answers itself (before the app runs) in the app's own error shape."""


class SmsEngagementStack(Stack):
    """Everything one stage of the backend needs, built around the packaged Chalice app."""

    def __init__(
        self,
        scope: Construct,
        stage: str,
        *,
        source_dir: Path | str,
        alarm_email: str | None = None,
        models: Sequence[type[Model]] = ALL_MODELS,
        roles: Sequence[str] = ROLES,
        **kwargs: Any,
    ) -> None:
        """`source_dir` is the Chalice project to package (the repository root, or a copy of it in tests)."""
        super().__init__(scope, stage, **kwargs)
        self.stage = stage
        self.table_specs: dict[str, TableSpec] = {spec.env_var: spec for spec in map(table_spec, models)}
        self.tables: dict[str, dynamodb.Table] = {
            env_var: build_table(self, spec) for env_var, spec in self.table_specs.items()
        }
        self.bucket = build_bucket(self)
        self.queues: dict[str, WorkQueue] = {
            name: build_work_queue(self, name, QUEUE_VISIBILITY) for name in QUEUE_NAMES
        }
        notify_imports(self.bucket, self.queues["imports"].queue)
        self.messaging_key = build_topic_key(self, [EUM_SMS_SERVICE, CLOUDWATCH_SERVICE])
        self.topics: dict[str, EventTopic] = {
            name: build_topic(self, name, self.messaging_key, EUM_SMS_SERVICE) for name in EVENT_TOPIC_NAMES
        }
        self.alarm_topic = build_topic(self, "alarms", self.messaging_key, CLOUDWATCH_SERVICE).topic
        if alarm_email:
            self.alarm_topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        self.identity = build_identity(self, roles)
        self.function_role, self._function_policy = permissions.build_function_role(self)
        self._grant_data_access()

        self.api = self._package_app(Path(source_dir))
        template = packaged_template(self.api)
        self.api_name = f"{APP_NAME}-{stage}"
        self._configure_rest_api(template)
        self._configure_functions(template)
        self._add_alarms()
        self._add_outputs()

    # -- the Chalice app -------------------------------------------------------------------

    def _package_app(self, source_dir: Path) -> Chalice:
        region = "us-east-1" if Token.is_unresolved(self.region) else self.region
        with isolated_packaging(source_dir, region):
            return Chalice(self, "Api", source_dir=str(source_dir), stage_config=self.stage_config())

    def stage_config(self) -> dict[str, Any]:
        """Chalice stage settings; they take precedence over `.chalice/config.json`.

        The role is ours (`manage_iam_role: false`), so chalice neither creates
        one nor generates a policy from the code's boto3 calls.
        """
        return {
            "api_gateway_stage": API_STAGE,
            "manage_iam_role": False,
            "iam_role_arn": self.function_role.role_arn,
            "autogen_policy": False,
            "lambda_timeout": API_TIMEOUT_SECONDS,
            "lambda_memory_size": MEMORY_MB,
            "xray": True,
            "environment_variables": self.environment_variables(),
        }

    def environment_variables(self) -> dict[str, str]:
        """How the code finds every resource: names and URLs, never hard-coded in the app."""
        variables = {
            "STAGE": self.stage,
            "POWERTOOLS_SERVICE_NAME": APP_NAME,
            "POWERTOOLS_METRICS_NAMESPACE": "SmsEngagement",
            "POWERTOOLS_LOG_LEVEL": "INFO",
            # Responses carry phone numbers and message bodies; traces must not.
            "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false",
            "TRANSPORT": "eum",
            BUCKET_ENV: self.bucket.bucket_name,
            USER_POOL_ENV: self.identity.user_pool.user_pool_id,
            USER_POOL_CLIENT_ENV: self.identity.client.user_pool_client_id,
        }
        variables.update({env_var: table.table_name for env_var, table in self.tables.items()})
        variables.update({queue_env(name): work.queue.queue_url for name, work in self.queues.items()})
        variables.update({topic_env(name): event.topic.topic_arn for name, event in self.topics.items()})
        return variables

    def _configure_rest_api(self, template: Mapping[str, Any]) -> None:
        """Real user pool in the authorizer, X-Ray tracing, and a per-stage name the 5XX alarm can address."""
        rest_api = self.api.get_resource(REST_API_ID)
        definition = template["Resources"][REST_API_ID]["Properties"]["DefinitionBody"]
        pool_arn = self.identity.user_pool.user_pool_arn
        overrides = {
            **authorizer_overrides(definition, PLACEHOLDER_POOL_ARN, pool_arn),
            "Name": self.api_name,
            "DefinitionBody.info.title": self.api_name,
            "DefinitionBody.x-amazon-apigateway-gateway-responses": GATEWAY_RESPONSES,
            "TracingEnabled": True,
        }
        for path, value in overrides.items():
            rest_api.add_property_override(path, value)

    def _configure_functions(self, template: Mapping[str, Any]) -> None:
        """Per function: its own log group, its event sources wired to our queues and topics, an errors alarm.

        This is the place event handlers get connected: a later
        `@app.on_sqs_message(queue="imports")` or
        `@app.on_sns_message(topic="inbound-sms")` is picked up here without
        changing infra. Queue consumers also get the worker timeout the queues'
        visibility timeout is sized for, and the imports consumer two vCPUs.
        """
        queue_arns = {name: work.queue.queue_arn for name, work in self.queues.items()}
        topic_arns = {name: event.topic.topic_arn for name, event in self.topics.items()}
        log_groups = []
        for logical_id in function_ids(template):
            function = self.api.get_resource(logical_id)
            events = template["Resources"][logical_id]["Properties"].get("Events", {})
            log_group = self._function_log_group(logical_id)
            overrides: dict[str, Any] = {
                "LoggingConfig": {"LogGroup": log_group.log_group_name},
                **event_source_overrides(events, queue_arns, topic_arns),
            }
            queues = consumed_queues(events)
            if queues:
                overrides["Timeout"] = WORKER_TIMEOUT.to_seconds()
            if "imports" in queues:
                overrides["MemorySize"] = IMPORT_MEMORY_MB
            for path, value in overrides.items():
                function.add_property_override(path, value)
            alarms.function_errors_alarm(self, logical_id, function.ref, self.alarm_topic)
            log_groups.append(log_group)
        self._function_policy.add_statements(permissions.log_statement(log_groups))

    def _function_log_group(self, logical_id: str) -> logs.LogGroup:
        """Created here rather than on first invocation, so the role may write to it and nothing else."""
        return logs.LogGroup(
            self,
            f"{logical_id}Logs",
            log_group_name=f"/aws/lambda/{self.stack_name}/{logical_id}",
            retention=LOG_RETENTION,
            removal_policy=RemovalPolicy.DESTROY,
        )

    # -- permissions, alarms, outputs --------------------------------------------------------

    def _grant_data_access(self) -> None:
        self._function_policy.add_statements(
            permissions.table_statement(self._table_and_index_arns()),
            *permissions.bucket_statements(self.bucket),
            permissions.queue_statement(work.queue for work in self.queues.values()),
            permissions.topic_statement(event.topic for event in self.topics.values()),
            permissions.sms_statement(self.region, self.account),
            permissions.key_statement([self.messaging_key]),
            permissions.tracing_statement(),
        )

    def _table_and_index_arns(self) -> list[str]:
        arns: list[str] = []
        for env_var, table in self.tables.items():
            arns += [table.table_arn, *index_arns(table, self.table_specs[env_var])]
        return arns

    def _add_alarms(self) -> None:
        for name, work in self.queues.items():
            alarms.dead_letter_alarm(self, camel(name), work.dead_letters, self.alarm_topic)
        alarms.api_errors_alarm(self, self.api_name, API_STAGE, self.alarm_topic)

    def _add_outputs(self) -> None:
        outputs: dict[str, str] = {
            "UserPoolId": self.identity.user_pool.user_pool_id,
            "UserPoolClientId": self.identity.client.user_pool_client_id,
            "BucketName": self.bucket.bucket_name,
            "AlarmTopicArn": self.alarm_topic.topic_arn,
        }
        outputs.update({f"{camel(name)}TopicArn": event.topic.topic_arn for name, event in self.topics.items()})
        outputs.update({f"{camel(name)}QueueUrl": work.queue.queue_url for name, work in self.queues.items()})
        for output_id, value in outputs.items():
            CfnOutput(self, output_id, value=value)
