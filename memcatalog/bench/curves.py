"""How each cost grows: curves against snapshot count, rows, table count and threads, every peer in the same run.

``memcatalog bench --curves`` runs these after the default workloads. A curve is a list of
x values and, per peer, the median measurement at each x.
"""

from __future__ import annotations

import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.parquet as pq
from pyiceberg.catalog import Catalog
from pyiceberg.table import Table

from memcatalog.bench.peers import PEERS, Peer, make
from memcatalog.bench.workloads import LIMIT, _concurrent, dataset, timed
from memcatalog.pyiceberg_internals import new_table
from memcatalog.writer import TableWriter

OVERWRITE_HISTORY = "memcatalog, history of overwrites"
MERGED_MANIFESTS = "memcatalog, commit.manifest-merge.enabled"


@dataclass
class Curve:
    title: str
    x_label: str
    unit: str  # "s" (lower is better) or "/s" (higher is better)
    xs: list[int]
    series: dict[str, list[float]] = field(default_factory=dict)  # peer -> one value per x
    extra: dict[str, float] = field(default_factory=dict)  # other measured numbers (counts)

    def at(self, peer: str, x: int) -> float:
        return self.series[peer][self.xs.index(x)]


@dataclass
class CurveSizes:
    """The x values of every curve; ``full()`` is what docs/benchmarks.md records, ``tiny()`` what the tests run."""

    snapshots: list[int]
    samples: int
    rows: list[int]
    tables: list[int]
    threads: list[int]
    per_thread: int

    @classmethod
    def full(cls) -> CurveSizes:
        return cls([1, 10, 100, 250, 500, 750, 1000], 7, [10_000, 100_000, 1_000_000, 10_000_000], [1, 10, 100, 1000],
                   [1, 2, 4, 8], 25)  # fmt: skip

    @classmethod
    def quick(cls) -> CurveSizes:
        """The same range of snapshots and tables with fewer points, rows to 1M: minutes, not half an hour."""
        return cls([1, 10, 100, 500, 1000], 5, [10_000, 100_000, 1_000_000], [1, 10, 100, 1000], [1, 2, 4, 8], 10)

    @classmethod
    def tiny(cls) -> CurveSizes:
        return cls([1, 3, 6], 2, [1000, 5000], [1, 4], [1, 2], 2)


def run_curves(sizes: CurveSizes, say: Callable[[str], None] = lambda _: None) -> list[Curve]:
    say(f"commit latency against snapshot count, up to {sizes.snapshots[-1]:,} (table.append)")
    curves = [snapshot_curve("append", sizes.snapshots, sizes.samples)]
    say(f"commit latency against snapshot count, up to {sizes.snapshots[-1]:,} (writer)")
    curves.append(snapshot_curve("writer", sizes.snapshots, sizes.samples))
    say(f"bulk append and full scan against rows, up to {sizes.rows[-1]:,}")
    curves += rows_curves(sizes.rows)
    say(f"catalog operations against table count, up to {sizes.tables[-1]:,}")
    curves += table_count_curves(sizes.tables)
    say(f"concurrent appenders: {sizes.threads} threads")
    curves.append(threads_curve(sizes.threads, sizes.per_thread))
    return curves


# ---- commit latency against snapshot count ---------------------------------------------------------------------


def _builder(peer: Peer, identifier: str) -> Table:
    """A handle that grows the table's history fast, so the curve's x can reach 1,000 for the peers too.

    It is a memcatalog FlatTable bound to the peer's own catalog: the snapshots it commits are
    the same as pyiceberg's (tests/test_differential_sqlcatalog.py), only made faster. The
    measured commits never use it: they go through the peer's ordinary API.
    """
    table = peer.catalog.load_table(identifier)
    return new_table(table.name(), table.metadata, table.metadata_location, table.io, peer.catalog)


def _grow(builder: Table, batch: pa.Table, snapshots: int, overwrite: bool = False) -> None:
    builder.refresh()
    while len(builder.metadata.snapshots) < snapshots:
        if overwrite:
            builder.overwrite(batch)
        else:
            builder.append(batch)


def _commit_once(kind: str, peer: Peer, identifier: str, table: Table, batch: pa.Table) -> float:
    if kind == "append":
        return timed(lambda: table.append(batch))

    def write() -> None:
        # a user's loop: one writer per batch, the table loaded by the catalog each time
        with TableWriter(peer.catalog.load_table(identifier)) as writer:
            writer.write(batch)

    return timed(write)


