"""pyiceberg's private API that memcatalog relies on (memcatalog/pyiceberg_internals.py), called directly.

A pyiceberg release that renames or changes one of these fails here, by name,
instead of deep inside a REST request or a commit.
"""

from __future__ import annotations

import uuid

import pyarrow as pa
from pyiceberg.table.metadata import TableMetadataV1

import memcatalog
from memcatalog import MemCatalog, pyiceberg_internals

# ---- issue 16: the REST server ---------------------------------------------------------


def test_empty_table_metadata_is_the_base_of_a_creating_commit() -> None:
    metadata = pyiceberg_internals.empty_table_metadata()
    assert isinstance(metadata, TableMetadataV1)
    assert metadata.last_column_id == -1 and metadata.format_version == 1


def test_resolve_table_location_matches_create_table() -> None:
    cat = MemCatalog(f"pc{uuid.uuid4().hex[:8]}")
    cat.create_namespace("db")
    resolved = pyiceberg_internals.resolve_table_location(cat, None, "db", "t")
    assert cat.create_table("db.t", pa.schema([("a", pa.int64())])).metadata.location == resolved
    assert pyiceberg_internals.resolve_table_location(cat, "memcat://x/y/", "db", "t") == "memcat://x/y"
    memcatalog.drop_pool(cat.pool.name)


def test_table_row_and_type_filter_and_schema_version() -> None:
    cat = MemCatalog(f"pc{uuid.uuid4().hex[:8]}")
    row = pyiceberg_internals.table_row(cat, "db", "t", "memcat://x/m.json")
    assert row == {
        "catalog_name": cat.name,
        "table_namespace": "db",
        "table_name": "t",
        "metadata_location": "memcat://x/m.json",
        "previous_metadata_location": None,
        "iceberg_type": "TABLE",
    }
    assert pyiceberg_internals.table_type_filter(cat) is not None
    assert pyiceberg_internals.schema_version(cat) == "v1"
    memcatalog.drop_pool(cat.pool.name)
