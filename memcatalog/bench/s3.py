"""The S3 endpoint's cost: DuckDB in another process aggregating a served table, against its peers.

Run: ``python -m memcatalog.bench.s3`` (prints a Markdown table). The same Parquet
files are read by the same DuckDB query, in one child process that does not import
memcatalog, from three places in the same run: the served pool (``memcatalog.s3``),
a tmpfs directory (the floor: no HTTP at all) and moto's S3 server (a peer S3 endpoint
in Python). A fourth row reads the served table through the REST catalog (ATTACH).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

if TYPE_CHECKING:
    from moto.server import ThreadedMotoServer

QUERY = "SELECT count(*), sum(amount), avg(qty) FROM {source}"

_CHILD = """
import importlib, json, pathlib, sys, time
import duckdb
args = json.loads(sys.argv[1])
con = duckdb.connect(config={"allow_unsigned_extensions": "true"})
for name in ("avro", "httpfs", "iceberg"):
    root = pathlib.Path(importlib.import_module(f"duckdb_extension_{name}").__file__).parent
    con.execute(f"LOAD '{sorted(root.rglob(name + '.duckdb_extension'))[0]}'")
for i, secret in enumerate(args["secrets"]):
    con.execute(
        f"CREATE SECRET s{i} (TYPE s3, KEY_ID '{secret['key']}', SECRET '{secret['secret']}', REGION 'us-east-1', "
        f"ENDPOINT '{secret['host']}', URL_STYLE 'path', USE_SSL false, SCOPE '{secret['scope']}')"
    )
con.execute(f"ATTACH '{args['catalog']}' AS lake (TYPE iceberg, ENDPOINT '{args['rest']}', AUTHORIZATION_TYPE 'none')")
con.execute("SET enable_http_metadata_cache = false")
con.execute("SET enable_external_file_cache = false")  # else repeated S3 reads come from DuckDB's own cache
out = {}
for label, source in args["sources"].items():
    query = args["query"].format(source=source)
    expected = con.sql(query).fetchall()  # warm-up, and every source must agree
    times = []
    for _ in range(args["repeat"]):
        began = time.perf_counter()
        got = con.sql(query).fetchall()
        times.append(time.perf_counter() - began)
        assert got == expected, (label, got, expected)
    out[label] = {"times": times, "result": [list(r) for r in expected]}
