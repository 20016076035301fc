"""The pure pieces of the stack, checked without synthesizing: model schemas, event sources, the authorizer."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.indexes import GlobalSecondaryIndex, IncludeProjection, KeysOnlyProjection, LocalSecondaryIndex
from pynamodb.models import Model

from chalicelib.models.base import table_meta
from sms_infra.chalice_app import authorizer_overrides, consumed_queues, event_source_overrides, isolated_packaging
from sms_infra.stack import queue_env, topic_env
from sms_infra.tables import IndexSpec, Key, table_spec

PLACEHOLDER = "arn:aws:cognito-idp:us-east-1:000000000000:userpool/placeholder"


class _ByOwner(LocalSecondaryIndex):
    class Meta:
        index_name = "by_owner"
        projection = IncludeProjection(["title"])

    tenant = UnicodeAttribute(hash_key=True)
    owner = UnicodeAttribute(range_key=True)


class _ByKind(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_kind"
        projection = KeysOnlyProjection()

    kind = UnicodeAttribute(hash_key=True)
    rank = NumberAttribute(range_key=True)


class _Thing(Model):
    """Exercises what the real models do not use yet: a number sort key, LSI, KEYS_ONLY/INCLUDE, TTL."""

    Meta = table_meta("THINGS_TABLE")

    tenant = UnicodeAttribute(hash_key=True)
    seq = NumberAttribute(range_key=True)
    owner = UnicodeAttribute()
    kind = UnicodeAttribute()
    rank = NumberAttribute()
    title = UnicodeAttribute(null=True)
    expires = TTLAttribute(null=True)

    by_owner = _ByOwner()
    by_kind = _ByKind()


def test_table_spec_reads_keys_indexes_and_ttl_from_the_model() -> None:
    spec = table_spec(_Thing)

    assert spec.env_var == "THINGS_TABLE"
    assert spec.construct_id == "ThingsTable"
    assert (spec.partition_key, spec.sort_key) == (Key("tenant", "S"), Key("seq", "N"))
    assert spec.global_indexes == (IndexSpec("by_kind", Key("kind", "S"), Key("rank", "N"), "KEYS_ONLY"),)
    assert spec.local_indexes == (IndexSpec("by_owner", Key("tenant", "S"), Key("owner", "S"), "INCLUDE", ("title",)),)
    assert spec.ttl_attribute == "expires"
    assert spec.index_names == ("by_kind", "by_owner")


def _sub(service: str, name: str) -> dict[str, str]:
    """How chalice writes a queue or topic it only knows by name."""
    return {"Fn::Sub": f"arn:${{AWS::Partition}}:{service}:${{AWS::Region}}:${{AWS::AccountId}}:{name}"}


QUEUES = {"imports": "arn:queue/imports-real"}
TOPICS = {"inbound-sms": "arn:topic/inbound-real"}


def test_event_sources_named_in_code_are_pointed_at_infra_resources() -> None:
    events = {
        "ImportWorkerSqsEventSource": {"Type": "SQS", "Properties": {"Queue": _sub("sqs", "imports"), "BatchSize": 1}},
        "InboundSnsSubscription": {"Type": "SNS", "Properties": {"Topic": _sub("sns", "inbound-sms")}},
    }

    assert event_source_overrides(events, QUEUES, TOPICS) == {
        "Events.ImportWorkerSqsEventSource.Properties.Queue": "arn:queue/imports-real",
        "Events.ImportWorkerSqsEventSource.Properties.FunctionResponseTypes": ["ReportBatchItemFailures"],
        "Events.InboundSnsSubscription.Properties.Topic": "arn:topic/inbound-real",
    }
    assert consumed_queues(events) == {"imports"}


def test_event_sources_given_a_full_arn_are_left_alone() -> None:
    events = {"Other": {"Type": "SQS", "Properties": {"Queue": "arn:aws:sqs:us-east-1:1:elsewhere"}}}
    assert event_source_overrides(events, QUEUES, TOPICS) == {}
    assert consumed_queues(events) == set(), "not a queue infra owns or sizes its consumers for"


def test_an_event_source_infra_does_not_own_fails_the_synth() -> None:
    events = {"Typo": {"Type": "SQS", "Properties": {"Queue": _sub("sqs", "import")}}}
    with pytest.raises(ValueError, match="'import'"):
        event_source_overrides(events, QUEUES, TOPICS)


def _definition(*provider_arns: str) -> dict:
    return {
        "securityDefinitions": {
            "CognitoUsers": {
                "x-amazon-apigateway-authorizer": {"type": "cognito_user_pools", "providerARNs": list(provider_arns)}
            },
            "Other": {"x-amazon-apigateway-authorizer": {"type": "token", "authorizerUri": "x"}},
        }
    }


def test_only_placeholder_authorizers_are_repointed() -> None:
    assert authorizer_overrides(_definition(PLACEHOLDER), PLACEHOLDER, "real-arn") == {
        "DefinitionBody.securityDefinitions.CognitoUsers.x-amazon-apigateway-authorizer.providerARNs": ["real-arn"]
    }


def test_a_missing_placeholder_fails_the_synth() -> None:
    with pytest.raises(ValueError, match="placeholder"):
        authorizer_overrides(_definition("arn:some-other-pool"), PLACEHOLDER, "real-arn")


def _process_state() -> tuple[dict[str, str], list[str], dict[str, object]]:
    return dict(os.environ), list(sys.path), dict(sys.modules)


def test_isolated_packaging_imports_the_project_fresh_and_puts_everything_back(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("")
    (tmp_path / "chalicelib").mkdir()
    (tmp_path / "chalicelib" / "__init__.py").write_text("")
    # A test session has usually imported the real project already.
    import chalicelib.models

    before = _process_state()
    with isolated_packaging(tmp_path, "eu-west-1"):
        assert sys.path[0] == str(tmp_path)
        assert not any(name == "chalicelib" or name.startswith("chalicelib.") for name in sys.modules)
        os.environ["CONTACTS_TABLE"] = "${Token[TOKEN.1]}"
        import app  # noqa: F401
        import chalicelib

        assert Path(chalicelib.__file__).parent == tmp_path / "chalicelib"
    assert _process_state() == before


def test_environment_variable_names() -> None:
    assert queue_env("imports") == "IMPORTS_QUEUE_URL"
    assert topic_env("delivery-events") == "DELIVERY_EVENTS_TOPIC_ARN"
