"""``memcatalog shell``: DuckDB SQL over an in-memory catalog, with dot commands for the catalog."""

from __future__ import annotations

import contextlib
import shlex
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
from pyiceberg.exceptions import NamespaceAlreadyExistsError
from rich.console import Console

import memcatalog.duckdb as mduck
from memcatalog.catalog import MemCatalog
from memcatalog.cli.output import print_relation, print_table
from memcatalog.config import format_size

HELP = """dot commands:
  .load PATH NAMESPACE.TABLE   load a Parquet or CSV file (or fsspec URL) into a new table
  .tables                      list tables with their size
  .snapshots NAMESPACE.TABLE   list a table's snapshots
  .at NAMESPACE.TABLE ID       show a table as of a snapshot id (time travel)
  .usage                       pool usage
  .save PATH                   save the catalog to a .tar archive or a new directory
  .help  .quit
anything else is DuckDB SQL; tables are views named NAMESPACE.TABLE"""


def read_file(path: str) -> pa.Table:
    """A Parquet or CSV file, local or at any fsspec URL, as Arrow."""
    import fsspec
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    with fsspec.open(path, "rb") as f:
        if path.lower().endswith((".csv", ".csv.gz", ".tsv")):
            return pcsv.read_csv(f)
        return pq.read_table(f)


class Shell:
    def __init__(self, catalog: MemCatalog, console: Console) -> None:
        self.catalog = catalog
        self.out = console
        self.con = mduck.connect(catalog)
        self.commands: dict[str, Callable[[list[str]], None]] = {
            ".load": self.load,
            ".tables": self.tables,
            ".snapshots": self.snapshots,
            ".at": self.at,
            ".usage": self.usage,
            ".save": self.save,
            ".help": lambda _: self.out.print(HELP),
        }

    def prompt(self) -> str:
        s = self.catalog.pool.stats()
        return f"memcat [{format_size(s.used)}/{format_size(s.quota)}]> "

    def run(self, line: str) -> None:
        """Run one command or SQL statement; errors propagate."""
        line = line.strip()
        if not line:
            return
        if line.startswith("."):
            words = shlex.split(line)
            command = self.commands.get(words[0])
            if command is None:
                raise ValueError(f"unknown command {words[0]}; try .help")
            command(words[1:])
            return
        relation = self.con.sql(line)
        if relation is not None:
            print_relation(self.out, relation)

    def load(self, args: list[str]) -> None:
        if len(args) != 2:
            raise ValueError("usage: .load PATH NAMESPACE.TABLE")
        path, name = args
        if "://" not in path and not Path(path).exists():
            raise FileNotFoundError(f"no such file: {path}")
        data = read_file(path)
        namespace = name.rpartition(".")[0]
        if not namespace:
            raise ValueError(f"name tables NAMESPACE.TABLE, not {name!r}")
        with contextlib.suppress(NamespaceAlreadyExistsError):
            self.catalog.create_namespace(namespace)
        self.catalog.create_table(name, data.schema)
        with self.catalog.writer(name) as w:
            w.write(data)
        self.out.print(f"loaded {data.num_rows} rows into {name}")

    def tables(self, _: list[str]) -> None:
        rows = [(".".join(u.identifier), format_size(u.bytes), u.files) for u in self.catalog.usage()]
        print_table(self.out, ["table", "bytes", "files"], rows)

    def snapshots(self, args: list[str]) -> None:
        table = self.catalog.load_table(args[0])
        rows = [
            (s.snapshot_id, s.timestamp_ms, s.summary.operation.value if s.summary else "") for s in table.snapshots()
        ]
        print_table(self.out, ["snapshot_id", "timestamp_ms", "operation"], rows)

    def at(self, args: list[str]) -> None:
        print_relation(self.out, self.con.at_snapshot(args[0], snapshot_id=int(args[1])))

    def usage(self, _: list[str]) -> None:
        s = self.catalog.pool.stats()
        print_table(
            self.out,
            ["pool", "used", "reserved", "free", "quota", "peak", "files"],
            [
                (
                    s.name,
                    format_size(s.used),
                    format_size(s.reserved),
                    format_size(s.free),
                    format_size(s.quota),
                    format_size(s.peak),
                    s.files,
                )
            ],
        )

    def save(self, args: list[str]) -> None:
        from memcatalog.archive import save

        if len(args) != 1:
            raise ValueError("usage: .save PATH")
        manifest = save(self.catalog, args[0])
        self.out.print(f"saved {len(manifest['tables'])} tables ({len(manifest['files'])} files) to {args[0]}")

    def interact(self) -> None:
        self.out.print(
            "memcatalog shell: DuckDB SQL over an in-memory Iceberg catalog. .help for commands, .quit to leave."
        )
        while True:
            try:
                line = input(self.prompt())
            except EOFError:
                return
            if line.strip() in (".quit", ".exit"):
                return
            try:
                self.run(line)
            except Exception as e:  # the shell reports and goes on
                self.out.print(f"[red]error:[/red] {e}")