print(json.dumps(out, default=str))
"""


@dataclass(frozen=True)
class S3BenchResult:
    rows: int
    files: int
    bytes: int
    medians_s: dict[str, float]  # source label -> median seconds per query
    repeat: int


def _table(rows: int) -> pa.Table:
    import pyarrow.compute as pc

    n = pa.array(range(rows), pa.int64())
    return pa.table({"id": n, "amount": pc.multiply(pc.cast(n, pa.float64()), 0.5), "qty": pc.bit_wise_and(n, 127)})


def _moto(files: dict[str, bytes]) -> tuple[ThreadedMotoServer, str]:
    import logging

    import boto3
    from moto.server import ThreadedMotoServer

    from memcatalog.serving import _bind

    sock = _bind("127.0.0.1", 0)
    port = int(sock.getsockname()[1])
    sock.close()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    client = boto3.client(
        "s3", endpoint_url=url, aws_access_key_id="moto", aws_secret_access_key="moto", region_name="us-east-1"
    )
    client.create_bucket(Bucket="peer")
    for key, data in files.items():
        client.put_object(Bucket="peer", Key=key, Body=data)
    return server, url


def _tmpfs() -> Path:
    shm = Path("/dev/shm")
    return Path(tempfile.mkdtemp(prefix="memcatalog-bench-s3-", dir=shm if shm.is_dir() else None))


def run(rows: int = 1_000_000, repeat: int = 5) -> S3BenchResult:
    """Serve a table of ``rows`` rows and time the aggregate ``repeat`` times per source (medians)."""
    import shutil

    import memcatalog
    import memcatalog.rest
    from memcatalog.catalog import MemCatalog

    cat = MemCatalog(f"bench_s3_{uuid.uuid4().hex[:8]}", quota="4GiB")
    cat.create_namespace("db")
    tmp = _tmpfs()
    moto = None
    try:
        with memcatalog.rest.serve(cat, s3=True) as server:
            assert server.s3 is not None
            table = cat.create_table("db.sales", _table(0).schema)
            table.append(_table(rows))
            prefix = "db/sales/data/"
            files = {k: bytes(cat.pool.get(k)) for k in cat.pool.keys("db/sales/data")}
            for key, data in files.items():
                (tmp / Path(key).name).write_bytes(data)
            moto, moto_url = _moto(files)
            ours = server.s3.client_properties()
            secrets = [
                {
                    "key": ours["s3.access-key-id"],
                    "secret": ours["s3.secret-access-key"],
                    "host": server.s3.url.removeprefix("http://"),
                    "scope": f"s3://{cat.pool.name}",
                },
                {"key": "moto", "secret": "moto", "host": moto_url.removeprefix("http://"), "scope": "s3://peer"},
            ]
            sources = {
                "served pool (memcatalog S3 endpoint)": f"read_parquet('s3://{cat.pool.name}/{prefix}*.parquet')",
                "tmpfs (local files)": f"read_parquet('{tmp}/*.parquet')",
                "moto server (S3 peer)": f"read_parquet('s3://peer/{prefix}*.parquet')",
                "served table through REST ATTACH": "lake.db.sales",
            }
            args = {
                "secrets": secrets,
                "sources": sources,
                "query": QUERY,
                "repeat": repeat,
                "catalog": cat.name,
                "rest": server.url,
            }
            env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
            proc = subprocess.run(
                [sys.executable, "-c", _CHILD, json.dumps(args)], capture_output=True, text=True, env=env, timeout=600
            )
            if proc.returncode != 0:
                raise RuntimeError(f"the DuckDB process failed: {proc.stderr[-2000:]}")
            measured = json.loads(proc.stdout.strip().splitlines()[-1])
    finally:
        if moto is not None:
            moto.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        memcatalog.drop_pool(cat.pool.name)
    medians = {label: statistics.median(m["times"]) for label, m in measured.items()}
    return S3BenchResult(rows, len(files), sum(len(d) for d in files.values()), medians, repeat)


SERVED = "served pool (memcatalog S3 endpoint)"


def markdown(result: S3BenchResult) -> str:
    served = result.medians_s[SERVED]
    lines = [
        f"`{QUERY.format(source='...')}` over {result.rows:,} rows ({result.files} Parquet file(s), "
        f"{result.bytes / 2**20:.1f} MiB), DuckDB in another process, median of {result.repeat}:",
        "",
        "| source | median | served / this |",
        "|---|---|---|",
    ]
    for label, seconds in result.medians_s.items():
        lines.append(f"| {label} | {seconds * 1000:.1f} ms | {served / seconds:.2f} |")
    return "\n".join(lines)


HEADING = "## S3 endpoint (issue 17)"


def section(result: S3BenchResult | None) -> str:
    """The S3 section of docs/benchmarks.md; None: the serve extra or moto is missing."""
    if result is None:
        return (
            f"{HEADING}\n\nNot measured: needs the serve extra and moto[server] (`pip install 'memcatalog[test]'`).\n"
        )
    return (
        f"{HEADING}\n\nMeasured by `memcatalog bench` (alone: `python -m memcatalog.bench.s3`): the same files "
        "and query from each source in one run; a ratio above 1 means the served pool is slower.\n\n"
        f"{markdown(result)}\n"
    )


def run_if_servable(rows: int = 1_000_000, repeat: int = 5) -> S3BenchResult | None:
    """:func:`run`, or None without the serve extra or moto's server."""
    try:
        import moto.server  # noqa: F401

        import memcatalog.s3  # noqa: F401
    except ImportError:
        return None
    return run(rows, repeat)


def section_if_servable() -> str:
    """The section as ``memcatalog bench`` writes it (the default size)."""
    return section(run_if_servable())


if __name__ == "__main__":  # pragma: no cover - a measuring program
    print(section(run()))
