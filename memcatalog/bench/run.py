"""``memcatalog bench``: every workload, every peer, one run."""

from __future__ import annotations

import os
import platform
from pathlib import Path

from memcatalog.bench import report, workloads
from memcatalog.bench.curves import Curve
from memcatalog.bench.workloads import Result


def run_all(
    rows: int, repeat: int, small_appends: int, threads: int, per_thread: int, memory_bytes: int, log: bool = True
) -> list[Result]:
    def say(what: str) -> None:
        if log:
            print(f"... {what}", flush=True)

    say(f"bulk append, scans and DuckDB over {rows:,} rows")
    results = workloads.bulk_append_and_scans(workloads.dataset(rows), repeat)
    say(f"{small_appends} small appends and load_table")
    results += workloads.small_appends_and_load(small_appends, repeat)
    say(f"{threads} threads appending")
    results.append(workloads.concurrent_appends(threads, per_thread))
    say(f"memory with {memory_bytes / 2**20:.0f} MiB of Parquet")
    results.append(workloads.memory(memory_bytes))
    return results


def environment() -> str:
    import duckdb
    import pyarrow
    import pyiceberg

    return (
        f"Python {platform.python_version()}, {os.cpu_count()} cores, pyiceberg {pyiceberg.__version__}, "
        f"pyarrow {pyarrow.__version__}, DuckDB {duckdb.__version__}"
    )


def write(
    results: list[Result],
    command: str,
    markdown_path: Path,
    plot_path: Path,
    curves: list[Curve] | None = None,
    rest_section: str | None = None,
) -> None:
    """The markdown report, its ratio plot, and with ``curves`` a section and a plot of them (``<name>-curves.png``).

    ``rest_section``: the REST server's section (:func:`memcatalog.bench.rest.section`), added as given.
    """
    text = report.markdown(results, command, environment())
    if rest_section:
        text += "\n" + rest_section
    if curves:
        curves_path = curves_plot_path(plot_path)
        text += "\n" + report.curves_markdown(curves, curves_path.name)
        report.plot_curves(curves, curves_path)
    markdown_path.write_text(text)
    if results:
        report.plot(results, plot_path)


def curves_plot_path(plot_path: Path) -> Path:
    return plot_path.with_name(f"{plot_path.stem}-curves.png")
