"""Tab completion: dot commands, SQL keywords, namespaces and tables of the catalog."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from memcatalog.cli.shell.commands import ALIASES, COMMANDS

if TYPE_CHECKING:
    from memcatalog.cli.shell.app import Shell

_WORD = re.compile(r"[\w.\"]*$")
_TAKES_TABLE = {".snapshots", ".at", ".load"}


def keywords(shell: Shell) -> list[str]:
    """DuckDB's keywords (``duckdb_keywords()``), upper case."""
    rows = shell.session.con.sql("SELECT keyword_name FROM duckdb_keywords()").fetchall()
    return sorted({str(r[0]).upper() for r in rows})


def table_names(shell: Shell) -> list[str]:
    """Every ``namespace.table`` and namespace of the catalog, read when Tab is pressed."""
    names: list[str] = []
    for namespace in shell.catalog.list_namespaces():
        names.append(".".join(namespace))
        names += [".".join(t) for t in shell.catalog.list_tables(namespace)]
    return names


class ShellCompleter(Completer):
    def __init__(self, shell: Shell) -> None:
        self.shell = shell
        self._keywords: list[str] | None = None

    def _candidates(self, line: str, word: str) -> Iterable[str]:
        stripped = line.lstrip()
        if stripped.startswith("."):
            first, space, _ = stripped.partition(" ")
            if not space:  # still typing the command name
                return [*COMMANDS, *ALIASES]
            command = ALIASES.get(first, first)
            if command == ".help":
                return [name[1:] for name in COMMANDS]
            return table_names(self.shell) if command in _TAKES_TABLE else []
        if self._keywords is None:
            self._keywords = keywords(self.shell)
        return [*table_names(self.shell), *self._keywords]

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterator[Completion]:
        line = document.current_line_before_cursor
        match = _WORD.search(line)
        word = match.group(0) if match else ""
        if line.lstrip().startswith(".") and " " not in line.lstrip():
            word = line.lstrip()
        lowered = word.lower()
        for candidate in self._candidates(line, word):
            if candidate.lower().startswith(lowered) and candidate != word:
                yield Completion(candidate, start_position=-len(word))
