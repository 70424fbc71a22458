"""Catalog behaviour, in the spirit of pyiceberg's tests/catalog/test_catalog_behaviors.py.

Every test runs against MemCatalog, SqlCatalog and InMemoryCatalog (and MemCatalog on
PostgreSQL in CI), so any difference from pyiceberg's reference shows up here.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import (
    CommitFailedException,
    NamespaceAlreadyExistsError,
    NamespaceNotEmptyError,
    NoSuchNamespaceError,
    NoSuchTableError,
    TableAlreadyExistsError,
)
from pyiceberg.expressions import EqualTo, GreaterThanOrEqual
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.table.sorting import SortField, SortOrder
from pyiceberg.transforms import DayTransform, IdentityTransform
from pyiceberg.types import StringType

from tests.helpers import SCHEMA, ids, rows

# --- namespaces ----------------------------------------------------------------------


def test_create_list_and_drop_namespaces(catalog: Catalog) -> None:
    catalog.create_namespace("a")
    catalog.create_namespace(("b", "c"), {"owner": "me"})
    assert ("a",) in catalog.list_namespaces()
    assert catalog.namespace_exists("b.c")
    assert catalog.list_namespaces("b") == [("b", "c")]
    assert catalog.load_namespace_properties("a") == {"exists": "true"}
    assert catalog.load_namespace_properties("b.c")["owner"] == "me"
    with pytest.raises(NamespaceAlreadyExistsError):
        catalog.create_namespace("a")
    catalog.drop_namespace("a")
    assert not catalog.namespace_exists("a")
    with pytest.raises(NoSuchNamespaceError):
        catalog.drop_namespace("a")


def test_namespace_properties_update_and_remove(catalog: Catalog) -> None:
    catalog.create_namespace("ns", {"k1": "v1", "k2": "v2"})
    summary = catalog.update_namespace_properties("ns", removals={"k1", "missing"}, updates={"k3": "v3"})
    assert sorted(summary.removed) == ["k1"] and summary.missing == ["missing"] and summary.updated == ["k3"]
    assert catalog.load_namespace_properties("ns") == {"k2": "v2", "k3": "v3"}
    with pytest.raises(NoSuchNamespaceError, match="Namespace nope does not exists"):
        catalog.load_namespace_properties("nope")


def test_drop_non_empty_namespace_fails(catalog: Catalog) -> None:
    catalog.create_namespace("full")
    catalog.create_table("full.t", SCHEMA)
    with pytest.raises(NamespaceNotEmptyError, match="Namespace full is not empty"):
        catalog.drop_namespace("full")


def test_sql_wildcards_in_names_are_literal(catalog: Catalog) -> None:
    catalog.create_namespace("a_b")
    assert not catalog.namespace_exists("axb")
    assert not catalog.namespace_exists("a%")


# --- tables ------------------------------------------------------------------------


def test_create_load_list_exists_drop(catalog: Catalog) -> None:
    catalog.create_namespace("db")
    spec = PartitionSpec(PartitionField(source_id=1, field_id=1000, transform=IdentityTransform(), name="id_part"))
    order = SortOrder(SortField(source_id=2, transform=IdentityTransform()))
    t = catalog.create_table("db.t", SCHEMA, partition_spec=spec, sort_order=order, properties={"p": "1"})
    loaded = catalog.load_table("db.t")
    assert loaded.schema() == t.schema()
    assert loaded.spec().fields[0].name == "id_part"
    assert loaded.sort_order().fields[0].source_id == 2
    assert loaded.properties["p"] == "1"
    assert catalog.table_exists("db.t") and not catalog.table_exists("db.u")
    assert catalog.list_tables("db") == [("db", "t")]
    with pytest.raises(TableAlreadyExistsError):
        catalog.create_table("db.t", SCHEMA)
    catalog.drop_table("db.t")
    with pytest.raises(NoSuchTableError, match=r"Table does not exist: db\.t"):
        catalog.load_table("db.t")
    with pytest.raises(NoSuchTableError):
        catalog.drop_table("db.t")


def test_create_table_in_missing_namespace(catalog: Catalog) -> None:
    with pytest.raises(NoSuchNamespaceError):
        catalog.create_table("nowhere.t", SCHEMA)


def test_create_table_transaction(catalog: Catalog) -> None:
    catalog.create_namespace("db")
    with catalog.create_table_transaction("db.tx", SCHEMA) as tx:
        tx.append(rows(5))
    assert ids(catalog.load_table("db.tx").scan().to_arrow()) == list(range(5))


def test_rename_across_namespaces_keeps_data(catalog: Catalog) -> None:
    catalog.create_namespace("src")
    catalog.create_namespace("dst")
    catalog.create_table("src.t", SCHEMA).append(rows(10))
    renamed = catalog.rename_table("src.t", "dst.t2")
    assert renamed.name() == ("dst", "t2")
    assert not catalog.table_exists("src.t")
    assert ids(catalog.load_table("dst.t2").scan().to_arrow()) == list(range(10))
    with pytest.raises(NoSuchNamespaceError):
        catalog.rename_table("dst.t2", "missing.t")


def test_register_table_from_metadata_location(catalog: Catalog) -> None:
    catalog.create_namespace("db")
    src = catalog.create_table("db.src", SCHEMA)
    src.append(rows(3))
    src = catalog.load_table("db.src")
    registered = catalog.register_table("db.copy", src.metadata_location)
    assert ids(registered.scan().to_arrow()) == [0, 1, 2]
    with pytest.raises(TableAlreadyExistsError):
        catalog.register_table("db.copy", src.metadata_location)
    catalog.drop_table("db.copy")  # shares files with db.src: drop, do not purge


def test_purge_table(catalog: Catalog) -> None:
    catalog.create_namespace("db")
    catalog.create_table("db.p", SCHEMA).append(rows(10))
    catalog.purge_table("db.p")
    assert not catalog.table_exists("db.p")


# --- commits and data ----------------------------------------------------------------


def test_append_overwrite_delete_upsert(catalog: Catalog) -> None:
    catalog.create_namespace("db")
    t = catalog.create_table("db.t", SCHEMA)
    t.append(rows(10))
    t.append(rows(5, start=10))
    assert ids(t.scan().to_arrow()) == list(range(15))
    t.delete(GreaterThanOrEqual("id", 12))
    assert ids(t.scan().to_arrow()) == list(range(12))
    t.overwrite(rows(3, start=100))
    assert ids(t.scan().to_arrow()) == [100, 101, 102]
    upd = rows(2, start=102).set_column(1, "name", pa.array(["changed", "changed"]))
    result = t.upsert(upd, join_cols=["id"])
    assert (result.rows_updated, result.rows_inserted) == (1, 1)
    got = t.scan().to_arrow().sort_by("id")
    assert got.column("name").to_pylist() == ["name-100", "name-101", "changed", "changed"]
    filtered = t.scan(row_filter=EqualTo("id", 100)).to_arrow()
    assert ids(filtered) == [100]


def test_time_travel_to_every_snapshot(catalog: Catalog) -> None:
    catalog.create_namespace("db")
    t = catalog.create_table("db.tt", SCHEMA)
    expected: list[tuple[int, list[int]]] = []
    for i in range(4):
        t.append(rows(2, start=i * 2))
        snap = t.current_snapshot()
        assert snap is not None
        expected.append((snap.snapshot_id, list(range((i + 1) * 2))))
    fresh = catalog.load_table("db.tt")
    assert len(fresh.history()) == 4
    for snapshot_id, want in expected:
        assert ids(fresh.scan(snapshot_id=snapshot_id).to_arrow()) == want


def test_schema_and_partition_evolution(catalog: Catalog) -> None:
    catalog.create_namespace("db")
    t = catalog.create_table("db.ev", SCHEMA)
    t.append(rows(3))
    with t.update_schema() as u:
        u.add_column("extra", StringType())
        u.rename_column("name", "label")
    with t.update_spec() as s:
        s.add_field("ts", DayTransform(), "ts_day")
    t.append(
        pa.table(
            {
                "id": pa.array([3], pa.int64()),
                "label": pa.array(["x"]),
                "ts": pa.array([rows(1).column("ts")[0].as_py()], pa.timestamp("us", "UTC")),
                "extra": pa.array(["e"]),
            }
        )
    )
    got = catalog.load_table("db.ev").scan().to_arrow().sort_by("id")
    assert got.column_names == ["id", "label", "ts", "extra"]
    assert got.column("extra").to_pylist() == [None, None, None, "e"]
    assert pc.sum(got.column("id")).as_py() == 6
    assert catalog.load_table("db.ev").spec().fields[0].name == "ts_day"


def test_stale_commit_is_rejected_with_commit_failed(catalog: Catalog) -> None:
    catalog.create_namespace("db")
    t = catalog.create_table("db.cas", SCHEMA)
    stale = catalog.load_table("db.cas")
    t.update_schema().add_column("a", StringType()).commit()
    with pytest.raises(CommitFailedException):
        stale.update_schema().add_column("b", StringType()).commit()
    assert [f.name for f in catalog.load_table("db.cas").schema().fields] == ["id", "name", "ts", "a"]
