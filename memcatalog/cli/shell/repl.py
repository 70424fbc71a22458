"""The interactive loop on a terminal, with prompt_toolkit: history, completion, multi-line statements.

Enter runs the input once it is a dot command or its last SQL statement has its ``;``,
and otherwise starts a new line. Up and Down walk the history, which is kept in
:func:`history_path`. Ctrl-C cancels the running statement (DuckDB's ``interrupt()``)
or discards the line being typed; Ctrl-D on an empty line, ``.quit`` and ``.exit``
leave, asking first when tables changed since the start or the last ``.save``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from memcatalog.cli.shell.app import BANNER
from memcatalog.cli.shell.session import StatementCancelledError
from memcatalog.cli.shell.statements import Piece, is_complete, split

if TYPE_CHECKING:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.key_binding import KeyPressEvent

    from memcatalog.cli.shell.app import Shell

INSTALL_HINT = "the interactive shell needs prompt_toolkit: pip install 'memcatalog[shell]'"
HISTORY_ENV = "MEMCATALOG_HISTORY"  # a file path; overrides the default below


def history_path() -> Path:
    """``$MEMCATALOG_HISTORY``, else ``$XDG_STATE_HOME/memcatalog/history``, else ``~/.memcatalog_history``."""
    if os.environ.get(HISTORY_ENV):
        return Path(os.environ[HISTORY_ENV])
    state = os.environ.get("XDG_STATE_HOME")
    if state:
        return Path(state) / "memcatalog" / "history"
    return Path.home() / ".memcatalog_history"


def _prompt_session(shell: Shell) -> PromptSession[str]:
    try:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.history import FileHistory
        from prompt_toolkit.key_binding import KeyBindings
    except ImportError as e:
        raise ImportError(INSTALL_HINT) from e
    from memcatalog.cli.shell.completion import ShellCompleter

    bindings = KeyBindings()

    @bindings.add("enter")
    def _enter(event: KeyPressEvent) -> None:
        buffer = event.current_buffer
        if is_complete(buffer.text):
            buffer.validate_and_handle()
        else:
            buffer.insert_text("\n")

    path = history_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    return PromptSession(
        history=FileHistory(str(path)),
        completer=ShellCompleter(shell),
        complete_while_typing=False,
        multiline=True,
        key_bindings=bindings,
        prompt_continuation=lambda width, line, wrapped: "...> ".rjust(width),
    )


def _confirm_quit(shell: Shell, session: PromptSession[str]) -> bool:
    if not shell.session.unsaved():
        return True
    from prompt_toolkit import prompt

    try:
        answer = prompt("tables changed since the last .save and will be lost; quit anyway? [y/N] ")
    except EOFError:  # Ctrl-D again: leave
        return True
    except KeyboardInterrupt:  # Ctrl-C: stay
        return False
    return answer.strip().lower() in ("y", "yes")


def interact(shell: Shell) -> None:
    """Read, run and print until the user leaves."""
    session = _prompt_session(shell)
    shell.out.print(BANNER, markup=False, highlight=False)
    while True:
        try:
            text = session.prompt(shell.prompt())
        except KeyboardInterrupt:  # Ctrl-C while typing: the line is dropped
            continue
        except EOFError:  # Ctrl-D
            if _confirm_quit(shell, session):
                return
            continue
        pieces, rest = split(text)
        if rest.strip():
            pieces.append(Piece(rest.strip(), 1))
        for piece in pieces:
            try:
                shell.run_piece(piece)
            except StatementCancelledError as e:
                shell.out.print(str(e))
            except KeyboardInterrupt:
                shell.out.print("cancelled")
            except Exception as e:  # the shell reports and goes on; the connection is usable again
                shell.report(e)
            if shell.quit_requested:
                if _confirm_quit(shell, session):
                    return
                shell.quit_requested = False
                break
