"""``memcatalog demo``: TPC-H into an in-memory catalog, queried by DuckDB and pyiceberg, offline."""

from __future__ import annotations

import time
import uuid

import pyarrow as pa
import pyarrow.compute as pc
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

import memcatalog.duckdb as mduck
from memcatalog.catalog import MemCatalog
from memcatalog.cli.output import print_relation, print_table
from memcatalog.config import DEFAULT_QUOTA_TEXT, format_size
from memcatalog.errors import QuotaExceededError
from memcatalog.pool import drop_pool

TABLES = ["nation", "region", "customer", "supplier", "part", "partsupp", "orders", "lineitem"]

Q1 = """
SELECT l_returnflag, l_linestatus, sum(l_quantity) AS sum_qty,
       round(sum(l_extendedprice * (1 - l_discount)), 2) AS sum_disc_price, count(*) AS count_order
FROM tpch.lineitem WHERE l_shipdate <= DATE '1998-12-01' - INTERVAL 90 DAY
GROUP BY l_returnflag, l_linestatus ORDER BY l_returnflag, l_linestatus
"""
Q3 = """
SELECT l_orderkey, round(sum(l_extendedprice * (1 - l_discount)), 2) AS revenue, o_orderdate
FROM tpch.customer JOIN tpch.orders ON c_custkey = o_custkey JOIN tpch.lineitem ON l_orderkey = o_orderkey
WHERE c_mktsegment = 'BUILDING' AND o_orderdate < DATE '1995-03-15' AND l_shipdate > DATE '1995-03-15'
GROUP BY l_orderkey, o_orderdate ORDER BY revenue DESC, o_orderdate LIMIT 5
"""
Q6 = """
SELECT round(sum(l_extendedprice * l_discount), 2) AS revenue FROM tpch.lineitem
WHERE l_shipdate >= DATE '1994-01-01' AND l_shipdate < DATE '1995-01-01' AND l_discount BETWEEN 0.05 AND 0.07 AND l_quantity < 24
"""


def generate(scale: float) -> dict[str, pa.Table]:
    """TPC-H tables from DuckDB's tpch extension (shipped by duckdb-extension-tpch; nothing downloads)."""
    import duckdb

    con = duckdb.connect(config={"allow_unsigned_extensions": "true"})
    mduck.load_extension(con, "tpch")
    con.execute(f"CALL dbgen(sf={scale})")
    return {name: con.sql(f"SELECT * FROM {name}").to_arrow_table() for name in TABLES}


def q6_with_pyiceberg(catalog: MemCatalog) -> float:
    scan = catalog.load_table("tpch.lineitem").scan(
        row_filter="l_shipdate >= '1994-01-01' AND l_shipdate < '1995-01-01'",
        selected_fields=("l_extendedprice", "l_discount", "l_quantity"),
    )
    t = scan.to_arrow()
    discount = pc.cast(t["l_discount"], pa.float64())
    mask = pc.and_(
        pc.and_(pc.greater_equal(discount, 0.05), pc.less_equal(discount, 0.07)),
        pc.less(pc.cast(t["l_quantity"], pa.float64()), 24),
    )
    kept = t.filter(mask)
    revenue = pc.sum(
        pc.multiply(pc.cast(kept["l_extendedprice"], pa.float64()), pc.cast(kept["l_discount"], pa.float64()))
    )
    return round(float(revenue.as_py() or 0.0), 2)


def run(scale: float = 0.1, quota: str = DEFAULT_QUOTA_TEXT, console: Console | None = None) -> dict[str, object]:
    """Run the demo; returns the numbers it showed (the tests check them).

    Raises:
        ValueError: ``scale`` is not a positive number.
    """
    if not scale > 0:
        raise ValueError(f"invalid TPC-H scale factor {scale!r}: give a number above 0, such as 0.01 or 0.1")
    out = console or Console(highlight=False, soft_wrap=True)
    started = time.perf_counter()
    name = f"demo_{uuid.uuid4().hex[:6]}"
    catalog = MemCatalog(name, quota=quota)
    try:
        return _run(catalog, scale, out, started)
    finally:
        catalog.close()
        drop_pool(catalog.pool.name)


