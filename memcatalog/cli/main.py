"""The ``memcatalog`` command: a thin click layer over the library."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from memcatalog import __version__
from memcatalog.cli.output import console
from memcatalog.config import DEFAULT_QUOTA_TEXT
from memcatalog.errors import QuotaExceededError

if TYPE_CHECKING:  # imported where used: the CLI starts without pyiceberg
    from pathlib import Path

    from memcatalog.catalog import MemCatalog


class _Group(click.Group):
    """Errors are one clear line unless --debug."""

    def invoke(self, ctx: click.Context) -> Any:  # click.Group.invoke's own return type
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as e:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"error: {_describe(e, self._command_options(ctx))}", err=True)
            sys.exit(1)

    def _command_options(self, ctx: click.Context) -> set[str]:
        command = self.commands.get(ctx.invoked_subcommand or "")
        return {opt for p in command.params for opt in p.opts} if command is not None else set()


def _describe(e: BaseException, options: set[str]) -> str:
    """One line naming what went wrong; a full pool names the command's --quota option where it has one."""
    found: BaseException | None = e
    while found is not None and not isinstance(found, QuotaExceededError):
        found = found.__cause__ or found.__context__
    if isinstance(found, QuotaExceededError):
        fix = "raise it with --quota, e.g. --quota 4GiB" if "--quota" in options else "free memory or raise the quota"
        return found.explain(fix)
    text = str(e).strip()
    if not text:
        return f"{type(e).__name__} (run with --debug for the traceback)"
    return f"{type(e).__name__}: {text}" if isinstance(e, (KeyError, AssertionError)) else text


