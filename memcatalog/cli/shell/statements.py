"""Where one shell input ends: an SQL statement with ``;``, a dot command with its line."""

from __future__ import annotations

import bisect
from dataclasses import dataclass


@dataclass(frozen=True)
class Piece:
    """One SQL statement or dot command of an input, with the line it starts on (1-based)."""

    text: str
    line: int

    @property
    def is_command(self) -> bool:
        return self.text.startswith(".")


def _skip_quoted(text: str, i: int) -> int:
    """The offset after the quoted string, identifier or $$ block at ``i``; -1 if it does not end."""
    if text.startswith("$$", i):
        end = text.find("$$", i + 2)
        return -1 if end == -1 else end + 2
    quote = text[i]
    end = text.find(quote, i + 1)
    while end != -1 and text.startswith(quote, end + 1):  # '' and "" stand for the quote itself
        end = text.find(quote, end + 2)
    return -1 if end == -1 else end + 1


def _skip_comment(text: str, i: int) -> int:
    """The offset after the comment at ``i``; -1 if a ``/*`` comment does not end."""
    if text.startswith("--", i):
        end = text.find("\n", i)
        return len(text) if end == -1 else end + 1
    end = text.find("*/", i + 2)
    return -1 if end == -1 else end + 2


def split(text: str) -> tuple[list[Piece], str]:
    """The complete statements and dot commands of ``text``, and the unfinished rest.

    A statement ends with a ``;`` outside quotes ('...', "...", $$...$$) and comments
    (-- and /* */). A line starting with ``.`` outside a statement is a dot command.
    """
    newlines = [i for i, c in enumerate(text) if c == "\n"]

    def line(offset: int) -> int:
        return bisect.bisect_left(newlines, offset) + 1

    pieces: list[Piece] = []
    start: int | None = None  # where the statement being read began
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if start is None and c.isspace():
            i += 1
            continue
        if start is None and c == "." and not text[text.rfind("\n", 0, i) + 1 : i].strip():
            end = text.find("\n", i)
            end = n if end == -1 else end
            pieces.append(Piece(text[i:end].strip(), line(i)))
            i = end
            continue
        if text.startswith(("--", "/*"), i):
            after = _skip_comment(text, i)
            if after == -1:
                return pieces, text[i if start is None else start :]
            i = after
            continue
        if start is None:
            start = i
        if c in "'\"" or text.startswith("$$", i):
            after = _skip_quoted(text, i)
            if after == -1:
                return pieces, text[start:]
            i = after
            continue
        if c == ";":
            statement = text[start : i + 1].strip()
            if statement != ";":
                pieces.append(Piece(statement, line(start)))
            start = None
        i += 1
    return pieces, "" if start is None else text[start:]


def is_complete(buffer: str) -> bool:
    """True when Enter should run the buffer: a dot command, or SQL whose last statement has its ``;``."""
    if buffer.strip().startswith("."):
        return True
    return not split(buffer)[1].strip()