def _run(catalog: MemCatalog, scale: float, out: Console, started: float) -> dict[str, object]:
    result: dict[str, object] = {}
    out.print(
        f"[bold]memcatalog demo[/bold]: TPC-H at scale {scale} into an in-memory Iceberg catalog (pool quota {format_size(catalog.pool.quota)})"
    )
    data = generate(scale)
    catalog.create_namespace("tpch")
    total_rows = sum(t.num_rows for t in data.values())
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=out
    ) as bar:
        task = bar.add_task("loading through the validating writer", total=total_rows)
        for table_name, table in data.items():
            catalog.create_table(f"tpch.{table_name}", table.schema)
            with catalog.writer(f"tpch.{table_name}") as w:
                for batch in table.to_batches(max_chunksize=100_000):
                    w.write(batch)
                    bar.advance(task, batch.num_rows)
    result["rows_loaded"] = total_rows

    con = mduck.connect(catalog)
    out.print("\n[bold]TPC-H Q1[/bold] (pricing summary) through DuckDB's iceberg_scan:")
    print_relation(out, con.sql(Q1))
    out.print("[bold]TPC-H Q3[/bold] (shipping priority):")
    print_relation(out, con.sql(Q3))
    q6_duck = con.sql(Q6).fetchone()
    q6_duck_value = float(q6_duck[0]) if q6_duck and q6_duck[0] is not None else 0.0
    q6_py = q6_with_pyiceberg(catalog)
    result["q6"] = (q6_duck_value, q6_py)
    out.print(f"[bold]TPC-H Q6[/bold] revenue: DuckDB {q6_duck_value:,.2f}, pyiceberg {q6_py:,.2f}")

    first = catalog.load_table("tpch.nation").current_snapshot()
    assert first is not None
    catalog.load_table("tpch.nation").append(data["nation"].slice(0, 5))
    now = con.sql("SELECT count(*) FROM tpch.nation").fetchone()
    then = con.at_snapshot("tpch.nation", snapshot_id=first.snapshot_id).aggregate("count(*)").fetchone()
    now_rows, then_rows = (now[0] if now else None, then[0] if then else None)
    result["time_travel"] = (now_rows, then_rows)
    out.print(f"\nSecond append to tpch.nation: {now_rows} rows now, {then_rows} at the first snapshot (time travel)")

    result["quota_error"] = _show_quota(catalog, data["lineitem"], out)
    rows = [(".".join(u.identifier), format_size(u.bytes), u.files) for u in catalog.usage()]
    print_table(out, ["table", "bytes", "files"], rows, title="pool usage per table")
    stats = catalog.pool.stats()
    out.print(
        f"pool {stats.name!r}: {format_size(stats.used)} used of {format_size(stats.quota)}, peak {format_size(stats.peak)}; audit: {catalog.check() or 'clean'}"
    )
    result["seconds"] = round(time.perf_counter() - started, 1)
    out.print(f"done in {result['seconds']} s")
    return result


def _show_quota(catalog: MemCatalog, lineitem: pa.Table, out: Console) -> str:
    before = catalog.pool.stats()
    table_before = catalog.load_table("tpch.lineitem").current_snapshot()
    catalog.pool.set_quota(before.used + 64 * 1024)
    try:
        with catalog.writer("tpch.lineitem") as w:
            w.write(lineitem)
        message = "no error?"
    except QuotaExceededError as e:
        message = str(e)
    finally:
        catalog.pool.set_quota(before.quota)
    after = catalog.pool.stats()
    unchanged = after.used == before.used and catalog.load_table("tpch.lineitem").current_snapshot() == table_before
    out.print(f"\nAppending lineitem again with only 64 KiB free fails cleanly:\n  [red]{message}[/red]")
    out.print(f"  nothing was lost or leaked: table at the same snapshot and pool bytes unchanged = {unchanged}")
    return message
