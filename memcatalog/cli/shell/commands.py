"""The shell's dot commands: each checks its arguments, and ``.help <command>`` explains it."""

from __future__ import annotations

import contextlib
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
from pyiceberg.exceptions import NamespaceAlreadyExistsError, NoSuchTableError

from memcatalog.config import format_size

if TYPE_CHECKING:
    from memcatalog.cli.shell.app import Shell


class UsageError(ValueError):
    """A dot command was given the wrong arguments; the message shows its usage."""


@dataclass(frozen=True)
class Command:
    name: str
    arguments: tuple[str, ...]  # shown in the usage; a name ending in '?' is optional
    summary: str
    details: str
    run: Callable[[Shell, list[str]], None]

    @property
    def usage(self) -> str:
        return " ".join([self.name, *(a.rstrip("?").join("[]") if a.endswith("?") else a for a in self.arguments)])

    def check(self, args: list[str]) -> None:
        required = sum(1 for a in self.arguments if not a.endswith("?"))
        if not required <= len(args) <= len(self.arguments):
            raise UsageError(f"usage: {self.usage}  (.help {self.name[1:]} explains it)")


def read_file(path: str) -> pa.Table:
    """A Parquet or CSV file, local or at any fsspec URL, as Arrow."""
    import fsspec
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    with fsspec.open(path, "rb") as f:
        if path.lower().endswith((".csv", ".csv.gz", ".tsv")):
            return pcsv.read_csv(f)
        return pq.read_table(f)


def table_name(shell: Shell, name: str) -> str:
    """``name`` if it is a table of the catalog, else a UsageError pointing at ``.tables``."""
    if "." not in name.strip("."):
        raise UsageError(f"name tables NAMESPACE.TABLE, not {name!r}")
    try:
        shell.catalog.load_table(name)
    except NoSuchTableError:
        raise UsageError(f"no table {name} in the catalog (.tables lists them)") from None
    return name


def format_timestamp(ms: int) -> str:
    """Epoch milliseconds as readable UTC: 2026-12-03 05:46:01.123 UTC."""
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"


def _load(shell: Shell, args: list[str]) -> None:
    path, name = args
    if "://" not in path and not Path(path).exists():
        raise FileNotFoundError(f"no such file: {path}")
    namespace, _, table = name.rpartition(".")
    if not namespace or not table:
        raise UsageError(f"name tables NAMESPACE.TABLE, not {name!r}")
    if shell.catalog.table_exists(name):
        raise UsageError(f"table {name} exists already; load into a new name or DROP TABLE {name} first")
    data = read_file(path)
    with contextlib.suppress(NamespaceAlreadyExistsError):
        shell.catalog.create_namespace(namespace)
    shell.catalog.create_table(name, data.schema)
    try:
        with shell.catalog.writer(name) as w:
            w.write(data)
    except BaseException:
        shell.catalog.drop_table(name)  # a load that failed leaves no empty table behind
        raise
    shell.out.print(f"loaded {data.num_rows} rows into {name}")


def _tables(shell: Shell, args: list[str]) -> None:
    rows = [(".".join(u.identifier), format_size(u.bytes), u.files) for u in shell.catalog.usage()]
    shell.print_rows(["table", "bytes", "files"], rows)


def _snapshots(shell: Shell, args: list[str]) -> None:
    table = shell.catalog.load_table(table_name(shell, args[0]))
    rows = []
    for s in table.snapshots():
        summary = s.summary
        operation = summary.operation.value if summary is not None else ""
        added = summary.get("added-records", "") if summary is not None else ""
        total = summary.get("total-records", "") if summary is not None else ""
        rows.append((s.snapshot_id, format_timestamp(s.timestamp_ms), operation, added, total))
    shell.print_rows(["snapshot_id", "committed (UTC)", "operation", "added rows", "total rows"], rows)


def _at(shell: Shell, args: list[str]) -> None:
    name, raw_id = args
    table = shell.catalog.load_table(table_name(shell, name))
    try:
        snapshot_id = int(raw_id)
    except ValueError:
        raise UsageError(f"a snapshot id is a number, not {raw_id!r} (.snapshots {name} lists them)") from None
    if table.snapshot_by_id(snapshot_id) is None:
        raise UsageError(f"{name} has no snapshot {snapshot_id} (.snapshots {name} lists them)")
    shell.print_result(shell.session.at_snapshot(name, snapshot_id, shell.row_limit))


