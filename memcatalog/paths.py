"""Normalising paths inside pools: what a ``pool/key`` path may look like.

Turning URLs into pools and keys, and back, is :mod:`memcatalog.urls`'s job; this module is the
string arithmetic below it.
"""

from __future__ import annotations

import errno

from memcatalog.config import CHAINED_PREFIX, SCHEME_PREFIX


def strip_scheme(url: str) -> str:
    """``memcat://pool/a/b`` -> ``pool/a/b`` (other forms are returned unchanged)."""
    if url.startswith(SCHEME_PREFIX):
        return url[len(SCHEME_PREFIX) :]
    if url.startswith(CHAINED_PREFIX):
        return url[len(CHAINED_PREFIX) :]
    return url


def normalize(path: str) -> str:
    """Resolve ``.``, ``..`` and repeated slashes inside one pool.

    The first component is the pool's name. ``..`` may walk up inside a pool but
    never above its root.

    Raises:
        PermissionError: the path leaves its pool.
        ValueError: the path holds a NUL character.
    """
    if "\x00" in path:
        raise ValueError(f"invalid path {path!r}: NUL characters are not allowed in memcat paths")
    parts: list[str] = []
    for part in strip_scheme(path).split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if len(parts) <= 1:
                raise PermissionError(errno.EACCES, "path leaves its pool; '..' cannot go above a pool's root", path)
            parts.pop()
            continue
        parts.append(part)
    return "/".join(parts)


def split_pool(path: str) -> tuple[str, str]:
    """``pool/a/b`` -> (``pool``, ``a/b``); the path must already be normalised."""
    pool, _, key = path.partition("/")
    return pool, key


def parent(key: str) -> str:
    return key.rpartition("/")[0]


def ancestors(key: str) -> list[str]:
    """Every directory above ``key`` inside its pool, nearest first, ending with the root ``""``."""
    out = []
    while key:
        key = parent(key)
        out.append(key)
    return out
