"""Engines in another process, which does not import memcatalog, read and write through `serve(s3=True)`.

Each knows only the REST catalog's URL: table locations are s3://<pool>/..., and the S3
endpoint and its credentials come from /v1/config and loadTable. This process (the server)
sees every change, and its audit stays clean.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

import memcatalog
import memcatalog.rest
from memcatalog import MemCatalog
from memcatalog.rest import RestServer
from tests.s3.outside import run_outside

slow = pytest.mark.slow  # each starts interpreters that import DuckDB, pyiceberg or polars (2-4 s)


@pytest.fixture
def cat() -> Iterator[MemCatalog]:
    catalog = MemCatalog(f"out{uuid.uuid4().hex[:10]}")
    catalog.create_namespace("db")
    yield catalog
    assert catalog.check() == []
    assert catalog.pool.stats().reserved == 0
    memcatalog.drop_pool(catalog.pool.name)


@pytest.fixture
def server(cat: MemCatalog) -> Iterator[RestServer]:
    with memcatalog.rest.serve(cat, s3=True) as s:
        yield s


def _rows(cat: MemCatalog, name: str) -> list[dict[str, object]]:
    table = cat.load_table(name)
    return sorted(table.scan().to_arrow().to_pylist(), key=lambda r: str(r["n"]))


@slow
def test_duckdb_creates_inserts_updates_deletes(cat: MemCatalog, server: RestServer, tmp_path: Path) -> None:
    step = """
    import os
    con = connect()
    con.execute(f"ATTACH '{os.environ['CATALOG']}' AS lake (TYPE iceberg, ENDPOINT '{os.environ['URI']}', AUTHORIZATION_TYPE 'none')")
    con.execute(os.environ["SQL"])
    done(con.sql("SELECT n, s FROM lake.db.t ORDER BY n").fetchall() if os.environ.get("READ") else [])
    """
    env = {"URI": server.url, "CATALOG": cat.name}
    run_outside(step, tmp_path, duckdb=True, SQL="CREATE TABLE lake.db.t (n BIGINT, s VARCHAR)", **env)
    assert cat.load_table("db.t").location().startswith(f"s3://{cat.pool.name}/")
    run_outside(step, tmp_path, duckdb=True, SQL="INSERT INTO lake.db.t VALUES (1, 'a'), (2, 'b'), (3, 'c')", **env)
    assert _rows(cat, "db.t") == [{"n": 1, "s": "a"}, {"n": 2, "s": "b"}, {"n": 3, "s": "c"}]
    run_outside(step, tmp_path, duckdb=True, SQL="UPDATE lake.db.t SET s = 'B' WHERE n = 2", **env)
    assert _rows(cat, "db.t") == [{"n": 1, "s": "a"}, {"n": 2, "s": "B"}, {"n": 3, "s": "c"}]
    seen = run_outside(step, tmp_path, duckdb=True, SQL="DELETE FROM lake.db.t WHERE n = 3", READ="1", **env)
    assert seen == [[1, "a"], [2, "B"]]
    assert _rows(cat, "db.t") == [{"n": 1, "s": "a"}, {"n": 2, "s": "B"}]
    cat.load_table("db.t").append(pa.table({"n": pa.array([4], pa.int64()), "s": ["from the server"]}))
    seen = run_outside(step, tmp_path, duckdb=True, SQL="SELECT 1", READ="1", **env)
    assert seen[-1] == [4, "from the server"]


@slow
def test_pyiceberg_rest_catalog_with_only_the_url(cat: MemCatalog, server: RestServer, tmp_path: Path) -> None:
    code = """
    import os
    import pyarrow as pa
    from pyiceberg.catalog.rest import RestCatalog
    from pyiceberg.expressions import EqualTo
    catalog = RestCatalog("outside", uri=os.environ["URI"])
    t = catalog.create_table("db.events", pa.schema([("n", pa.int64()), ("s", pa.string())]))
    t.append(pa.table({"n": [1, 2, 3], "s": ["a", "b", "c"]}))
    first = t.current_snapshot().snapshot_id
    t.append(pa.table({"n": [4], "s": ["d"]}))
    t.delete(EqualTo("n", 2))
    after_delete = sorted(t.scan().to_arrow()["n"].to_pylist())
    t.overwrite(pa.table({"n": [10, 20], "s": ["x", "y"]}))
    done({
        "io": type(t.io).__name__,
        "first": sorted(t.scan(snapshot_id=first).to_arrow()["n"].to_pylist()),
        "after_delete": after_delete,
        "now": sorted(catalog.load_table("db.events").scan().to_arrow()["n"].to_pylist()),
        "snapshots": len(t.history()),
    })
    """
    result = run_outside(code, tmp_path, URI=server.url)
    assert result["io"] == "PyArrowFileIO"
    assert result["first"] == [1, 2, 3]  # time travel
    assert result["after_delete"] == [1, 3, 4]
    assert result["now"] == [10, 20]
    assert _rows(cat, "db.events") == [{"n": 10, "s": "x"}, {"n": 20, "s": "y"}]
    table = cat.load_table("db.events")
    assert len(table.history()) == result["snapshots"]
    assert sorted(table.scan(snapshot_id=table.history()[0].snapshot_id).to_arrow()["n"].to_pylist()) == [1, 2, 3]


POLARS = """
import os
import polars as pl
from pyiceberg.catalog.rest import RestCatalog
table = RestCatalog("outside", uri=os.environ["URI"]).load_table(os.environ["TABLE"])
# Without the polars_iceberg planner, polars' native reader takes the S3 settings as storage_options;
# they are the ones the catalog vended (the table's FileIO properties).
vended = {k: v for k, v in table.io.properties.items() if k.startswith("s3.")}
frame = pl.scan_iceberg(table, reader_override="native", storage_options=vended).select(pl.col("n").sum().alias("total"), pl.len().alias("rows"))
done(frame.collect().to_dicts()[0])
"""


@slow
def test_polars_native_reader_reads_a_table_written_by_pyiceberg(
    cat: MemCatalog, server: RestServer, tmp_path: Path
) -> None:
    cat.create_table("db.p", pa.schema([("n", pa.int64())])).append(pa.table({"n": list(range(100))}))
    assert run_outside(POLARS, tmp_path, URI=server.url, TABLE="db.p", POLARS_ICEBERG_PLANNER="pyiceberg") == {
        "total": 4950,
        "rows": 100,
    }


@slow
def test_polars_native_reader_reads_a_table_written_by_duckdb(
    cat: MemCatalog, server: RestServer, tmp_path: Path
) -> None:
    write = """
    import os
    con = connect()
    con.execute(f"ATTACH '{os.environ['CATALOG']}' AS lake (TYPE iceberg, ENDPOINT '{os.environ['URI']}', AUTHORIZATION_TYPE 'none')")
    con.execute("CREATE TABLE lake.db.d AS SELECT range::BIGINT AS n FROM range(10)")
    done([])
    """
    run_outside(write, tmp_path, duckdb=True, URI=server.url, CATALOG=cat.name)
    assert run_outside(POLARS, tmp_path, URI=server.url, TABLE="db.d", POLARS_ICEBERG_PLANNER="pyiceberg") == {
        "total": 45,
        "rows": 10,
    }
