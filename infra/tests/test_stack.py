"""Synthesizes the stack once, offline, and checks the resources and grants the app relies on.

The stack packages a copy of the project whose requirements.txt is empty:
these tests are about the template, not the zip, and an empty requirements
file means chalice has nothing to download (pip's index is disabled to prove it).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template
from constructs import Construct
from pynamodb.indexes import GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.api.authorizer import PLACEHOLDER_POOL_ARN, cognito
from chalicelib.auth import ROLES
from chalicelib.models import ALL_MODELS
from sms_infra.stack import (
    EVENT_TOPIC_NAMES,
    IMPORT_MEMORY_MB,
    MEMORY_MB,
    QUEUE_NAMES,
    SmsEngagementStack,
    queue_env,
    topic_env,
)

INFRA_DIR = Path(__file__).resolve().parents[1]
PROJECT_ROOT = INFRA_DIR.parent
STAGE = "prod"
DATA_SERVICES = frozenset({"dynamodb", "s3", "sqs", "sns", "kms", "logs"})


@dataclass(frozen=True)
class Synthesized:
    stack: SmsEngagementStack
    template: Template
    document: dict[str, Any]
    """The template as JSON, fetched once: every `Template.to_json()` is a round trip to the jsii process."""
    process_before: tuple[Any, ...]
    process_after: tuple[Any, ...]

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.document["Resources"]

    def logical_id(self, construct: Construct) -> str:
        return self.stack.get_logical_id(construct.node.default_child)

    def ref(self, construct: Construct) -> dict[str, str]:
        return {"Ref": self.logical_id(construct)}

    def arn(self, construct: Construct) -> dict[str, list[str]]:
        return {"Fn::GetAtt": [self.logical_id(construct), "Arn"]}

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {name: r for name, r in self.resources.items() if r["Type"] == resource_type}


def copy_project(destination: Path) -> Path:
    """The files `chalice package` reads, with nothing to download."""
    destination.mkdir()
    shutil.copy2(PROJECT_ROOT / "app.py", destination / "app.py")
    shutil.copytree(
        PROJECT_ROOT / "chalicelib", destination / "chalicelib", ignore=shutil.ignore_patterns("__pycache__")
    )
    (destination / ".chalice").mkdir()
    shutil.copy2(PROJECT_ROOT / ".chalice" / "config.json", destination / ".chalice" / "config.json")
    (destination / "requirements.txt").write_text("")
    return destination


def process_state() -> tuple[Any, ...]:
    """What packaging could leak into the test session: environment, import path, the cached `app` module."""
    return dict(os.environ), list(sys.path), sys.modules.get("app")


def cdk_context() -> dict[str, Any]:
    """The feature flags `cdk deploy` uses, so the test synthesizes what would be deployed."""
    return json.loads((INFRA_DIR / "cdk.json").read_text())["context"]


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthesized]:
    work = tmp_path_factory.mktemp("infra-synth")
    project = copy_project(work / "project")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(work)  # the Chalice construct writes chalice.out/ into the working directory
        patch.setenv("PIP_NO_INDEX", "1")
        patch.setenv("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        before = process_state()
        app = cdk.App(outdir=str(work / "cdk.out"), context=cdk_context())
        stack = SmsEngagementStack(app, STAGE, source_dir=project, stack_name=f"sms-engagement-{STAGE}")
        template = Template.from_stack(stack)
        after = process_state()
    yield Synthesized(stack, template, template.to_json(), before, after)


def test_synth_leaves_the_process_as_it_found_it(synth: Synthesized) -> None:
    assert synth.process_after == synth.process_before


# -- tables ------------------------------------------------------------------------------------


def _model_keys(attributes: Any) -> list[dict[str, str]]:
    keys = [{"AttributeName": a.attr_name, "KeyType": "HASH"} for a in attributes.values() if a.is_hash_key]
    keys += [{"AttributeName": a.attr_name, "KeyType": "RANGE"} for a in attributes.values() if a.is_range_key]
    return keys


def _model_indexes(model: type[Model]) -> dict[str, dict[str, Any]]:
    """What the model says about its global indexes, read from the index classes themselves."""
    return {
        index.Meta.index_name: {
            "KeySchema": _model_keys(index.Meta.attributes),
            "ProjectionType": index.Meta.projection.projection_type,
        }
        for index in model._indexes.values()
        if isinstance(index, GlobalSecondaryIndex)
    }


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda model: model.__name__)
def test_every_model_has_a_table_with_its_keys_and_indexes(synth: Synthesized, model: type[Model]) -> None:
    table = synth.stack.tables[model.Meta.table_env]
    properties = synth.resources[synth.logical_id(table)]["Properties"]

    assert properties["KeySchema"] == _model_keys(model.get_attributes())
    types = {d["AttributeName"]: d["AttributeType"] for d in properties["AttributeDefinitions"]}
    for attribute in model.get_attributes().values():
        if attribute.is_hash_key or attribute.is_range_key:
            assert types[attribute.attr_name] == attribute.attr_type
    deployed = {
        index["IndexName"]: {"KeySchema": index["KeySchema"], "ProjectionType": index["Projection"]["ProjectionType"]}
        for index in properties.get("GlobalSecondaryIndexes", [])
    }
    assert deployed == _model_indexes(model)


def test_contact_indexes_are_the_ones_the_list_views_query(synth: Synthesized) -> None:
    """A fixed point, in case model and infra were ever wrong in the same way."""
    table = synth.stack.tables["CONTACTS_TABLE"]
    indexes = synth.resources[synth.logical_id(table)]["Properties"]["GlobalSecondaryIndexes"]
    assert {index["IndexName"] for index in indexes} == {
        "by_number",
        "by_created",
        "by_activity",
        "by_last_name",
        "by_first_name",
    }


def test_one_table_per_model_all_recoverable_encrypted_and_retained(synth: Synthesized) -> None:
    tables = synth.of_type("AWS::DynamoDB::Table")
    assert len(tables) == len(ALL_MODELS)
    for table in tables.values():
        properties = table["Properties"]
        assert properties["BillingMode"] == "PAY_PER_REQUEST"
        assert properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
        assert properties["SSESpecification"]["SSEEnabled"] is True
        assert properties["DeletionProtectionEnabled"] is True
        assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"


def test_functions_find_every_resource_through_environment_variables(synth: Synthesized) -> None:
    stack = synth.stack
    expected = {
        "STAGE": STAGE,
        "BUCKET": synth.ref(stack.bucket),
        **{model.Meta.table_env: synth.ref(stack.tables[model.Meta.table_env]) for model in ALL_MODELS},
        **{queue_env(name): synth.ref(stack.queues[name].queue) for name in QUEUE_NAMES},
        **{topic_env(name): synth.ref(stack.topics[name].topic) for name in EVENT_TOPIC_NAMES},
    }
    for function in synth.of_type("AWS::Serverless::Function").values():
        variables = function["Properties"]["Environment"]["Variables"]
        assert {name: variables.get(name) for name in expected} == expected
        assert variables["POWERTOOLS_SERVICE_NAME"]


# -- bucket, queues, topics --------------------------------------------------------------------


def test_bucket_is_private_encrypted_and_tls_only(synth: Synthesized) -> None:
    synth.template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    Match.object_like(
                        {"ServerSideEncryptionByDefault": Match.object_like({"SSEAlgorithm": Match.any_value()})}
                    )
                ]
            },
        },
    )
    synth.template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                )
            }
        },
    )


def test_objects_created_under_imports_are_sent_to_the_imports_queue(synth: Synthesized) -> None:
    synth.template.has_resource_properties(
        "Custom::S3BucketNotifications",
        {
            "BucketName": synth.ref(synth.stack.bucket),
            "NotificationConfiguration": {
                "QueueConfigurations": [
                    {
                        "Events": ["s3:ObjectCreated:*"],
                        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "imports/"}]}},
                        "QueueArn": synth.arn(synth.stack.queues["imports"].queue),
                    }
                ]
            },
        },
    )


@pytest.mark.parametrize("name", QUEUE_NAMES)
def test_each_queue_is_encrypted_and_has_an_encrypted_dead_letter_queue(synth: Synthesized, name: str) -> None:
    work = synth.stack.queues[name]
    queue = synth.resources[synth.logical_id(work.queue)]["Properties"]
    dead_letters = synth.resources[synth.logical_id(work.dead_letters)]["Properties"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == synth.arn(work.dead_letters)
    assert queue["RedrivePolicy"]["maxReceiveCount"] > 0
    assert queue["SqsManagedSseEnabled"] is True
    assert dead_letters["SqsManagedSseEnabled"] is True


@pytest.mark.parametrize("name", EVENT_TOPIC_NAMES)
def test_event_topics_exist_encrypted_and_accept_end_user_messaging(synth: Synthesized, name: str) -> None:
    topic = synth.stack.topics[name].topic
    properties = synth.resources[synth.logical_id(topic)]["Properties"]
    assert properties["KmsMasterKeyId"] == synth.arn(synth.stack.messaging_key)
    synth.template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "Topics": [synth.ref(topic)],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Allow",
                                "Action": "sns:Publish",
                                "Principal": {"Service": "sms-voice.amazonaws.com"},
                            }
                        )
                    ]
                )
            },
        },
    )


# -- identity and the API ----------------------------------------------------------------------


def test_user_pool_is_invite_only_with_a_strong_password_policy(synth: Synthesized) -> None:
    pools = synth.of_type("AWS::Cognito::UserPool")
    assert len(pools) == 1
    properties = next(iter(pools.values()))["Properties"]
    assert properties["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    password = properties["Policies"]["PasswordPolicy"]
    assert password["MinimumLength"] >= 12
    assert all(password[rule] for rule in ("RequireLowercase", "RequireUppercase", "RequireNumbers", "RequireSymbols"))
    assert len(synth.of_type("AWS::Cognito::UserPoolClient")) == 1


def test_user_pool_has_a_group_per_role(synth: Synthesized) -> None:
    pool = synth.ref(synth.stack.identity.user_pool)
    groups = synth.of_type("AWS::Cognito::UserPoolGroup").values()
    assert {group["Properties"]["GroupName"] for group in groups} == set(ROLES) == {"admin", "supervisor", "agent"}
    assert all(group["Properties"]["UserPoolId"] == pool for group in groups)


def test_authorizer_points_at_the_user_pool_not_the_placeholder(synth: Synthesized) -> None:
    definition = synth.resources["RestAPI"]["Properties"]["DefinitionBody"]
    authorizer = definition["securityDefinitions"][cognito.name]["x-amazon-apigateway-authorizer"]
    assert authorizer["providerARNs"] == [synth.arn(synth.stack.identity.user_pool)]
    assert PLACEHOLDER_POOL_ARN not in json.dumps(synth.document)


def test_every_function_runs_as_the_stack_role_and_logs_to_its_own_group(synth: Synthesized) -> None:
    functions = synth.of_type("AWS::Serverless::Function")
    assert "APIHandler" in functions
    assert functions["APIHandler"]["Properties"]["Timeout"] <= 29  # API Gateway's integration limit
    groups = synth.of_type("AWS::Logs::LogGroup")
    for function in functions.values():
        assert function["Properties"]["Role"] == synth.arn(synth.stack.function_role)
        assert function["Properties"]["Tracing"] == "Active"
        log_group = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        assert log_group in groups
        assert {"Fn::GetAtt": [log_group, "Arn"]} in _resources(_statement(synth, "Logs"))


def test_the_import_worker_gets_two_vcpus_for_its_writer_process_and_the_rest_the_default(synth: Synthesized) -> None:
    imports_queue = synth.arn(synth.stack.queues["imports"].queue)
    sizes = {}
    for logical_id, function in synth.of_type("AWS::Serverless::Function").items():
        events = function["Properties"].get("Events", {}).values()
        consumes_imports = any(event["Properties"].get("Queue") == imports_queue for event in events)
        sizes[logical_id] = (consumes_imports, function["Properties"]["MemorySize"])
    assert [size for imports, size in sizes.values() if imports] == [IMPORT_MEMORY_MB], sizes
    assert {size for imports, size in sizes.values() if not imports} == {MEMORY_MB}, sizes


# -- least privilege ---------------------------------------------------------------------------


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _resources(statement: dict[str, Any]) -> list[Any]:
    return _as_list(statement.get("Resource", []))


def _role_statements(synth: Synthesized) -> list[dict[str, Any]]:
    """Every statement that grants the functions' role anything: inline policies and attached policies."""
    role_id = synth.logical_id(synth.stack.function_role)
    role = synth.resources[role_id]["Properties"]
    assert not role.get("ManagedPolicyArns"), "managed policies are not least privilege"
    statements = [s for policy in role.get("Policies", []) for s in policy["PolicyDocument"]["Statement"]]
    for policy in synth.of_type("AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"].get("Roles", []):
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _statement(synth: Synthesized, sid: str) -> dict[str, Any]:
    return next(s for s in _role_statements(synth) if s.get("Sid") == sid)


