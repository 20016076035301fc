"""Creates the tables from the model definitions, for local runs and tests."""

from __future__ import annotations

from collections.abc import Iterable

from pynamodb.models import Model

from chalicelib.models import ALL_MODELS


class SchemaOutdated(RuntimeError):
    """A table exists without indexes its model now declares (local data from an older version)."""


def create_tables(models: Iterable[type[Model]] = ALL_MODELS) -> list[str]:
    """Create each missing table and return the names it created; safe to repeat.

    An existing table missing an index is refused rather than used: every list
    view would fail on it with an error far from the cause.
    """
    created = []
    for model in models:
        if not model.exists():
            model.create_table(wait=True)
            created.append(model.Meta.table_name)
            continue
        missing = _declared_indexes(model) - _existing_indexes(model)
        if missing:
            raise SchemaOutdated(
                f"table {model.Meta.table_name} lacks the indexes {sorted(missing)} that this version needs; "
                "`make reset` deletes the local data and starts afresh"
            )
    return created


def _declared_indexes(model: type[Model]) -> set[str]:
    schema = model._get_schema()
    return {index["index_name"] for index in schema.get("global_secondary_indexes", [])}


def _existing_indexes(model: type[Model]) -> set[str]:
    description = model.describe_table()
    return {index["IndexName"] for index in description.get("GlobalSecondaryIndexes", [])}