def snapshot_curve(kind: str, checkpoints: list[int], samples: int, only: list[str] | None = None) -> Curve:
    """Median latency of a 100-row commit made when the table already has x - 1 snapshots.

    ``only``: the labels to run (peer names, or the extra memcatalog histories), default all.
    """
    curve = Curve(
        f"commit latency against snapshots ({'table.append' if kind == 'append' else 'catalog.writer'}, 100 rows)",
        "snapshots in the table",
        "s",
        checkpoints,
    )
    batch = dataset(100)
    # (label, peer, history made of overwrites, table properties)
    runs: list[tuple[str, str, bool, dict[str, str]]] = [(name, name, False, {}) for name in PEERS]
    if kind == "append":
        runs.append((OVERWRITE_HISTORY, "memcatalog", True, {}))
        runs.append((MERGED_MANIFESTS, "memcatalog", False, {"commit.manifest-merge.enabled": "true"}))
    for label, name, overwrite, properties in runs:
        if only is not None and label not in only:
            continue
        peer = make(name)
        try:
            peer.catalog.create_namespace("b")
            # warm up first (imports, pyarrow's writer, the catalog's connection): the first point is not a cold start
            warm = peer.catalog.create_table("b.warm", batch.schema)
            for _ in range(3):
                _commit_once(kind, peer, "b.warm", warm, batch)
            peer.catalog.create_table("b.h", batch.schema, properties=properties)
            builder = _builder(peer, "b.h")
            values = []
            for x in checkpoints:
                _grow(builder, batch, x - 1, overwrite)
                table = peer.catalog.load_table("b.h")  # the ordinary handle: what a user holds
                values.append(statistics.median(_commit_once(kind, peer, "b.h", table, batch) for _ in range(samples)))
            curve.series[label] = values
            if label == "memcatalog":
                final = peer.catalog.load_table("b.h")
                last = final.current_snapshot()
                assert last is not None
                curve.extra["memcatalog manifests in the last snapshot"] = len(last.manifests(final.io))
        finally:
            peer.close()
    return curve


# ---- rows ------------------------------------------------------------------------------------------------------


def rows_curves(sizes: list[int]) -> list[Curve]:
    append = Curve("bulk append against rows", "rows", "s", sizes)
    scan = Curve("full scan to Arrow against rows", "rows", "s", sizes)
    for name in [*PEERS, LIMIT]:
        append.series[name], scan.series[name] = [], []
    for rows in sizes:
        data = dataset(rows)
        repeat = 3 if rows <= 1_000_000 else 1
        for name in PEERS:
            measured = [_append_and_scan(name, data) for _ in range(repeat)]
            append.series[name].append(statistics.median(m[0] for m in measured))
            scan.series[name].append(statistics.median(m[1] for m in measured))
        limits = [_pyarrow_limit(data) for _ in range(repeat)]
        append.series[LIMIT].append(statistics.median(m[0] for m in limits))
        scan.series[LIMIT].append(statistics.median(m[1] for m in limits))
    return [append, scan]


def _append_and_scan(name: str, data: pa.Table) -> tuple[float, float]:
    peer = make(name)
    try:
        peer.catalog.create_namespace("b")
        table = peer.catalog.create_table("b.t", data.schema)
        append = timed(lambda: table.append(data))
        reader = peer.catalog.load_table("b.t")
        return append, timed(lambda: reader.scan().to_arrow())
    finally:
        peer.close()


def _pyarrow_limit(data: pa.Table) -> tuple[float, float]:
    """Encoding the rows to Parquet in memory and decoding them back: what no catalog can beat."""
    out = pa.BufferOutputStream()
    encode = timed(lambda: pq.write_table(data, out, compression="zstd"))
    buffer = out.getvalue()
    return encode, timed(lambda: pq.read_table(pa.BufferReader(buffer)))


# ---- table count -----------------------------------------------------------------------------------------------


def table_count_curves(counts: list[int]) -> list[Curve]:
    create = Curve("create_table against tables in the catalog", "tables", "s", counts)
    listing = Curve("list_tables against tables in the catalog", "tables", "s", counts)
    load = Curve("load_table against tables in the catalog", "tables", "s", counts)
    for name in PEERS:
        peer = make(name)
        try:
            measured = [
                _catalog_ops(peer.catalog, made, target) for made, target in zip([0, *counts], counts, strict=False)
            ]
        finally:
            peer.close()
        create.series[name] = [m[0] for m in measured]
        listing.series[name] = [m[1] for m in measured]
        load.series[name] = [m[2] for m in measured]
    return [create, listing, load]


def _catalog_ops(catalog: Catalog, made: int, target: int) -> tuple[float, float, float]:
    """Grow the catalog from ``made`` to ``target`` tables; median create (last 10), list_tables, load_table."""
    schema = dataset(10).schema
    if made == 0:
        catalog.create_namespace("b")
    creates = [timed(lambda i=i: catalog.create_table(f"b.t{i}", schema)) for i in range(made, target)]  # type: ignore[misc]
    listing = statistics.median(timed(lambda: catalog.list_tables("b")) for _ in range(5))
    loads = [timed(lambda i=i: catalog.load_table(f"b.t{i * 7 % target}")) for i in range(10)]  # type: ignore[misc]
    return statistics.median(creates[-10:]), listing, statistics.median(loads)