def _all_iam_statements(synth: Synthesized) -> list[dict[str, Any]]:
    statements = []
    for resource in synth.resources.values():
        if resource["Type"] == "AWS::IAM::Policy":
            statements += resource["Properties"]["PolicyDocument"]["Statement"]
        elif resource["Type"] == "AWS::IAM::Role":
            statements += [
                s for p in resource["Properties"].get("Policies", []) for s in p["PolicyDocument"]["Statement"]
            ]
    return statements


def test_no_iam_policy_in_the_stack_grants_every_action(synth: Synthesized) -> None:
    for statement in _all_iam_statements(synth):
        for action in _as_list(statement.get("Action", [])):
            assert action != "*" and not action.endswith(":*"), statement


def test_function_role_names_every_action_and_every_data_resource(synth: Synthesized) -> None:
    statements = _role_statements(synth)
    assert statements
    for statement in statements:
        assert statement["Effect"] == "Allow"
        assert "NotAction" not in statement and "NotResource" not in statement
        actions = _as_list(statement["Action"])
        assert all("*" not in action for action in actions), statement
        if {action.split(":")[0] for action in actions} & DATA_SERVICES:
            assert "*" not in _resources(statement), statement


def test_function_role_reaches_exactly_the_tables_and_their_indexes(synth: Synthesized) -> None:
    stack = synth.stack
    expected = []
    for env_var, table in stack.tables.items():
        arn = synth.arn(table)
        expected.append(arn)
        expected += [{"Fn::Join": ["", [arn, f"/index/{name}"]]} for name in stack.table_specs[env_var].index_names]
    dynamodb_statements = [
        s for s in _role_statements(synth) if any(a.startswith("dynamodb:") for a in _as_list(s["Action"]))
    ]
    granted = [resource for s in dynamodb_statements for resource in _resources(s)]
    assert sorted(map(json.dumps, granted)) == sorted(map(json.dumps, expected))
    assert "dynamodb:Scan" not in {a for s in dynamodb_statements for a in _as_list(s["Action"])}