def _usage(shell: Shell, args: list[str]) -> None:
    s = shell.catalog.pool.stats()
    sizes = [format_size(v) for v in (s.used, s.reserved, s.free, s.quota, s.peak)]
    shell.print_rows(["pool", "used", "reserved", "free", "quota", "peak", "files"], [(s.name, *sizes, s.files)])


def _save(shell: Shell, args: list[str]) -> None:
    from memcatalog.archive import save

    manifest = save(shell.catalog, args[0])
    shell.session.mark_saved()
    shell.out.print(f"saved {len(manifest['tables'])} tables ({len(manifest['files'])} files) to {args[0]}")


def _help(shell: Shell, args: list[str]) -> None:
    if args:
        wanted = args[0] if args[0].startswith(".") else "." + args[0]
        command = COMMANDS.get(wanted)
        if command is None:
            raise UsageError(f"no command {wanted}; .help lists them")
        shell.out.print(f"{command.usage}\n  {command.summary}\n\n{command.details}", markup=False)
        return
    width = max(len(c.usage) for c in COMMANDS.values())
    lines = [f"  {c.usage:<{width}}  {c.summary}" for c in COMMANDS.values()]
    shell.out.print("dot commands (.help COMMAND for more):\n" + "\n".join(lines) + "\n" + SQL_HELP, markup=False)


def _quit(shell: Shell, args: list[str]) -> None:
    shell.request_quit()


SQL_HELP = """anything else is DuckDB SQL, ended by ';' (it may span lines). The catalog is the default
database: CREATE TABLE db.t, INSERT, UPDATE, DELETE and CREATE TABLE AS are Iceberg commits.
Ctrl-C cancels the running statement or the line; Ctrl-D (or .quit) leaves."""

COMMANDS: dict[str, Command] = {
    c.name: c
    for c in [
        Command(
            ".load",
            ("PATH", "NAMESPACE.TABLE"),
            "load a Parquet or CSV file into a new table",
            "PATH is a local file or any fsspec URL; a name ending in .csv, .csv.gz or .tsv is read as\n"
            "CSV, anything else as Parquet. The namespace is created if needed; the table must not exist.\n"
            "Example: .load trips.parquet db.trips",
            _load,
        ),
        Command(".tables", (), "list tables with their size", "Every table with its pool bytes and files.", _tables),
        Command(
            ".snapshots",
            ("NAMESPACE.TABLE",),
            "list a table's snapshots",
            "Snapshot id, commit time (UTC), operation, rows added and total rows.\nExample: .snapshots db.trips",
            _snapshots,
        ),
        Command(
            ".at",
            ("NAMESPACE.TABLE", "SNAPSHOT_ID"),
            "show a table as of a snapshot (time travel)",
            "SNAPSHOT_ID is one of the ids .snapshots lists.\nExample: .at db.trips 4371809183215446573",
            _at,
        ),
        Command(".usage", (), "pool usage", "The pool's used, reserved, free and peak bytes and its quota.", _usage),
        Command(
            ".save",
            ("PATH",),
            "save the catalog to a .tar archive or a new directory",
            "memcatalog shell --restore PATH starts from it again.\nExample: .save tables.tar",
            _save,
        ),
        Command(".help", ("COMMAND?",), "this list, or one command's help", "Example: .help at", _help),
        Command(
            ".quit",
            (),
            "leave the shell (also .exit, Ctrl-D)",
            "Asks first when tables changed since the last .save.",
            _quit,
        ),
    ]
}
ALIASES = {".exit": ".quit"}


def parse(line: str) -> tuple[Command, list[str]]:
    """The command and arguments of a dot-command line, checked against its usage."""
    try:
        words = shlex.split(line)
    except ValueError as e:
        raise UsageError(f"cannot read {line!r}: {e}") from None
    name = ALIASES.get(words[0], words[0])
    command = COMMANDS.get(name)
    if command is None:
        raise UsageError(f"unknown command {words[0]}; .help lists them")
    args = words[1:]
    command.check(args)
    return command, args
