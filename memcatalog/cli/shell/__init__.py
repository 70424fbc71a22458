"""``memcatalog shell``: DuckDB SQL over an in-memory catalog, with dot commands for the catalog.

Modules: ``session`` (the served catalog and its DuckDB connection), ``statements``
(where input ends), ``commands`` (dot commands), ``completion`` (Tab), ``repl`` (the
terminal loop, prompt_toolkit), ``app`` (running input from any source).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from memcatalog.cli.shell.app import ScriptError, Shell
from memcatalog.cli.shell.commands import read_file

if TYPE_CHECKING:
    from rich.console import Console

    from memcatalog.catalog import MemCatalog

WIDE = 10_000

__all__ = ["ScriptError", "Shell", "read_file", "run"]


def run(
    catalog: MemCatalog,
    console: Console,
    *,
    loads: Sequence[tuple[str, str]] = (),
    commands: Sequence[str] = (),
    stdin: TextIO | None = None,
) -> None:
    """Load files, then run ``commands``, else a piped script from ``stdin``, else the interactive loop.

    A script or command that fails raises ScriptError (the caller exits non-zero). The
    REST server and DuckDB are stopped before this returns, whatever happens.
    """
    stdin = stdin if stdin is not None else sys.stdin
    if not console.is_terminal:
        console.width = max(console.width, WIDE)  # piped output: rows are not wrapped to 80 columns
    shell = Shell(catalog, console)
    try:
        for path, name in loads:
            shell.run_text(f".load {_shell_word(path)} {_shell_word(name)}", label="--load, line")
        if commands:
            shell.run_commands(commands)
        elif not stdin.isatty():
            shell.run_text(stdin.read())
        else:
            from memcatalog.cli.shell.repl import interact

            interact(shell)
    finally:
        shell.close()


def _shell_word(text: str) -> str:
    import shlex

    return shlex.quote(text)
