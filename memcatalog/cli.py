"""The ``memcatalog`` command: a thin click layer over the library."""

from __future__ import annotations

import sys
from typing import Any

import click

from memcatalog import __version__
from memcatalog.output import console


class _Group(click.Group):
    """Errors are one clear line unless --debug."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as e:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"error: {e}", err=True)
            sys.exit(1)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="memcatalog")
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """memcatalog: Iceberg tables in memory, for pyiceberg, fsspec and DuckDB.

    \b
    Examples:
      memcatalog demo                      # TPC-H into memory, queried by DuckDB and pyiceberg
      memcatalog demo --scale 0.01 --quota 256MiB
      memcatalog shell --load trips.parquet:db.trips -c "SELECT count(*) FROM db.trips"
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


@main.command()
@click.option("--scale", default=0.1, show_default=True, type=float, help="TPC-H scale factor (0.1 is ~860k rows).")
@click.option("--quota", default="1GiB", show_default=True, help="Pool quota: bytes or a size such as 512MiB.")
def demo(scale: float, quota: str) -> None:
    """Load TPC-H into an in-memory catalog and query it, offline.

    \b
    Shows: validated streaming loads with a progress bar, TPC-H Q1/Q3/Q6 through
    DuckDB's iceberg_scan and pyiceberg, time travel after a second append, a
    deliberate quota error that loses nothing, and pool usage per table.

    \b
    Example:
      memcatalog demo --scale 0.01
    """
    from memcatalog.demo import run

    run(scale=scale, quota=quota, console=console())


@main.command()
@click.option("-c", "--command", "commands", multiple=True, help="Run this SQL or dot command and exit (repeatable).")
@click.option(
    "--load", "loads", multiple=True, metavar="PATH:NS.TABLE", help="Load a Parquet/CSV file into a table first."
)
@click.option("--quota", default="1GiB", show_default=True, help="Pool quota.")
def shell(commands: tuple[str, ...], loads: tuple[str, ...], quota: str) -> None:
    """An interactive DuckDB SQL shell over an in-memory catalog.

    \b
    Examples:
      memcatalog shell
      memcatalog shell --load trips.parquet:db.trips -c "SELECT count(*) FROM db.trips"
      memcatalog shell --load a.csv:db.a -c ".tables" -c ".snapshots db.a"
    """
    import uuid

    from memcatalog.catalog import MemCatalog
    from memcatalog.pool import drop_pool
    from memcatalog.shell import Shell

    catalog = MemCatalog(f"shell_{uuid.uuid4().hex[:6]}", quota=quota)
    try:
        sh = Shell(catalog, console())
        for spec in loads:
            path, sep, name = spec.rpartition(":")
            if not sep or not path:
                raise click.BadParameter(f"expected PATH:NAMESPACE.TABLE, got {spec!r}", param_hint="--load")
            sh.load([path, name])
        if commands:
            for command in commands:
                sh.run(command)
        else:
            sh.interact()
    finally:
        drop_pool(catalog.pool.name)


@main.command()
@click.option("--seed", default=0, show_default=True, help="Random seed: the same seed replays the same choices.")
@click.option("--threads", default=8, show_default=True, help="Threads working on the tables at once.")
@click.option("--operations", default=100, show_default=True, help="Operations per thread.")
@click.option(
    "--quota", default="512MiB", show_default=True, help="Pool quota; small quotas exercise quota rejections."
)
@click.option("--tables", default=3, show_default=True, help="Tables the threads share.")
@click.option("--no-duckdb", is_flag=True, help="Leave DuckDB readers out.")
def stress(seed: int, threads: int, operations: int, quota: str, tables: int, no_duckdb: bool) -> None:
    """Threads appending, deleting, scanning and querying (DuckDB) shared tables, then a full audit.

    \b
    Checks: every committed row present exactly once, no torn reads, peak pool use
    within the quota, catalog.check() empty. Exits 1 if any check fails.

    \b
    Example:
      memcatalog stress --seed 7 --threads 8 --operations 500 --quota 64MiB
    """
    from memcatalog.stress import run

    report = run(seed=seed, threads=threads, operations=operations, quota=quota, tables=tables, duckdb=not no_duckdb)
    click.echo(report.summary())
    if not report.ok:
        sys.exit(1)
