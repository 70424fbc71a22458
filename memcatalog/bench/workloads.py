"""The measured workloads. Each returns seconds (or rates) per peer, measured in the same run."""

from __future__ import annotations

import functools
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ParamSpec, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pyiceberg.catalog import Catalog

from memcatalog.bench.peers import PEERS, Peer, make
from memcatalog.catalog import MemCatalog

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

LIMIT = "pyarrow limit"
P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class Result:
    workload: str
    unit: str  # "s" (lower is better) or "/s" (higher is better)
    values: dict[str, float] = field(default_factory=dict)  # peer -> median
    extra: dict[str, float] = field(default_factory=dict)  # other measured numbers (counts, bytes, seconds)


def dataset(rows: int, seed: int = 0) -> pa.Table:
    """ints, doubles, strings and timestamps, compressible like real data."""
    rng = np.random.default_rng(seed)
    vocab = pa.array([f"word-{i:05d}-{rng.integers(10**9)}" for i in range(5000)])
    base = np.datetime64("2026-01-01T00:00:00", "us")
    return pa.table(
        {
            "id": pa.array(np.arange(rows, dtype=np.int64)),
            "qty": pa.array(rng.integers(0, 1000, rows, dtype=np.int64)),
            "price": pa.array(rng.random(rows) * 100),
            "name": vocab.take(pa.array(rng.integers(0, len(vocab), rows))),
            "ts": pa.array(
                base + rng.integers(0, 86_400_000_000 * 30, rows).astype("timedelta64[us]"), pa.timestamp("us")
            ),
        }
    )


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median_of(repeat: int, fn: Callable[[], float]) -> float:
    return statistics.median(fn() for _ in range(repeat))


def bulk_append_and_scans(data: pa.Table, repeat: int) -> list[Result]:
    """Appends on fresh tables, then reads of the last ones; peers interleaved round by round so drift hits all alike."""
    append = Result("bulk append", "s", extra={"rows": data.num_rows})
    scan = Result("full scan to Arrow", "s")
    filtered = Result("filtered scan (10%)", "s")
    duck = Result("DuckDB iceberg_scan aggregate", "s")
    cutoff = data.num_rows // 10
    for name in PEERS:  # warm up: first-use costs (imports, thread pools) are not what we compare
        _append_once(make(name), data.slice(0, 1000)).close()
    append_times: dict[str, list[float]] = {name: [] for name in PEERS}
    kept: dict[str, Peer] = {}
    for _ in range(repeat):
        for name in PEERS:
            peer = make(name)
            start = time.perf_counter()
            _append_once(peer, data)
            append_times[name].append(time.perf_counter() - start)
            if name in kept:
                kept[name].close()
            kept[name] = peer
    try:
        reads = {name: _Reads(kept[name], cutoff) for name in PEERS}
        for _ in range(repeat):
            for name in PEERS:
                reads[name].measure()
        for name in PEERS:
            append.values[name] = statistics.median(append_times[name])
            scan.values[name] = statistics.median(reads[name].full)
            filtered.values[name] = statistics.median(reads[name].filtered)
            duck.values[name] = statistics.median(reads[name].duckdb)
    finally:
        for peer in kept.values():
            peer.close()
    encoded = pa.BufferOutputStream()

    def encode() -> float:
        out = pa.BufferOutputStream()
        elapsed = timed(lambda: pq.write_table(data, out, compression="zstd"))
        nonlocal encoded
        encoded = out
        return elapsed

    append.values[LIMIT] = median_of(repeat, encode)
    buffer = encoded.getvalue()
    scan.values[LIMIT] = median_of(repeat, lambda: timed(lambda: pq.read_table(pa.BufferReader(buffer))))
    return [append, scan, filtered, duck]


def _append_once(peer: Peer, data: pa.Table) -> Peer:
    peer.catalog.create_namespace("b")
    peer.catalog.create_table("b.t", data.schema).append(data)
    return peer


class _Reads:
    def __init__(self, peer: Peer, cutoff: int) -> None:
        self.table = peer.catalog.load_table("b.t")
        self.cutoff = cutoff
        self.full: list[float] = []
        self.filtered: list[float] = []
        self.duckdb: list[float] = []
        self.con, self.query = _duckdb_setup(peer, self.table.metadata_location)

    def measure(self) -> None:
        self.full.append(timed(lambda: self.table.scan().to_arrow()))
        self.filtered.append(timed(lambda: self.table.scan(row_filter=f"id < {self.cutoff}").to_arrow()))
        self.duckdb.append(timed(lambda: self.con.sql(self.query).fetchall()))


def _duckdb_setup(peer: Peer, location: str) -> tuple[DuckDBPyConnection, str]:
    import duckdb

    from memcatalog.duckdb import load_extension

    con = duckdb.connect(config={"allow_unsigned_extensions": "true"})
    load_extension(con, "avro")
    load_extension(con, "iceberg")
    fs = peer.duckdb_filesystem()
    if fs is not None:
        con.register_filesystem(fs)
    query = f"SELECT name, count(*), avg(price), max(ts) FROM iceberg_scan('{location}') GROUP BY name"
    con.sql(query).fetchall()  # warm: extension and metadata caches are not what we measure
    return con, query