# ---- concurrent appenders --------------------------------------------------------------------------------------


def threads_curve(threads: list[int], per_thread: int) -> Curve:
    curve = Curve(f"concurrent appenders to one table, {per_thread} appends each", "threads", "/s", threads)
    batch = dataset(100)
    for name in PEERS:
        rates = []
        for n in threads:
            peer = make(name)
            try:
                rate, lost, errors = _concurrent(peer, batch, n, per_thread)
            finally:
                peer.close()
            rates.append(rate)
            curve.extra[f"{name}, {n} threads: rows lost"] = lost
            curve.extra[f"{name}, {n} threads: errors"] = errors
        curve.series[name] = rates
    return curve


# ---- alternated: the first append against the N-th, in turns ------------------------------------------------


def alternated(snapshots: int, samples: int, kind: str = "append") -> tuple[float, float]:
    """Median latency of a new table's first commit and of a commit at ``snapshots``, measured in turns.

    memcatalog only. Taking the two in turns puts them in the same conditions on a shared
    machine, where a curve's points are measured minutes apart.
    """
    batch = dataset(100)
    peer = make("memcatalog")
    try:
        peer.catalog.create_namespace("b")
        peer.catalog.create_table("b.h", batch.schema)
        _grow(_builder(peer, "b.h"), batch, snapshots - 1)
        big = peer.catalog.load_table("b.h")
        firsts, lasts = [], []
        for i in range(samples):
            fresh = peer.catalog.create_table(f"b.f{i}", batch.schema)
            firsts.append(_commit_once(kind, peer, f"b.f{i}", fresh, batch))
            lasts.append(_commit_once(kind, peer, "b.h", big, batch))
            peer.catalog.purge_table(f"b.f{i}")
        return statistics.median(firsts), statistics.median(lasts)
    finally:
        peer.close()


# ---- command line ----------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """``python -m memcatalog.bench.curves``: one or all curves, printed as the markdown of docs/benchmarks.md."""
    import argparse

    from memcatalog.bench.report import curves_markdown

    parser = argparse.ArgumentParser(
        prog="python -m memcatalog.bench.curves",
        description="Measure how memcatalog's costs grow, every peer in the same run. With no curve named, all.",
    )
    parser.add_argument("--snapshots", action="append", choices=["append", "writer"], default=[],
                        help="commit latency against snapshot count, for table.append or catalog.writer")  # fmt: skip
    parser.add_argument("--rows", action="store_true", help="bulk append and full scan against rows")
    parser.add_argument("--tables", action="store_true", help="catalog operations against table count")
    parser.add_argument("--threads", action="store_true", help="concurrent appenders")
    parser.add_argument("--quick", action="store_true", help="fewer points (CurveSizes.quick): a few minutes")
    parser.add_argument("--up-to", type=int, default=None, help="the largest snapshot count (default 1,000)")
    parser.add_argument("--samples", type=int, default=None, help="commits measured per snapshot point")
    parser.add_argument("--alternate", type=int, default=None, metavar="N",
                        help="memcatalog only: a new table's first append against the append at N snapshots, "
                        "taken in turns (--samples of each)")  # fmt: skip
    parser.add_argument("--only", action="append", default=None,
                        help="a series of the snapshot curves to run (repeatable), e.g. memcatalog")  # fmt: skip
    args = parser.parse_args(argv)
    sizes = CurveSizes.quick() if args.quick else CurveSizes.full()
    snapshots = [x for x in sizes.snapshots if args.up_to is None or x < args.up_to]
    if args.up_to is not None:
        snapshots.append(args.up_to)
    samples = args.samples or sizes.samples
    if args.alternate is not None:
        for kind in args.snapshots or ["append"]:
            first, last = alternated(args.alternate, samples, kind)
            print(f"{kind}: first commit of a new table {first * 1000:.1f} ms, at {args.alternate:,} snapshots "
                  f"{last * 1000:.1f} ms: {last / first:.2f}x (medians of {samples}, taken in turns)")  # fmt: skip
        return 0
    everything = not (args.snapshots or args.rows or args.tables or args.threads)
    curves = [snapshot_curve(kind, snapshots, samples, args.only) for kind in args.snapshots]
    if everything:
        curves = run_curves(sizes, say=lambda what: print(f"... {what}", flush=True))
    if args.rows:
        curves += rows_curves(sizes.rows)
    if args.tables:
        curves += table_count_curves(sizes.tables)
    if args.threads:
        curves.append(threads_curve(sizes.threads, sizes.per_thread))
    command = "python -m memcatalog.bench.curves " + " ".join(argv if argv is not None else sys.argv[1:])
    print(f"Produced by `{command.strip()}`\n")
    print(curves_markdown(curves, "benchmarks-curves.png").replace("\n![curves](benchmarks-curves.png)\n", ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
