"""A threaded stress run: appends, deletes, scans and DuckDB queries on shared tables, then a full audit.

Run it with ``memcatalog stress --seed 1 --threads 8 --operations 200``. Every committed
row must be present exactly once at the end, no reader may see a torn file, peak pool
use must stay within the quota, and ``check()`` must come back empty.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import pyarrow as pa
from pyiceberg.exceptions import CommitFailedException

from memcatalog.catalog import MemCatalog
from memcatalog.errors import QuotaExceededError
from memcatalog.pool import drop_pool

SCHEMA = pa.schema(
    [
        pa.field("writer", pa.int32(), nullable=False),
        pa.field("seq", pa.int64(), nullable=False),
        ("payload", pa.string()),
    ]
)


@dataclass
class StressReport:
    seed: int
    threads: int
    operations: int
    quota: int
    counts: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    peak: int = 0
    audit: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failures and not self.audit and self.peak <= self.quota

    def summary(self) -> str:
        ops = ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items()))
        verdict = "OK" if self.ok else "FAILED"
        lines = [
            f"stress {verdict}: seed {self.seed}, {self.threads} threads x {self.operations} operations in {self.seconds:.1f} s",
            f"  operations: {ops}",
            f"  peak pool use {self.peak} of {self.quota} bytes",
            f"  audit: {'clean' if not self.audit else self.audit}",
        ]
        lines += [f"  failure: {f}" for f in self.failures[:20]]
        return "\n".join(lines)


class _Worker:
    def __init__(self, run: _Run, index: int) -> None:
        self.run = run
        self.index = index
        self.rng = random.Random(run.report.seed * 1000 + index)
        self.next_seq = 0
        self.con = None

    def __call__(self) -> None:
        try:
            for _ in range(self.run.report.operations):
                self.step()
        except Exception as e:  # a stress run records, it does not stop at the first surprise
            self.run.fail(f"thread {self.index}: {type(e).__name__}: {e}")
        finally:
            if self.con is not None:
                self.con.close()

    def step(self) -> None:
        table = self.rng.choice(self.run.tables)
        op = self.rng.choices(["append", "delete", "scan", "duckdb"], weights=[6, 1, 2, 1 if self.run.duckdb else 0])[0]
        getattr(self, op)(table)
        self.run.count(op)

    def append(self, table: str) -> None:
        n = self.rng.randint(1, 200)
        seqs = list(range(self.next_seq, self.next_seq + n))
        self.next_seq += n
        data = pa.table(
            {
                "writer": pa.array([self.index] * n, pa.int32()),
                "seq": pa.array(seqs, pa.int64()),
                "payload": [f"{self.index}-{s}" for s in seqs],
            },
            schema=SCHEMA,
        )
        try:
            self.run.catalog.load_table(table).append(data)
        except (CommitFailedException, QuotaExceededError) as e:
            self.run.count(f"rejected ({type(e).__name__})")
            return
        self.run.ledger[(table, self.index)].update(seqs)

    def delete(self, table: str) -> None:
        try:
            self.run.catalog.load_table(table).delete(f"writer = {self.index}")
        except (CommitFailedException, QuotaExceededError) as e:
            self.run.count(f"rejected ({type(e).__name__})")
            return
        self.run.ledger[(table, self.index)].clear()

    def scan(self, table: str) -> None:
        rows = self.run.catalog.load_table(table).scan().to_arrow()
        self.check_rows(table, rows)

    def duckdb(self, table: str) -> None:
        import memcatalog.duckdb as mduck

        if self.con is None:
            self.con = mduck.connect(self.run.catalog)  # type: ignore[assignment]
        rows = self.con.sql(f"SELECT * FROM {table}").to_arrow_table()  # type: ignore[attr-defined]
        self.check_rows(table, rows)

    def check_rows(self, table: str, rows: pa.Table) -> None:
        pairs = list(zip(rows.column("writer").to_pylist(), rows.column("seq").to_pylist(), strict=True))
        if len(pairs) != len(set(pairs)):
            self.run.fail(f"{table}: a reader saw duplicate rows")
        for (w, s), payload in zip(pairs, rows.column("payload").to_pylist(), strict=True):
            if payload != f"{w}-{s}":
                self.run.fail(f"{table}: a reader saw a torn row ({w}, {s}, {payload!r})")
                return


class _Run:
    def __init__(self, report: StressReport, tables: int, duckdb: bool) -> None:
        self.report = report
        self.duckdb = duckdb
        self.catalog = MemCatalog(f"stress_{uuid.uuid4().hex[:8]}", quota=str(report.quota))
        self.catalog.create_namespace("s")
        self.tables = [f"s.t{i}" for i in range(tables)]
        props = {"commit.retry.num-retries": "100", "commit.retry.min-wait-ms": "1", "commit.retry.max-wait-ms": "50"}
        for name in self.tables:
            self.catalog.create_table(name, SCHEMA, properties=props)
        self.ledger: dict[tuple[str, int], set[int]] = {
            (t, w): set() for t in self.tables for w in range(report.threads)
        }
        self._lock = threading.Lock()

    def count(self, what: str) -> None:
        with self._lock:
            self.report.counts[what] += 1

    def fail(self, what: str) -> None:
        with self._lock:
            self.report.failures.append(what)

    def verify(self) -> None:
        for table in self.tables:
            rows = self.catalog.load_table(table).scan().to_arrow()
            found: dict[int, Counter[int]] = {}
            for w, s in zip(rows.column("writer").to_pylist(), rows.column("seq").to_pylist(), strict=True):
                found.setdefault(w, Counter())[s] += 1
            for writer in range(self.report.threads):
                expected = self.ledger[(table, writer)]
                got = found.get(writer, Counter())
                if set(got) != expected:
                    missing, extra = len(expected - set(got)), len(set(got) - expected)
                    self.fail(f"{table}: writer {writer} has {missing} committed rows missing and {extra} unexpected")
                if any(c > 1 for c in got.values()):
                    self.fail(f"{table}: writer {writer} has rows present more than once")
        self.report.peak = self.catalog.pool.stats().peak
        self.catalog.reclaim()
        self.report.audit = self.catalog.check()


class _RetryCounter(logging.Handler):
    """Counts pyiceberg's commit retries (and keeps their log lines out of the report)."""

    def __init__(self, state: _Run) -> None:
        super().__init__(logging.DEBUG)
        self.state = state

    def emit(self, record: logging.LogRecord) -> None:
        if "retrying" in record.getMessage():
            self.state.count("commit retries (lost CAS races)")


def run(
    seed: int = 0,
    threads: int = 8,
    operations: int = 50,
    quota: int | str = "512MiB",
    tables: int = 3,
    duckdb: bool = True,
) -> StressReport:
    """Run the stress workload and return its report (``report.ok`` tells the verdict)."""
    from memcatalog.config import parse_size

    report = StressReport(seed, threads, operations, parse_size(quota))
    state = _Run(report, tables, duckdb)
    started = time.perf_counter()
    pyiceberg_log = logging.getLogger("pyiceberg.table")
    counter, old_propagate = _RetryCounter(state), pyiceberg_log.propagate
    pyiceberg_log.addHandler(counter)
    pyiceberg_log.propagate = False
    try:
        workers = [threading.Thread(target=_Worker(state, i), name=f"stress-{i}") for i in range(threads)]
        for t in workers:
            t.start()
        for t in workers:
            t.join()
        state.verify()
    finally:
        pyiceberg_log.removeHandler(counter)
        pyiceberg_log.propagate = old_propagate
        report.seconds = time.perf_counter() - started
        state.catalog.close()
        drop_pool(state.catalog.pool.name)
    return report