def _size(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Check a size option (--quota) where it is given, so its error names the option."""
    from memcatalog.config import parse_size

    if value is not None:
        try:
            parse_size(value)
        except ValueError as e:
            raise click.BadParameter(str(e)) from e
    return value


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
@click.option(
    "--scale",
    default=0.1,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="TPC-H scale factor, more than 0 (0.1 is ~860k rows).",
)
@click.option(
    "--quota",
    default=DEFAULT_QUOTA_TEXT,
    show_default=True,
    callback=_size,
    help="Pool quota: bytes or a size such as 512MiB.",
)
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
    from memcatalog.cli.demo import run

    run(scale=scale, quota=quota, console=console())


@main.command()
@click.option("-c", "--command", "commands", multiple=True, help="Run this SQL or dot command and exit (repeatable).")
@click.option(
    "--load", "loads", multiple=True, metavar="PATH:NS.TABLE", help="Load a Parquet/CSV file into a table first."
)
@click.option("--quota", default=DEFAULT_QUOTA_TEXT, show_default=True, callback=_size, help="Pool quota.")
@click.option("--restore", "archive", default=None, help="Start from a saved catalog (.tar archive or directory).")
def shell(commands: tuple[str, ...], loads: tuple[str, ...], quota: str, archive: str | None) -> None:
    """An interactive DuckDB SQL shell over an in-memory catalog.

    Statements end with ';' and may span lines; SQL writes (CREATE TABLE, INSERT,
    UPDATE, DELETE, CREATE TABLE AS) are Iceberg commits in the catalog. On a
    terminal: history, Tab completion, Ctrl-C cancels, Ctrl-D leaves. A script piped
    to stdin runs to its first error (exit status 1). .help lists the dot commands.

    \b
    Examples:
      memcatalog shell
      memcatalog shell --load trips.parquet:db.trips -c "SELECT count(*) FROM db.trips"
      memcatalog shell --load a.csv:db.a -c ".tables" -c ".snapshots db.a"
      memcatalog shell --restore tables.tar -c "SELECT count(*) FROM db.orders"
      memcatalog shell < script.sql
    """
    import uuid

    from memcatalog.catalog import MemCatalog
    from memcatalog.cli.shell import run
    from memcatalog.pool import drop_pool

    pairs = []
    for spec in loads:
        path, sep, name = spec.rpartition(":")
        if not sep or not path:
            raise click.BadParameter(f"expected PATH:NAMESPACE.TABLE, got {spec!r}", param_hint="--load")
        pairs.append((path, name))
    if archive:
        from memcatalog.archive import restore

        catalog = restore(archive, quota=quota)
    else:
        catalog = MemCatalog(f"shell_{uuid.uuid4().hex[:6]}", quota=quota)
    try:
        run(catalog, console(), loads=pairs, commands=commands)
    finally:
        catalog.close()
        drop_pool(catalog.pool.name)


@main.command()
@click.option("--seed", default=0, show_default=True, help="Random seed: the same seed replays the same choices.")
@click.option("--threads", default=8, show_default=True, help="Threads working on the tables at once.")
@click.option("--operations", default=100, show_default=True, help="Operations per thread.")
@click.option(
    "--quota",
    default="512MiB",
    show_default=True,
    callback=_size,
    help="Pool quota; small quotas exercise quota rejections.",
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
    from memcatalog.cli.stress import run

    report = run(seed=seed, threads=threads, operations=operations, quota=quota, tables=tables, duckdb=not no_duckdb)
    click.echo(report.summary())
    if not report.ok:
        sys.exit(1)


@contextmanager
def _open_archive(archive: str, quota: str | None = None, *, create: bool = False) -> Iterator[MemCatalog]:
    """A catalog restored from ``archive`` (new and empty if it does not exist and ``create``), freed afterwards.

    Raises:
        FileNotFoundError: ``archive`` does not exist and ``create`` is false.
    """
    import uuid
    from pathlib import Path

    from memcatalog.archive import restore
    from memcatalog.catalog import MemCatalog
    from memcatalog.pool import drop_pool

    props = {"quota": quota} if quota else {}
    catalog = (
        MemCatalog(f"archive_{uuid.uuid4().hex[:6]}", **props)
        if create and not Path(archive).exists()
        else restore(archive, **props)
    )
    try:
        yield catalog
    finally:
        catalog.close()
        drop_pool(catalog.pool.name)


@contextmanager
def byte_progress(label: str) -> Iterator[Callable[[int], None]]:
    """A progress bar of bytes copied; the library reports them through the callback this yields."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, console=console(), transient=False) as bar:
        task = bar.add_task(label, total=None)
        yield lambda n: bar.advance(task, n)


@main.command("restore")
@click.argument("archive")
def restore_cmd(archive: str) -> None:
    """Restore a saved catalog and show what it holds (tables, snapshots, bytes).

    \b
    Example:
      memcatalog restore tables.tar
    """
    from memcatalog.cli.output import print_table
    from memcatalog.config import format_size

    with _open_archive(archive) as catalog:
        rows = []
        for usage in catalog.usage():
            table = catalog.load_table(usage.identifier)
            rows.append((".".join(usage.identifier), len(table.snapshots()), format_size(usage.bytes), usage.files))
        print_table(
            console(), ["table", "snapshots", "bytes", "files"], rows, title=f"{archive}: catalog {catalog.name!r}"
        )
        problems = catalog.check()
    click.echo("audit: clean" if not problems else "audit: " + "; ".join(problems))


@main.command("import")
@click.argument("source")
@click.argument("name")
@click.option(
    "--save", "archive", required=True, help="Archive (.tar) or directory to add the table to (created if missing)."
)
@click.option("--quota", default=None, callback=_size, help="Pool quota while importing.")
def import_cmd(source: str, name: str, archive: str, quota: str | None) -> None:
    """Copy an Iceberg table (its directory, or a metadata file path or URL) with its history into a saved catalog.

    A table directory means its newest metadata file (by version-hint.text, else the
    highest version number in metadata/).

    \b
    Examples:
      memcatalog import /lake/orders db.orders --save tables.tar
      memcatalog import /lake/orders/metadata/00007-ab.metadata.json db.orders --save tables.tar
    """
    from pyiceberg.catalog import Catalog

    from memcatalog.archive import save
    from memcatalog.tablecopy import import_table

    source = newest_metadata_file(source)
    with _open_archive(archive, quota, create=True) as catalog:
        namespace = Catalog.namespace_from(name)
        if not catalog.namespace_exists(namespace):
            catalog.create_namespace(namespace)
        with byte_progress(f"importing {name}") as advance:
            table = import_table(catalog, name, source, progress=advance)
        _replace_save(catalog, archive, save)
    click.echo(f"imported {name} ({len(table.snapshots())} snapshots) into {archive}")


def newest_metadata_file(source: str) -> str:
    """``source`` itself, or where it is a table (or metadata) directory, its newest metadata file.

    Raises:
        click.BadParameter: a directory without metadata files; the message says how to name one.
    """
    import re

    import fsspec

    fs, path = fsspec.core.url_to_fs(source)
    if not fs.isdir(path):
        return source
    directory = f"{path.rstrip('/')}/metadata" if fs.isdir(f"{path.rstrip('/')}/metadata") else path.rstrip("/")
    found = [p for p in fs.ls(directory, detail=False) if str(p).endswith(".metadata.json")]
    hint = f"{directory}/version-hint.text"
    if fs.isfile(hint):
        version = fs.cat_file(hint).decode().strip()
        hinted = [p for p in found if str(p).rpartition("/")[2] in (f"v{version}.metadata.json",)]
        if hinted:
            found = hinted
    numbered = [(int(m.group(1)), str(p)) for p in found if (m := re.match(r"v?(\d+)[-.]", str(p).rpartition("/")[2]))]
    if not numbered:
        raise click.BadParameter(
            f"{source} is a directory without Iceberg metadata files (*.metadata.json) in {directory}: give the "
            f"table directory, or name the metadata file, e.g. {directory}/00007-<uuid>.metadata.json",
            param_hint="SOURCE",
        )
    newest = max(numbered)[1]
    return fs.unstrip_protocol(newest) if "://" in source else newest


def _replace_save(catalog: MemCatalog, archive: str, save: Callable[[MemCatalog, Path], object]) -> None:
    """Save over ``archive``: a .tar is replaced atomically by save(); a directory is swapped in whole."""
    import shutil
    import uuid
    from pathlib import Path

    path = Path(archive)
    if not path.is_dir():
        save(catalog, path)
        return
    run = uuid.uuid4().hex
    staging, old = path.with_name(f".{path.name}.{run}.new"), path.with_name(f".{path.name}.{run}.old")
    save(catalog, staging)
    path.rename(old)
    staging.rename(path)
    shutil.rmtree(old)


@main.command("export")
@click.argument("archive")
@click.option("--uri", help="SQLAlchemy URL of the target SQL catalog's registry.")
@click.option("--warehouse", help="Target warehouse (file://..., s3://...).")
@click.option("--catalog", "catalog_name", help="Or: a catalog configured in .pyiceberg.yaml / environment.")
@click.option("--table", "tables", multiple=True, help="Export only these tables (NS.TABLE); default all.")
@click.option("-P", "--property", "props", multiple=True, metavar="KEY=VALUE", help="Extra target catalog property.")
def export_cmd(
    archive: str,
    uri: str | None,
    warehouse: str | None,
    catalog_name: str | None,
    tables: tuple[str, ...],
    props: tuple[str, ...],
) -> None:
    """Graduate saved tables to a real warehouse: every snapshot, paths rewritten, registered in the target catalog.

    \b
    Examples:
      memcatalog export tables.tar --uri sqlite:////data/registry.db --warehouse file:///data/wh
      memcatalog export tables.tar --uri postgresql+psycopg2://me@db/iceberg --warehouse s3://lake/wh \\
          -P s3.endpoint=http://127.0.0.1:9000
      memcatalog export tables.tar --catalog prod --table db.orders
    """
    from pyiceberg.catalog import load_catalog
    from pyiceberg.catalog.sql import SqlCatalog

    from memcatalog.tablecopy import export_table

    extra = dict(p.split("=", 1) for p in props)
    if not catalog_name and not (uri and warehouse):
        raise click.UsageError("give --catalog NAME, or --uri and --warehouse")
    with _open_archive(archive) as catalog:  # a missing archive fails before the target is touched
        if catalog_name:
            target = load_catalog(catalog_name, **extra)
        else:
            target = SqlCatalog("default", uri=str(uri), warehouse=str(warehouse), **extra)
        names = list(tables) or [".".join(u.identifier) for u in catalog.usage()]
        for name in names:
            with byte_progress(f"exporting {name}") as advance:
                table = export_table(catalog, name, target, progress=advance)
            click.echo(f"exported {name}: {len(table.snapshots())} snapshots -> {table.metadata_location}")


@main.command()
@click.option("--rows", default=2_000_000, show_default=True, help="Rows of the bulk append and scans.")
@click.option("--repeat", default=5, show_default=True, help="Runs per measurement (the median is reported).")
@click.option(
    "--small-appends", default=200, show_default=True, help="Small appends of 100 rows (also the snapshot count)."
)
@click.option("--threads", default=4, show_default=True, help="Threads appending to one table.")
@click.option("--per-thread", default=25, show_default=True, help="Appends per thread.")
@click.option(
    "--memory", "memory_size", default="1GiB", show_default=True, help="Parquet bytes loaded for the memory test."
)
@click.option("--output", default=None, help="Write the markdown report here (and the plot beside it, .png).")
@click.option(
    "--curves",
    is_flag=True,
    help="Also measure how costs grow: commits against snapshots (1 to 1,000), rows (10k to 10M), "
    "table count (1 to 1,000), threads (1 to 8). About half an hour on 2 cores.",
)
@click.option(
    "--quick-curves",
    is_flag=True,
    help="With --curves: fewer points, rows to 1M (memcatalog.bench.curves.CurveSizes.quick); a few minutes.",
)
def bench(
    rows: int,
    repeat: int,
    small_appends: int,
    threads: int,
    per_thread: int,
    memory_size: str,
    output: str | None,
    curves: bool,
    quick_curves: bool,
) -> None:
    """Benchmark memcatalog against SqlCatalog on tmpfs, SqlCatalog on fsspec memory://, and pyarrow's limit.

    \b
    Example:
      memcatalog bench --output docs/benchmarks.md      # a few minutes on 2 cores
      memcatalog bench --rows 200000 --small-appends 50 --memory 128MiB
      memcatalog bench --curves --output docs/benchmarks.md   # and the growth curves
      memcatalog bench --curves --quick-curves                # fewer points: minutes
    """
    from pathlib import Path

    from memcatalog.bench import report
    from memcatalog.bench import rest as rest_bench
    from memcatalog.bench import s3 as s3_bench
    from memcatalog.bench.curves import CurveSizes, run_curves
    from memcatalog.bench.run import curves_plot_path, run_all, write
    from memcatalog.config import parse_size

    results = run_all(rows, repeat, small_appends, threads, per_thread, parse_size(memory_size))
    rest_section = rest_bench.section(rest_bench.run_if_servable())
    rest_section += "\n" + s3_bench.section_if_servable()
    sizes = CurveSizes.quick() if quick_curves else CurveSizes.full()
    measured = run_curves(sizes, say=lambda what: click.echo(f"... {what}")) if curves else None
    command = "memcatalog bench " + " ".join(sys.argv[2:]) if len(sys.argv) > 2 else "memcatalog bench"
    if output:
        md = Path(output)
        write(results, command, md, md.with_suffix(".png"), measured, rest_section)
        click.echo(f"wrote {md} and {md.with_suffix('.png')}")
        if measured:
            click.echo(f"wrote {curves_plot_path(md.with_suffix('.png'))}")
    from memcatalog.bench.run import environment

    click.echo(report.markdown(results, command, environment()))
    click.echo(rest_section)
    if measured:
        click.echo(report.curves_markdown(measured, "benchmarks-curves.png"))


from memcatalog.cli.serve import serve as _serve  # noqa: E402  (issue 17: memcatalog serve)

main.add_command(_serve)