# -- alarms ------------------------------------------------------------------------------------


def _alarms_on(synth: Synthesized, metric_name: str) -> list[dict[str, Any]]:
    return [
        a["Properties"]
        for a in synth.of_type("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == metric_name
    ]


def test_every_dead_letter_queue_alarms_on_any_message(synth: Synthesized) -> None:
    watched = [
        dimension["Value"]
        for alarm in _alarms_on(synth, "ApproximateNumberOfMessagesVisible")
        for dimension in alarm["Dimensions"]
        if alarm["Threshold"] == 0 and alarm["ComparisonOperator"] == "GreaterThanThreshold"
    ]
    for work in synth.stack.queues.values():
        assert {"Fn::GetAtt": [synth.logical_id(work.dead_letters), "QueueName"]} in watched


def test_api_5xx_and_function_errors_raise_alarms(synth: Synthesized) -> None:
    api_alarms = _alarms_on(synth, "5XXError")
    assert [a["Dimensions"] for a in api_alarms] == [
        [{"Name": "ApiName", "Value": "sms-engagement-prod"}, {"Name": "Stage", "Value": "api"}]
    ]
    assert synth.resources["RestAPI"]["Properties"]["Name"] == "sms-engagement-prod"
    errors = [d["Value"] for a in _alarms_on(synth, "Errors") for d in a["Dimensions"]]
    assert {"Ref": "APIHandler"} in errors
    for alarm in synth.of_type("AWS::CloudWatch::Alarm").values():
        assert alarm["Properties"]["AlarmActions"] == [synth.ref(synth.stack.alarm_topic)]


def test_errors_api_gateway_answers_itself_use_the_app_error_shape(synth: Synthesized) -> None:
    definition = synth.resources["RestAPI"]["Properties"]["DefinitionBody"]
    responses = definition["x-amazon-apigateway-gateway-responses"]
    assert set(responses) >= {"UNAUTHORIZED", "ACCESS_DENIED", "DEFAULT_4XX", "DEFAULT_5XX"}
    assert responses["UNAUTHORIZED"]["statusCode"] == 401
    unauthorized = responses["UNAUTHORIZED"]["responseTemplates"]["application/json"]
    assert json.loads(unauthorized) == {"error": {"code": "unauthorized", "message": "a valid user token is required"}}


def test_functions_send_through_eum_from_this_account_only(synth: Synthesized) -> None:
    statements = [
        statement
        for policy in synth.of_type("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ] + [
        statement
        for role in synth.of_type("AWS::IAM::Role").values()
        for policy in role["Properties"].get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
    ]
    (send,) = [s for s in statements if s.get("Sid") == "SendSms"]
    assert sorted(send["Action"]) == ["sms-voice:SendMediaMessage", "sms-voice:SendTextMessage"]
    assert all("sms-voice" in json.dumps(resource) and resource != "*" for resource in send["Resource"])
