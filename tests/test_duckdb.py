"""DuckDB's iceberg_scan (an independent C++ reader) and pyiceberg read the same tables; they must agree row for row."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.transforms import BucketTransform, DayTransform, IdentityTransform, TruncateTransform
from pyiceberg.types import (
    BinaryType,
    BooleanType,
    DateType,
    DecimalType,
    DoubleType,
    FixedType,
    FloatType,
    IntegerType,
    ListType,
    LongType,
    MapType,
    NestedField,
    StringType,
    StructType,
    TimestampType,
    TimestamptzType,
    TimeType,
    UUIDType,
)

import memcatalog
import memcatalog.duckdb
from memcatalog import MemCatalog
from memcatalog.errors import ExtensionNotAvailableError


@pytest.fixture
def cat(memcatalog_catalog: MemCatalog) -> Iterator[MemCatalog]:
    """The plugin's catalog with a namespace ``db``."""
    memcatalog_catalog.create_namespace("db")
    yield memcatalog_catalog
    memcatalog_catalog.reclaim()
    assert memcatalog_catalog.check() == []  # stricter than the plugin's own audit: no unreferenced file either


def normalise(value: Any) -> Any:
    """Bring both readers' Python values to one form (DuckDB gives UUID objects and dict maps)."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items()}
    if isinstance(value, list) and value and isinstance(value[0], tuple) and len(value[0]) == 2:
        return {k: normalise(v) for k, v in value}  # pyarrow map -> list of pairs
    if isinstance(value, list):
        return [normalise(v) for v in value]
    if isinstance(value, bytearray):
        return bytes(value)
    return value


def rows_of(table: pa.Table, key: str) -> list[dict[str, Any]]:
    out = []
    for r in table.to_pylist():
        row = {k: normalise(v) for k, v in r.items()}
        if isinstance(row.get("u"), bytes):  # pyiceberg reads uuid as 16 bytes, DuckDB as text
            row["u"] = str(uuid.UUID(bytes=row["u"]))
        out.append(row)
    return sorted(out, key=lambda r: r[key])


def assert_same(
    con: memcatalog.duckdb.CatalogConnection, cat: MemCatalog, name: str, key: str = "id", **scan: Any
) -> None:
    table = cat.load_table(name)
    expected = table.scan(**scan).to_arrow()
    if scan.get("snapshot_id") is not None:
        got = con.at_snapshot(name, snapshot_id=scan["snapshot_id"]).to_arrow_table()
    else:
        got = con.sql(f"SELECT * FROM {name}").to_arrow_table()
    assert got.num_rows == expected.num_rows
    assert rows_of(got, key) == rows_of(expected, key)


ALL_TYPES = Schema(
    NestedField(1, "id", LongType(), required=True),
    NestedField(2, "b", BooleanType()),
    NestedField(3, "i", IntegerType()),
    NestedField(4, "f", FloatType()),
    NestedField(5, "d", DoubleType()),
    NestedField(6, "dec", DecimalType(18, 4)),
    NestedField(7, "date", DateType()),
    NestedField(8, "time", TimeType()),
    NestedField(9, "ts", TimestampType()),
    NestedField(10, "tstz", TimestamptzType()),
    NestedField(11, "s", StringType()),
    NestedField(12, "u", UUIDType()),
    NestedField(13, "fx", FixedType(4)),
    NestedField(14, "bin", BinaryType()),
    NestedField(15, "st", StructType(NestedField(16, "zip", StringType()), NestedField(17, "n", IntegerType()))),
    NestedField(18, "tags", ListType(19, StringType(), element_required=False)),
    NestedField(20, "attrs", MapType(21, StringType(), 22, LongType(), value_required=False)),
)


def all_type_rows(n: int) -> list[dict[str, Any]]:
    base = dt.datetime(2026, 3, 1, 12, 0, 0)
    return [
        {
            "id": i,
            "b": i % 2 == 0,
            "i": i * 7,
            "f": float(i) / 2,
            "d": i / 3,
            "dec": decimal.Decimal(f"{i}.{i % 10000:04d}"),
            "date": (base + dt.timedelta(days=i)).date(),
            "time": dt.time(i % 24, i % 60),
            "ts": base + dt.timedelta(minutes=i),
            "tstz": (base + dt.timedelta(minutes=i)).replace(tzinfo=dt.timezone.utc),
            "s": f"s{i}" if i % 5 else None,
            "u": uuid.UUID(int=i),
            "fx": i.to_bytes(4, "big"),
            "bin": bytes([i % 256]) * (i % 4),
            "st": {"zip": f"{i:05d}", "n": i},
            "tags": [f"t{j}" for j in range(i % 3)],
            "attrs": {"a": i, "b": None},
        }
        for i in range(n)
    ]


def test_connect_is_one_call_and_loads_extensions_offline(cat: MemCatalog) -> None:
    cat.create_table("db.e", Schema(NestedField(1, "id", LongType()))).append(
        pa.table({"id": pa.array([1, 2], pa.int64())})
    )
    con = memcatalog.duckdb.connect(cat)
    assert con.sql("SELECT sum(id) FROM db.e").fetchone() == (3,)
    loaded = con.sql("SELECT extension_name FROM duckdb_extensions() WHERE loaded").fetchall()
    assert {"iceberg", "avro"} <= {r[0] for r in loaded}


def test_missing_extension_package_gives_install_hint(cat: MemCatalog, monkeypatch: pytest.MonkeyPatch) -> None:
    import duckdb

    real_import = memcatalog.duckdb.importlib.import_module

    def no_packages(name: str) -> Any:
        if name.startswith("duckdb_extension_"):
            raise ModuleNotFoundError(name)
        return real_import(name)

    monkeypatch.setattr(memcatalog.duckdb.importlib, "import_module", no_packages)
    con = duckdb.connect(config={"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"})
    con.execute("SET extension_directory = '/nonexistent-memcatalog-test'")
    with pytest.raises(ExtensionNotAvailableError, match=r"duckdb-extension-nonexistent==\d"):
        memcatalog.duckdb.load_extension(con, "nonexistent")


def test_all_types_agree(cat: MemCatalog) -> None:
    cat.create_table("db.types", ALL_TYPES)
    with cat.writer("db.types") as w:
        w.write(all_type_rows(50))
    assert cat.load_table("db.types").scan().to_arrow().num_rows == 50
    assert_same(memcatalog.duckdb.connect(cat), cat, "db.types")


@pytest.mark.parametrize(
    "transform,source",
    [(IdentityTransform(), "cat"), (DayTransform(), "ts"), (BucketTransform(4), "id"), (TruncateTransform(2), "cat")],
    ids=["identity", "day", "bucket", "truncate"],
)
def test_partitioned_tables_agree(cat: MemCatalog, transform: Any, source: str) -> None:
    schema = Schema(
        NestedField(1, "id", LongType()), NestedField(2, "cat", StringType()), NestedField(3, "ts", TimestamptzType())
    )
    source_id = schema.find_field(source).field_id
    spec = PartitionSpec(PartitionField(source_id, 1000, transform, f"p_{source}"))
    t = cat.create_table("db.part", schema, partition_spec=spec)
    base = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    data = pa.table(
        {
            "id": pa.array(range(200), pa.int64()),
            "cat": pa.array([f"c{i % 7}x" for i in range(200)]),
            "ts": pa.array([base + dt.timedelta(hours=i * 5) for i in range(200)], pa.timestamp("us", "UTC")),
        }
    )
    t.append(data)
    assert len(t.inspect.partitions()) > 1
    assert_same(memcatalog.duckdb.connect(cat), cat, "db.part")


def test_snapshots_overwrite_delete_evolution_and_time_travel(cat: MemCatalog) -> None:
    schema = Schema(
        NestedField(1, "id", LongType()), NestedField(2, "v", IntegerType()), NestedField(3, "s", StringType())
    )
    t = cat.create_table("db.hist", schema)
    con = memcatalog.duckdb.connect(cat)

    def batch(start: int, n: int) -> pa.Table:
        return pa.table(
            {
                "id": pa.array(range(start, start + n), pa.int64()),
                "v": pa.array(range(n), pa.int32()),
                "s": [f"x{i}" for i in range(n)],
            }
        )

    t.append(batch(0, 10))
    t.append(batch(10, 10))
    t.delete("id >= 15")
    t.overwrite(batch(100, 5))
    t.append(batch(200, 3))
    with t.update_schema() as u:
        u.add_column("extra", StringType())
        u.rename_column("s", "label")
        u.update_column("v", LongType())  # widen int -> long
    t.append(
        pa.table({"id": pa.array([250], pa.int64()), "v": pa.array([1], pa.int64()), "label": ["e"], "extra": ["x"]})
    )
    with t.update_schema() as u:
        u.delete_column("extra")
    t.append(pa.table({"id": pa.array([300], pa.int64()), "v": pa.array([2**40], pa.int64()), "label": ["wide"]}))
    assert_same(con, cat, "db.hist")
    for snapshot in cat.load_table("db.hist").snapshots():
        assert_same(con, cat, "db.hist", snapshot_id=snapshot.snapshot_id)
    snaps = con.snapshots("db.hist").fetchall()
    assert len(snaps) == len(cat.load_table("db.hist").snapshots())
    assert con.metadata("db.hist").to_arrow_table().num_rows > 0


def two_snapshots(cat: MemCatalog, name: str) -> Any:
    """A table holding [1] at its first snapshot and [1, 2] now; returns the first snapshot."""
    import time

    t = cat.create_table(name, Schema(NestedField(1, "id", LongType())))
    t.append(pa.table({"id": pa.array([1], pa.int64())}))
    first = cat.load_table(name).current_snapshot()
    assert first is not None
    time.sleep(0.01)  # distinct millisecond timestamps
    t.append(pa.table({"id": pa.array([2], pa.int64())}))
    return first


def test_time_travel_by_timestamp(cat: MemCatalog) -> None:
    first = two_snapshots(cat, "db.tt")
    con = memcatalog.duckdb.connect(cat)
    at = dt.datetime.fromtimestamp(first.timestamp_ms / 1000, dt.timezone.utc).replace(tzinfo=None)
    assert con.at_snapshot("db.tt", timestamp=at).fetchall() == [(1,)]
    assert sorted(con.sql("SELECT id FROM db.tt").fetchall()) == [(1,), (2,)]


def test_empty_table(cat: MemCatalog) -> None:
    cat.create_table("db.empty", ALL_TYPES)
    assert memcatalog.duckdb.connect(cat).sql("SELECT count(*) FROM db.empty").fetchone() == (0,)


def test_views_follow_the_catalog(cat: MemCatalog) -> None:
    schema = Schema(NestedField(1, "id", LongType()))
    con = memcatalog.duckdb.connect(cat)
    cat.create_table("db.a", schema).append(pa.table({"id": pa.array([1], pa.int64())}))
    assert con.sql("SELECT count(*) FROM db.a").fetchone() == (1,)  # new table
    cat.load_table("db.a").append(pa.table({"id": pa.array([2], pa.int64())}))
    assert con.sql("SELECT count(*) FROM db.a").fetchone() == (2,)  # append
    cat.create_namespace("other")
    cat.rename_table("db.a", "other.b")
    assert con.sql("SELECT count(*) FROM other.b").fetchone() == (2,)  # rename
    with pytest.raises(Exception, match=r"db\.a|a does not exist"):
        con.sql("SELECT * FROM db.a").fetchall()
    cat.drop_table("other.b")
    with pytest.raises(Exception, match=r"b does not exist|other\.b"):
        con.sql("SELECT * FROM other.b").fetchall()


def test_several_connections_and_several_catalogs(cat: MemCatalog) -> None:
    schema = Schema(NestedField(1, "id", LongType()))
    cat.create_table("db.t", schema).append(pa.table({"id": pa.array([1, 2], pa.int64())}))
    other = MemCatalog(f"o{uuid.uuid4().hex[:8]}")
    other.create_namespace("db")
    other.create_table("db.t", schema).append(pa.table({"id": pa.array([10], pa.int64())}))
    a = memcatalog.duckdb.connect(cat)
    b = memcatalog.duckdb.connect(cat)
    assert a.sql("SELECT sum(id) FROM db.t").fetchone() == b.sql("SELECT sum(id) FROM db.t").fetchone() == (3,)
    both = memcatalog.duckdb.connect(cat, other)
    q = f"SELECT (SELECT sum(id) FROM db.t), (SELECT sum(id) FROM {other.name}.db.t)"
    assert both.sql(q).fetchone() == (3, 10)
    memcatalog.drop_pool(other.name)


def test_query_results_append_through_the_validating_writer(cat: MemCatalog) -> None:
    cat.create_table("db.src", Schema(NestedField(1, "id", LongType()), NestedField(2, "s", StringType())))
    cat.load_table("db.src").append(pa.table({"id": pa.array(range(10), pa.int64()), "s": [str(i) for i in range(10)]}))
    cat.create_table(
        "db.agg", Schema(NestedField(1, "n", LongType(), required=True), NestedField(2, "total", LongType()))
    )
    con = memcatalog.duckdb.connect(cat)
    assert con.append("db.agg", "SELECT count(*) AS n, sum(id)::BIGINT AS total FROM db.src") == 1
    assert con.sql("SELECT n, total FROM db.agg").fetchall() == [(10, 45)]
    with pytest.raises(memcatalog.SchemaValidationError):
        con.append("db.agg", "SELECT NULL::BIGINT AS n, 1::BIGINT AS total")
    assert con.sql("SELECT count(*) FROM db.agg").fetchone() == (1,)


def test_append_passes_writer_options_on(cat: MemCatalog) -> None:
    cat.create_table("db.over", Schema(NestedField(1, "n", LongType())))
    con = memcatalog.duckdb.connect(cat)
    con.append("db.over", "SELECT 1::BIGINT AS n")
    assert con.append("db.over", "SELECT 2::BIGINT AS n", mode="overwrite") == 1
    assert con.sql("SELECT n FROM db.over").fetchall() == [(2,)]


def test_append_options_are_the_table_writers_keywords() -> None:
    import inspect

    from memcatalog.writer import TableWriter

    keywords = {
        name for name, p in inspect.signature(TableWriter.__init__).parameters.items() if p.kind is p.KEYWORD_ONLY
    }
    assert set(memcatalog.duckdb.WriterOptions.__optional_keys__) == keywords


def test_sql_passes_params_and_alias_to_duckdb(cat: MemCatalog) -> None:
    cat.create_table("db.p", Schema(NestedField(1, "id", LongType()))).append(pa.table({"id": pa.array([1, 2, 3])}))
    con = memcatalog.duckdb.connect(cat)
    assert con.sql("SELECT count(*) FROM db.p WHERE id > ?", params=[1]).fetchone() == (2,)
    assert con.sql("SELECT 1", alias="q").alias == "q"
    unnamed = con.raw.sql("SELECT 1").alias.rsplit("_", 1)[0]  # DuckDB's own default: unnamed_relation_<random>
    assert con.sql("SELECT 1").alias.rsplit("_", 1)[0] == unnamed


def test_time_travel_from_sql(cat: MemCatalog) -> None:
    first = two_snapshots(cat, "db.tt_sql")
    con = memcatalog.duckdb.connect(cat)
    assert con.sql(f"SELECT id FROM db.tt_sql_at_snapshot({first.snapshot_id})").fetchall() == [(1,)]
    at = dt.datetime.fromtimestamp(first.timestamp_ms / 1000, dt.timezone.utc).replace(tzinfo=None)
    assert con.sql(f"SELECT id FROM db.tt_sql_as_of(TIMESTAMP '{at}')").fetchall() == [(1,)]
    cat.drop_table("db.tt_sql")
    with pytest.raises(Exception, match="tt_sql_at_snapshot"):
        con.sql(f"SELECT * FROM db.tt_sql_at_snapshot({first.snapshot_id})").fetchall()