class _CatalogTimer:
    """Time spent inside the catalog's own commit_table and load_table."""

    def __init__(self, catalog: Catalog) -> None:
        self.seconds = 0.0
        for method in ("commit_table", "load_table"):
            setattr(catalog, method, self._timing(getattr(catalog, method)))

    def _timing(self, original: Callable[P, R]) -> Callable[P, R]:
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start

        return wrapper


def small_appends_and_load(appends: int, repeat: int) -> list[Result]:
    median = Result("small append, median (100 rows)", "s")
    p95 = Result("small append, p95", "s")
    share = Result("catalog's own share per append", "s")
    load = Result(f"load_table, {appends} snapshots", "s")
    batch = dataset(100)
    for name in PEERS:
        peer = make(name)
        try:
            latencies, own = _small_appends(peer, batch, appends)
            median.values[name] = statistics.median(latencies)
            p95.values[name] = latencies[int(len(latencies) * 0.95) - 1]
            share.values[name] = own / appends
            load.values[name] = median_of(max(repeat, 5), functools.partial(_time_load, peer.catalog))
            if isinstance(peer.catalog, MemCatalog):
                load.extra["memcatalog cold (cache cleared)"] = median_of(
                    max(repeat, 5), functools.partial(_time_cold_load, peer.catalog)
                )
        finally:
            peer.close()
    return [median, p95, share, load]


def _small_appends(peer: Peer, batch: pa.Table, appends: int) -> tuple[list[float], float]:
    peer.catalog.create_namespace("b")
    table = peer.catalog.create_table("b.small", batch.schema)
    timer = _CatalogTimer(peer.catalog)
    latencies = sorted(timed(lambda: table.append(batch)) for _ in range(appends))
    return latencies, timer.seconds


def _time_load(catalog: Catalog) -> float:
    return timed(lambda: catalog.load_table("b.small"))


def _time_cold_load(catalog: MemCatalog) -> float:
    catalog._cache.clear()
    return _time_load(catalog)


def concurrent_appends(threads: int, per_thread: int) -> Result:
    result = Result(f"{threads} threads appending, commits", "/s")
    batch = dataset(100)
    for name in PEERS:
        peer = make(name)
        try:
            rate, lost, errors = _concurrent(peer, batch, threads, per_thread)
            result.values[name] = rate
            result.extra[f"{name} rows lost"] = lost
            result.extra[f"{name} errors"] = errors
        finally:
            peer.close()
    return result


def _concurrent(peer: Peer, batch: pa.Table, threads: int, per_thread: int) -> tuple[float, int, int]:
    peer.catalog.create_namespace("b")
    props = {"commit.retry.num-retries": "100", "commit.retry.min-wait-ms": "1", "commit.retry.max-wait-ms": "100"}
    peer.catalog.create_table("b.c", batch.schema, properties=props)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            table = peer.catalog.load_table("b.c")
            for _ in range(per_thread):
                table.append(batch)
        except BaseException as e:
            errors.append(e)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - start
    rows = peer.catalog.load_table("b.c").scan().to_arrow().num_rows
    return threads * per_thread / elapsed, threads * per_thread * batch.num_rows - rows, len(errors)


MEMORY_PROBE = """
import json, sys, gc
import pyarrow as pa
from memcatalog import MemCatalog
from memcatalog.bench.workloads import dataset

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096

target = int(sys.argv[1])
chunk = dataset(1_000_000, seed=1)
cat = MemCatalog("membench", quota="32GiB")
cat.create_namespace("b")
t = cat.create_table("b.m", chunk.schema)
with cat.writer("b.m", max_buffer_bytes="64MiB") as w:   # warm up libraries and thread pools
    w.write(chunk.slice(0, 1000))
gc.collect()
start_rss, start_pool = rss(), cat.pool.stats().used
i = 0
while cat.pool.stats().used - start_pool < target:
    with cat.writer("b.m", max_buffer_bytes="64MiB") as w:
        w.write(chunk)
    i += 1
del chunk
gc.collect()
pa.default_memory_pool().release_unused()
loaded_rss, pool = rss() - start_rss, cat.pool.stats().used - start_pool
table = cat.load_table("b.m")
files = [task.file.file_path for task in table.scan().plan_files()]
read_bytes = 0
held = []
for path in files:                      # every file read through the FileIO: zero copy
    held.append(table.io.new_input(path).open().read_buffer())
    read_bytes += held[-1].size
gc.collect()
read_rss = rss() - start_rss
del held
rows = 0
for batch in table.scan().to_arrow_batch_reader():   # decoding to Arrow, batch by batch
    rows += batch.num_rows
gc.collect()
pa.default_memory_pool().release_unused()
decode_rss = rss() - start_rss
print(json.dumps({"pool": pool, "rss_after_load": loaded_rss, "rss_after_read": read_rss, "read_bytes": read_bytes,
                  "rss_after_decode": decode_rss, "rows": rows}))
"""


def memory(target_bytes: int) -> Result:
    import json
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, str(target_bytes)], capture_output=True, text=True, check=True
    )
    m = json.loads(out.stdout)
    result = Result("memory", "ratio")
    result.extra = m
    result.values["RSS growth / pool bytes"] = m["rss_after_load"] / m["pool"]
    result.values["reading every file back adds"] = (m["rss_after_read"] - m["rss_after_load"]) / m["rss_after_load"]
    result.values["decoding it all to Arrow adds"] = (m["rss_after_decode"] - m["rss_after_load"]) / m["rss_after_load"]
    return result
