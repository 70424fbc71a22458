"""MemCatalog's view methods in Python: a name no view can have is not found, as for tables; a new view's name is checked."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from pyiceberg.exceptions import NoSuchTableError, NoSuchViewError
from pyiceberg.schema import Schema
from pyiceberg.types import LongType, NestedField
from pyiceberg.view.metadata import SQLViewRepresentation, ViewRepresentation, ViewVersion

import memcatalog
from memcatalog import MemCatalog

SCHEMA = Schema(NestedField(1, "a", LongType(), required=False))
IMPOSSIBLE = [("ns", "a.b"), ("ns", "a/b"), ("ns", ""), ("ns", "x\ny")]


def version(sql: str) -> ViewVersion:
    return ViewVersion.model_validate(
        {
            "schema-id": 0,
            "representations": [ViewRepresentation(SQLViewRepresentation(type="sql", sql=sql, dialect="duckdb"))],
            "default-namespace": ["ns"],
        }
    )


@pytest.fixture
def cat() -> Iterator[MemCatalog]:
    c = MemCatalog(f"v{uuid.uuid4().hex[:10]}")
    c.create_namespace("ns")
    c.create_view("ns.v", SCHEMA, version("SELECT 1 AS a"))
    yield c
    c.close()
    memcatalog.drop_pool(c.pool.name)


@pytest.mark.parametrize("identifier", IMPOSSIBLE)
def test_lookups_of_a_name_no_view_can_have_find_nothing_like_tables(
    cat: MemCatalog, identifier: tuple[str, str]
) -> None:
    assert cat.table_exists(identifier) is False  # the oracle: tables behave so
    assert cat.view_exists(identifier) is False
    with pytest.raises(NoSuchTableError):
        cat.load_table(identifier)
    with pytest.raises(NoSuchViewError):
        cat.load_view(identifier)
    with pytest.raises(NoSuchViewError):
        cat.drop_view(identifier)
    with pytest.raises(NoSuchViewError):
        cat.rename_view(identifier, ("ns", "w"))
    assert cat.list_views("ns") == [("ns", "v")]


@pytest.mark.parametrize("identifier", IMPOSSIBLE)
def test_a_new_view_name_is_still_checked(cat: MemCatalog, identifier: tuple[str, str]) -> None:
    with pytest.raises(ValueError, match="invalid view name"):
        cat.create_view(identifier, SCHEMA, version("SELECT 2 AS a"))
    with pytest.raises(ValueError, match="invalid view name"):
        cat.rename_view("ns.v", identifier)
    assert cat.list_views("ns") == [("ns", "v")]


def test_registering_a_missing_view_file_says_what_is_missing(cat: MemCatalog) -> None:
    missing = f"memcat://{cat.pool.name}/nowhere/metadata/00000-x.metadata.json"
    with pytest.raises(FileNotFoundError, match=r"no file at .*nowhere.*existing view metadata file"):
        cat.register_view("ns.r", missing)
    assert not cat.view_exists("ns.r")
