"""Local tables are built from the models, and a table from an older schema is refused with the fix."""

from __future__ import annotations

import pytest
from pynamodb.attributes import UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.models.base import table_meta
from chalicelib.models.tables import SchemaOutdated, create_tables


class ByColour(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_colour"
        projection = AllProjection()

    colour = UnicodeAttribute(hash_key=True)


class Before(Model):
    Meta = table_meta("SCHEMA_TEST_TABLE")

    id = UnicodeAttribute(hash_key=True)


class After(Model):
    Meta = table_meta("SCHEMA_TEST_TABLE")

    id = UnicodeAttribute(hash_key=True)
    colour = UnicodeAttribute()
    by_colour = ByColour()


def test_a_table_missing_a_new_index_is_refused(dynamodb, monkeypatch):
    monkeypatch.setenv("SCHEMA_TEST_TABLE", "schema-test")
    assert create_tables([Before]) == ["schema-test"]
    try:
        assert create_tables([Before]) == []
        with pytest.raises(SchemaOutdated, match=r"lacks the indexes \['by_colour'\].*make reset"):
            create_tables([After])
    finally:
        Before.delete_table()
