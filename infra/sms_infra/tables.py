"""DynamoDB tables built from the PynamoDB models, never described a second time by hand.

`table_spec` reads the same schema PynamoDB uses for `create_table` (keys, key
types, every index with its projection, the TTL attribute), so a key or index
added to a model appears in the deployed table without touching infra.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct
from pynamodb.models import Model

_ATTRIBUTE_TYPES = {
    "S": dynamodb.AttributeType.STRING,
    "N": dynamodb.AttributeType.NUMBER,
    "B": dynamodb.AttributeType.BINARY,
}
_PROJECTIONS = {
    "ALL": dynamodb.ProjectionType.ALL,
    "KEYS_ONLY": dynamodb.ProjectionType.KEYS_ONLY,
    "INCLUDE": dynamodb.ProjectionType.INCLUDE,
}


@dataclass(frozen=True)
class Key:
    """One key attribute: its name and DynamoDB scalar type ("S", "N" or "B")."""

    name: str
    type: str

    def to_cdk(self) -> dynamodb.Attribute:
        return dynamodb.Attribute(name=self.name, type=_ATTRIBUTE_TYPES[self.type])


@dataclass(frozen=True)
class IndexSpec:
    name: str
    partition_key: Key
    sort_key: Key | None
    projection: str
    non_key_attributes: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableSpec:
    """Everything infra needs to know about one model's table."""

    model: str
    env_var: str
    partition_key: Key
    sort_key: Key | None
    global_indexes: tuple[IndexSpec, ...]
    local_indexes: tuple[IndexSpec, ...]
    ttl_attribute: str | None = None

    @property
    def construct_id(self) -> str:
        """`CONTACTS_TABLE` -> `ContactsTable`: keyed by the env var, the name the app knows the table by."""
        return "".join(part.capitalize() for part in self.env_var.split("_"))

    @property
    def index_names(self) -> tuple[str, ...]:
        return tuple(index.name for index in (*self.global_indexes, *self.local_indexes))


def table_spec(model: type[Model]) -> TableSpec:
    """Read a model's table definition from the schema PynamoDB itself creates tables from."""
    schema = model._get_schema()  # the one source `Model.create_table` also uses
    types = _attribute_types(schema["attribute_definitions"])
    partition_key, sort_key = _keys(schema["key_schema"], types)
    ttl = model._ttl_attribute()
    return TableSpec(
        model=model.__name__,
        env_var=model.Meta.table_env,
        partition_key=partition_key,
        sort_key=sort_key,
        global_indexes=tuple(_index_spec(index, types) for index in schema["global_secondary_indexes"]),
        local_indexes=tuple(_index_spec(index, types) for index in schema["local_secondary_indexes"]),
        ttl_attribute=ttl.attr_name if ttl is not None else None,
    )


def _attribute_types(definitions: Iterable[Mapping[str, str]]) -> dict[str, str]:
    return {definition["AttributeName"]: definition["AttributeType"] for definition in definitions}


def _keys(key_schema: Sequence[Mapping[str, str]], types: Mapping[str, str]) -> tuple[Key, Key | None]:
    """PynamoDB lists keys in attribute order, not HASH first; sort them out by role."""
    by_role = {key["KeyType"]: Key(key["AttributeName"], types[key["AttributeName"]]) for key in key_schema}
    return by_role["HASH"], by_role.get("RANGE")


def _index_spec(index: Mapping[str, Any], table_types: Mapping[str, str]) -> IndexSpec:
    types = {**table_types, **_attribute_types(index.get("attribute_definitions", ()))}
    partition_key, sort_key = _keys(index["key_schema"], types)
    projection = index["projection"]
    return IndexSpec(
        name=index["index_name"],
        partition_key=partition_key,
        sort_key=sort_key,
        projection=projection["ProjectionType"],
        non_key_attributes=tuple(projection.get("NonKeyAttributes", ())),
    )


def build_table(scope: Construct, spec: TableSpec) -> dynamodb.Table:
    """An on-demand, encrypted, point-in-time-recoverable table that outlives the stack.

    Table names are left to CloudFormation (no collisions between stages) and
    reach the code through the model's environment variable.
    """
    table = dynamodb.Table(
        scope,
        spec.construct_id,
        partition_key=spec.partition_key.to_cdk(),
        sort_key=spec.sort_key.to_cdk() if spec.sort_key else None,
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        encryption=dynamodb.TableEncryption.AWS_MANAGED,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        time_to_live_attribute=spec.ttl_attribute,
        deletion_protection=True,
        removal_policy=RemovalPolicy.RETAIN,
    )
    for index in spec.global_indexes:
        table.add_global_secondary_index(
            index_name=index.name,
            partition_key=index.partition_key.to_cdk(),
            sort_key=index.sort_key.to_cdk() if index.sort_key else None,
            **_projection_args(index),
        )
    for index in spec.local_indexes:
        if index.sort_key is None:
            raise ValueError(f"{spec.model}: local index {index.name} needs a sort key")
        table.add_local_secondary_index(
            index_name=index.name, sort_key=index.sort_key.to_cdk(), **_projection_args(index)
        )
    return table


def _projection_args(index: IndexSpec) -> dict[str, Any]:
    args: dict[str, Any] = {"projection_type": _PROJECTIONS[index.projection]}
    if index.non_key_attributes:
        args["non_key_attributes"] = list(index.non_key_attributes)
    return args


def index_arns(table: dynamodb.Table, spec: TableSpec) -> list[str]:
    """The exact ARN of every index, so grants never need a `/index/*` wildcard."""
    return [f"{table.table_arn}/index/{name}" for name in spec.index_names]
