"""Tables on the terminal with rich, plain text when piped."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:  # duckdb is an optional extra
    from duckdb import DuckDBPyRelation


def console() -> Console:
    return Console(highlight=False, soft_wrap=True)


def print_table(
    con: Console, headers: Sequence[str], rows: Sequence[Sequence[object]], title: str | None = None
) -> None:
    table = Table(
        *headers, title=title, box=box.SIMPLE_HEAD if con.is_terminal else box.ASCII, show_edge=con.is_terminal
    )
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    con.print(table)


def print_relation(con: Console, relation: DuckDBPyRelation, limit: int = 50) -> None:
    """Print a DuckDB relation's first rows."""
    headers = list(relation.columns)
    rows = relation.fetchmany(limit)
    print_table(con, headers, rows)
