"""Creates the tables from the model definitions, for local runs and tests."""

from __future__ import annotations

from collections.abc import Iterable

from pynamodb.models import Model

from chalicelib.models import ALL_MODELS


def create_tables(models: Iterable[type[Model]] = ALL_MODELS) -> list[str]:
    """Create each missing table and return the names it created; safe to repeat."""
    created = []
    for model in models:
        if not model.exists():
            model.create_table(wait=True)
            created.append(model.Meta.table_name)
    return created
