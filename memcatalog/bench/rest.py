"""The REST server's costs: start to first answer, stop, and commit round trips per second.

Run: ``python -m memcatalog.bench.rest`` (prints a Markdown table). Each commit
is measured the same way through REST and, as the baseline in the same run, on
MemCatalog directly, so the table shows what the HTTP hop costs; a stop is measured against uvicorn's own
``Server`` stopping the same way in the same run.
"""

from __future__ import annotations

import statistics
import time
import uuid
from dataclasses import dataclass, field

import pyarrow as pa


@dataclass(frozen=True)
class RestBenchResult:
    start_to_first_answer_s: list[float]
    duckdb_insert_per_s: float
    rest_append_per_s: float
    direct_append_per_s: float
    commits: int
    stop_s: list[float] = field(default_factory=list)  # BackgroundServer.stop() with a keep-alive client
    uvicorn_stop_s: list[float] = field(default_factory=list)  # uvicorn.Server, same app and client


def _start_times(repeats: int) -> list[float]:
    import httpx

    import memcatalog
    import memcatalog.rest
    from memcatalog.catalog import MemCatalog

    times = []
    for _ in range(repeats):
        cat = MemCatalog(f"bench_rest_{uuid.uuid4().hex[:8]}")
        began = time.perf_counter()
        server = memcatalog.rest.serve(cat)
        httpx.get(server.url + "/v1/config").raise_for_status()
        times.append(time.perf_counter() - began)
        server.stop()
        memcatalog.drop_pool(cat.pool.name)
    return times


async def _empty_answer(scope: dict[str, object], receive: object, send: object) -> None:
    await send({"type": "http.response.start", "status": 204, "headers": []})  # type: ignore[operator]
    await send({"type": "http.response.body", "body": b""})  # type: ignore[operator]


def _stop_times(repeats: int, *, quick: bool) -> list[float]:
    """Seconds from asking a server to stop to its thread's end, with one idle keep-alive client connected."""
    import http.client
    import threading

    import uvicorn

    from memcatalog.serving import _bind
    from memcatalog.uvicorn_server import QuickStopServer

    times = []
    for _ in range(repeats):
        sock = _bind("127.0.0.1", 0)
        config = uvicorn.Config(_empty_answer, log_level="warning", lifespan="off", access_log=False)
        server = QuickStopServer(config) if quick else uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        while not server.started:
            thread.join(0.001)
        client = http.client.HTTPConnection("127.0.0.1", int(sock.getsockname()[1]), timeout=10)
        client.request("GET", "/")
        client.getresponse().read()
        began = time.perf_counter()
        if isinstance(server, QuickStopServer):
            server.request_stop()
        else:
            server.should_exit = True
        thread.join()
        times.append(time.perf_counter() - began)
        client.close()
    return times


def _appends_per_second(catalog: object, identifier: str, commits: int) -> float:
    from pyiceberg.catalog import Catalog

    assert isinstance(catalog, Catalog)
    table = catalog.load_table(identifier)
    batch = pa.table({"n": pa.array([1] * 100, pa.int64())})
    began = time.perf_counter()
    for _ in range(commits):
        table.append(batch)
    return commits / (time.perf_counter() - began)


def run(commits: int = 50, starts: int = 5) -> RestBenchResult:
    import memcatalog
    import memcatalog.duckdb
    import memcatalog.rest
    from memcatalog.catalog import MemCatalog

    start_times = _start_times(starts)
    stops, uvicorn_stops = _stop_times(starts, quick=True), _stop_times(starts, quick=False)
    cat = MemCatalog(f"bench_rest_{uuid.uuid4().hex[:8]}")
    cat.create_namespace("db")
    schema = pa.schema([("n", pa.int64())])
    cat.create_table("db.direct", schema)
    cat.create_table("db.rest", schema)
    with memcatalog.rest.serve(cat) as server:
        direct = _appends_per_second(cat, "db.direct", commits)
        rest = _appends_per_second(server.rest_catalog(), "db.rest", commits)
        con = memcatalog.duckdb.attach(cat, name="lake", server=server)
        con.execute("CREATE TABLE lake.db.duck (n BIGINT)")
        began = time.perf_counter()
        for i in range(commits):
            con.execute(f"INSERT INTO lake.db.duck VALUES ({i})")
        duck = commits / (time.perf_counter() - began)
        con.close()
    memcatalog.drop_pool(cat.pool.name)
    return RestBenchResult(start_times, duck, rest, direct, commits, stops, uvicorn_stops)


def markdown(result: RestBenchResult) -> str:
    start_ms = statistics.median(result.start_to_first_answer_s) * 1000
    stops = []
    if result.stop_s and result.uvicorn_stop_s:
        ours, theirs = statistics.median(result.stop_s) * 1000, statistics.median(result.uvicorn_stop_s) * 1000
        stops = [
            f"| server stop with an idle keep-alive client, median of {len(result.stop_s)} | {ours:.1f} ms |",
            f"| the same stop of a plain `uvicorn.Server`, same run | {theirs:.1f} ms |",
            f"| memcatalog / uvicorn stop time | {ours / theirs:.3f} |",
        ]
    return "\n".join(
        [
            "| measurement | value |",
            "|---|---|",
            f"| server start to first answer (`serve()` + `GET /v1/config`), median of "
            f"{len(result.start_to_first_answer_s)} | {start_ms:.1f} ms |",
            *stops,
            f"| DuckDB `INSERT` through ATTACH, one commit each | {result.duckdb_insert_per_s:.1f} commits/s |",
            f"| pyiceberg `append` (100 rows) through `RestCatalog` | {result.rest_append_per_s:.1f} commits/s |",
            f"| pyiceberg `append` (100 rows) on MemCatalog directly, same run | {result.direct_append_per_s:.1f} commits/s |",
            f"| REST / direct append throughput | {result.rest_append_per_s / result.direct_append_per_s:.2f} |",
            f"| commits per measurement | {result.commits} (on a fresh table) |",
        ]
    )


HEADING = "## REST catalog server (issue 16)"


def section(result: RestBenchResult | None) -> str:
    """The REST section of docs/benchmarks.md (``memcatalog bench`` writes it); None: the serve extra is missing."""
    if result is None:
        return (
            f"{HEADING}\n\nNot measured: the REST server needs the serve extra (`pip install 'memcatalog[serve]'`).\n"
        )
    return (
        f"{HEADING}\n\nMeasured by `memcatalog bench` (alone: `python -m memcatalog.bench.rest`); each commit "
        "is one HTTP round trip, the direct appends on MemCatalog are the baseline of the same run.\n\n"
        f"{markdown(result)}\n"
    )


def run_if_servable(commits: int = 50, starts: int = 5) -> RestBenchResult | None:
    """:func:`run`, or None without the serve extra (starlette, uvicorn)."""
    try:
        import memcatalog.rest  # noqa: F401
    except ImportError:
        return None
    return run(commits, starts)


if __name__ == "__main__":  # pragma: no cover - a measuring program
    print(markdown(run()))
