"""The shell: runs statements and dot commands from the terminal, a piped script or ``-c``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from rich.console import Console

from memcatalog.cli.output import print_table
from memcatalog.cli.shell import commands
from memcatalog.cli.shell.session import Result, Session
from memcatalog.cli.shell.statements import Piece, split
from memcatalog.config import format_size

if TYPE_CHECKING:
    from memcatalog.catalog import MemCatalog

ROW_LIMIT = 50  # rows printed per result
BANNER = "memcatalog shell: DuckDB SQL over an in-memory Iceberg catalog; statements end with ';'. .help for help."


class ScriptError(Exception):
    """A statement of a piped script or -c failed; the script stops there."""


class Shell:
    def __init__(self, catalog: MemCatalog, out: Console, err: Console | None = None) -> None:
        self.catalog = catalog
        self.out = out
        self.err = err or Console(stderr=True, highlight=False, soft_wrap=True)
        self.session = Session(catalog)
        self.row_limit = ROW_LIMIT
        self.quit_requested = False

    # ---- output ------------------------------------------------------------------------
    def print_rows(self, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
        print_table(self.out, headers, rows)

    def print_result(self, result: Result | None) -> None:
        if result is None:
            return
        if result.message is not None or not result.columns:
            if result.message:
                self.out.print(result.message, markup=False, highlight=False)
            return
        self.print_rows(result.columns, result.rows)
        if result.more:
            self.out.print(f"(the first {len(result.rows)} rows; add a LIMIT or an aggregate to see others)")

    def report(self, error: BaseException, where: str = "") -> None:
        text = str(error).strip() or type(error).__name__
        self.err.print(f"error{where}: {text}", markup=False, highlight=False)
        self.print_notices()

    def print_notices(self) -> None:
        for notice in self.session.notices:
            self.err.print(f"note: {notice}", markup=False, highlight=False)
        self.session.notices.clear()

    def prompt(self) -> str:
        s = self.catalog.pool.stats()
        return f"memcat [{format_size(s.used)}/{format_size(s.quota)}]> "

    # ---- running -----------------------------------------------------------------------
    def request_quit(self) -> None:
        self.quit_requested = True

    def run_piece(self, piece: Piece) -> None:
        """Run one statement or dot command; errors propagate (the connection is usable again)."""
        if piece.is_command:
            command, args = commands.parse(piece.text)
            command.run(self, args)
            return
        self.print_result(self.session.execute(piece.text, self.row_limit))

    def run_text(self, text: str, *, label: str = "line") -> None:
        """Run every statement and dot command of ``text``; the first error stops it (a ScriptError)."""
        pieces, rest = split(text)
        if rest.strip():
            pieces.append(Piece(rest.strip(), text[: len(text) - len(rest)].count("\n") + 1))
        for piece in pieces:
            if self.quit_requested:
                return
            try:
                self.run_piece(piece)
            except Exception as e:  # a StatementCancelledError too
                raise ScriptError(f"{label} {piece.line}: {str(e).strip() or type(e).__name__}") from e

    def run_commands(self, texts: Iterable[str]) -> None:
        for i, text in enumerate(texts, start=1):
            self.run_text(text, label=f"-c #{i}, line")
            if self.quit_requested:
                return

    def close(self) -> None:
        self.session.close()
