"""What a namespace or table name may be: each part becomes a directory under the warehouse."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

MAX_NAME_LENGTH = 255  # characters in one namespace level or table name


def check_name_part(part: str, what: str) -> str:
    """Refuse a name part that could not be a directory name, or could walk out of the warehouse.

    Raises:
        ValueError: naming the part, what is wrong and what is allowed.
    """
    problem = None
    if not isinstance(part, str) or not part:
        problem = "it is empty"
    elif part in (".", ".."):
        problem = "'.' and '..' are path navigation"
    elif "/" in part or "\\" in part:
        problem = "it contains a path separator"
    elif "." in part:
        problem = "it contains '.', which separates namespace levels in Iceberg identifiers"
    elif any(unicodedata.category(c) == "Cc" for c in part):
        problem = "it contains a control character (NUL, newline, ...)"
    elif len(part) > MAX_NAME_LENGTH:
        problem = f"it is {len(part)} characters long (at most {MAX_NAME_LENGTH})"
    if problem:
        shown = part if len(part) <= 40 else part[:40] + "..."
        raise ValueError(
            f"invalid {what} {shown!r}: {problem}. Use 1-{MAX_NAME_LENGTH} printable characters without '.', '/' or backslash"
        )
    return part


def check_identifier(parts: Iterable[str], what: str) -> None:
    for part in parts:
        check_name_part(part, what)
