"""The streaming TableWriter: validated, bounded in memory, all-or-nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.transforms import IdentityTransform
from pyiceberg.types import LongType, NestedField, StringType

import memcatalog
import memcatalog.duckdb
from memcatalog import MemCatalog, QuotaExceededError, SchemaValidationError

SCHEMA = Schema(NestedField(1, "id", LongType(), required=True), NestedField(2, "label", StringType()))


@pytest.fixture
def cat(memcatalog_catalog: MemCatalog) -> Iterator[MemCatalog]:
    """The plugin's catalog with the table ``db.t``."""
    memcatalog_catalog.create_namespace("db")
    memcatalog_catalog.create_table("db.t", SCHEMA)
    yield memcatalog_catalog
    assert memcatalog_catalog.check() == []  # stricter than the plugin's own audit: no unreferenced file either


def batch(start: int, n: int) -> pa.Table:
    return pa.table(
        {"id": pa.array(range(start, start + n), pa.int64()), "label": [f"l{i % 100}" for i in range(start, start + n)]}
    )


PROBE = """
import json, numpy as np, pyarrow as pa
import memcatalog.duckdb
from memcatalog import MemCatalog
from pyiceberg.schema import Schema
from pyiceberg.types import LongType, NestedField

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096

cat = MemCatalog("probe")
cat.create_namespace("db")
cat.create_table("db.big", Schema(NestedField(1, "id", LongType(), required=True), NestedField(2, "v", LongType())))
rows_per_batch, batches = 250_000, 40
peak_arrow = peak_rss = 0
with cat.writer("db.big", max_buffer_bytes="8MiB") as w:
    # Warm up: the first flush loads the Parquet and compression libraries and starts
    # pyiceberg's thread pool (~150 MB of RSS once per process); measure after it.
    w.write(pa.table({"id": pa.array([-1], pa.int64()), "v": pa.array([-1], pa.int64())}))
    w.flush()
    rss_start, pool_start = rss(), cat.pool.stats().used
    for i in range(batches):
        ids = pa.array(np.arange(i * rows_per_batch, (i + 1) * rows_per_batch, dtype=np.int64))
        w.write(pa.table({"id": ids, "v": ids}))
        peak_arrow = max(peak_arrow, pa.total_allocated_bytes())
        pa.default_memory_pool().release_unused()  # measure what is held, not what the allocator caches
        peak_rss = max(peak_rss, rss() - rss_start)
stats = cat.pool.stats()
table = cat.load_table("db.big")
duck = memcatalog.duckdb.connect(cat).sql("SELECT count(*), sum(id) FROM db.big WHERE id >= 0").fetchone()
print(json.dumps({
    "rows": rows_per_batch * batches, "raw_bytes": rows_per_batch * batches * 16,
    "peak_arrow": peak_arrow, "peak_rss_growth": peak_rss, "stored": stats.used - pool_start,
    "pool_peak": stats.peak, "pool_used": stats.used, "snapshots": len(table.metadata.snapshots),
    "total_records": int(table.current_snapshot().summary["total-records"]), "duckdb": list(duck),
    "check": cat.check(),
}))
"""


@pytest.mark.slow  # ten million rows: seconds by design (CI runs -m slow)
def test_ten_million_rows_stream_in_bounded_memory() -> None:
    """Measured in a fresh process, so other tests' memory does not blur the numbers."""
    import json
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    m = json.loads(out.stdout)
    n = m["rows"]
    assert m["total_records"] == n + 1 and m["snapshots"] == 1, "one snapshot at the end"
    assert m["duckdb"] == [n, n * (n - 1) // 2]
    assert m["check"] == []
    # Arrow memory held at any point is a few buffers, not the 160 MB stream.
    assert m["peak_arrow"] < 64 * 2**20, m
    # The pool never held more than its final content plus one buffer's worth of files.
    assert m["pool_peak"] <= m["pool_used"] + 8 * 2**20, m
    # The process grows by what the pool stores plus a bounded working set (measured ~17 MB);
    # holding the stream would cost raw_bytes (160 MB) more.
    assert m["stored"] < m["raw_bytes"] / 2, m
    assert m["peak_rss_growth"] < m["stored"] + 64 * 2**20, m


def test_read_back_through_pyiceberg_and_duckdb_equals_input(cat: MemCatalog) -> None:
    rows = [{"id": i, "label": None if i % 7 == 0 else f"x{i}"} for i in range(5000)]
    with cat.writer("db.t", max_buffer_bytes=10_000) as w:
        for start in range(0, 5000, 500):
            w.write(rows[start : start + 500])
    assert w.snapshots_committed == 1
    got = cat.load_table("db.t").scan().to_arrow().sort_by("id").to_pylist()
    assert got == rows
    duck = memcatalog.duckdb.connect(cat).sql("SELECT id, label FROM db.t ORDER BY id").to_arrow_table().to_pylist()
    assert duck == rows


def test_invalid_batch_mid_stream_commits_nothing_and_frees_every_byte(cat: MemCatalog) -> None:
    before = cat.pool.stats()
    with (
        pytest.raises(SchemaValidationError, match="row 2, field 'id'"),
        cat.writer("db.t", max_buffer_bytes=1000) as w,
    ):
        for i in range(10):
            w.write(batch(i * 1000, 1000))  # flushes files as it goes
        w.write([{"id": 1}, {"id": 2}, {"id": "three"}])
    assert cat.load_table("db.t").current_snapshot() is None
    after = cat.pool.stats()
    assert (after.used, after.files, after.reserved) == (before.used, before.files, 0)


def test_exception_in_callers_loop_commits_nothing(cat: MemCatalog) -> None:
    before = cat.pool.stats()
    with pytest.raises(KeyError), cat.writer("db.t", max_buffer_bytes=1000) as w:
        w.write(batch(0, 5000))
        w.flush()
        raise KeyError("the caller's own bug")
    assert cat.load_table("db.t").current_snapshot() is None
    assert cat.pool.stats().used == before.used


def test_quota_hit_mid_stream_leaves_table_and_pool_as_before(cat: MemCatalog) -> None:
    with cat.writer("db.t") as w:
        w.write(batch(0, 100))
    snapshot = cat.load_table("db.t").current_snapshot()
    before = cat.pool.stats()
    cat.pool.set_quota(before.used + 200_000)
    with pytest.raises(QuotaExceededError), cat.writer("db.t", max_buffer_bytes=50_000, compression="none") as w:
        for i in range(100):
            w.write(batch(1000 + i * 10_000, 10_000))
    cat.pool.set_quota("1GiB")
    assert cat.load_table("db.t").current_snapshot() == snapshot
    after = cat.pool.stats()
    assert (after.used, after.files, after.reserved) == (before.used, before.files, 0)


def test_commit_every_n_files_and_overwrite_mode(cat: MemCatalog) -> None:
    with cat.writer("db.t", max_buffer_bytes=1, commit_every_files=2) as w:
        for i in range(6):
            w.write(batch(i * 10, 10))
    assert w.snapshots_committed == 3
    assert len(cat.load_table("db.t").metadata.snapshots) == 3
    with cat.writer("db.t", mode="overwrite") as w:
        w.write(batch(1000, 5))
    assert sorted(cat.load_table("db.t").scan().to_arrow().column("id").to_pylist()) == list(range(1000, 1005))
    cat.reclaim(retain_last=1)


def test_parquet_options_reach_the_files(cat: MemCatalog) -> None:
    with cat.writer("db.t", compression="snappy", row_group_size=1000) as w:
        w.write(batch(0, 5000))
    data_files = [k for k in cat.pool.keys("db/t/data")]
    assert len(data_files) == 1
    meta = pq.ParquetFile(pa.BufferReader(cat.pool.get(data_files[0]))).metadata
    assert meta.row_group(0).column(0).compression == "SNAPPY"
    assert meta.num_row_groups == 5


def test_default_target_file_size_shrinks_with_a_small_pool() -> None:
    small = MemCatalog(f"s{uuid.uuid4().hex[:8]}", quota="16MiB")
    small.create_namespace("db")
    small.create_table("db.t", SCHEMA)
    assert small.writer("db.t").target_file_size == 4 * 2**20
    memcatalog.drop_pool(small.pool.name)


def test_partitioned_table(cat: MemCatalog) -> None:
    spec = PartitionSpec(PartitionField(2, 1000, IdentityTransform(), "label_part"))
    cat.create_table("db.part", SCHEMA, partition_spec=spec)
    with cat.writer("db.part") as w:
        w.write([{"id": i, "label": f"p{i % 3}"} for i in range(30)])
    assert len(cat.load_table("db.part").inspect.files()) == 3


def test_writer_rejects_use_after_commit(cat: MemCatalog) -> None:
    w = cat.writer("db.t")
    w.write(batch(0, 1))
    w.commit()
    with pytest.raises(ValueError, match="already committed"):
        w.write(batch(1, 1))
    with pytest.raises(ValueError, match="mode"):
        cat.writer("db.t", mode="upsert")


def test_empty_batches_write_nothing(cat: MemCatalog) -> None:
    """Found by the round-trip property test: an empty batch crashed pyiceberg's bin packing."""
    with cat.writer("db.t") as w:
        w.write([])
        w.write(batch(0, 0))
    assert cat.load_table("db.t").current_snapshot() is None
    with cat.writer("db.t") as w:
        w.write([])
        w.write(batch(0, 3))
    assert cat.load_table("db.t").scan().to_arrow().num_rows == 3
