"""URLs <-> (pool, key): the one place that knows what a pool URL looks like.

``memcat://<pool>/<key>`` (and fsspec's chained ``memcat::<pool>/<key>``) name the file
``<key>`` of the process-wide pool ``<pool>``. Everything that turns a URL into a pool and
a key, or a pool and a key into a URL, calls this module: the pools' own error messages, the fsspec
filesystem, the pyiceberg FileIO, the catalog, transfers. It deals in pool *names*; the
live pool behind a URL is :func:`memcatalog.pool.locate` (parse here, then the pool
registry), so this module imports nothing above the configuration.

Other schemes can map to pools too (the S3 endpoint of a served pool):
:func:`register_scheme` installs a resolver, after which :func:`parse`, :func:`is_pool_url`
and :func:`memcatalog.pool.locate` accept that scheme's URLs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from memcatalog import paths
from memcatalog.config import PROTOCOL, SCHEME_PREFIX

if TYPE_CHECKING:
    pass

Resolver = Callable[[str], "tuple[str, str] | None"]
"""Maps a URL of a registered scheme to ``(pool, key)``, or None when the URL names no pool."""

_RESOLVERS: dict[str, Resolver] = {}
_RESOLVERS_LOCK = threading.Lock()


def build(pool: str, key: str = "", *, scheme: str = PROTOCOL) -> str:
    """``("demo", "db/t/x.parquet")`` -> ``memcat://demo/db/t/x.parquet``; an empty key is the pool's root.

    ``scheme`` names the same file under another scheme that maps to pools (``s3``: a served
    bucket is the pool of its name).
    """
    return f"{SCHEME_PREFIX if scheme == PROTOCOL else scheme + '://'}{pool}/{key}"


def from_path(path: str) -> str:
    """A normalised ``pool/key`` path (fsspec's stripped form) -> ``memcat://pool/key``."""
    return SCHEME_PREFIX + path


def is_memcat(url: str) -> bool:
    """Whether ``url`` is a ``memcat://`` URL."""
    return url.startswith(SCHEME_PREFIX)


def is_pool_url(url: str) -> bool:
    """Whether ``url`` names a file of a pool: ``memcat://``, or a registered scheme whose resolver claims it."""
    return is_memcat(url) or _resolve_registered(url) is not None


def parse(url: str) -> tuple[str, str]:
    """``memcat://pool/a/../b`` -> (``pool``, ``b``): the pool's name and the normalised key inside it.

    Accepts ``memcat://pool/key``, ``memcat::pool/key``, a bare ``pool/key`` (fsspec's stripped
    form) and the URLs of registered schemes.

    Raises:
        PermissionError: the path leaves its pool.
        ValueError: the path holds a NUL character.
    """
    registered = _resolve_registered(url)
    if registered is not None:
        pool, key = registered
        return paths.split_pool(paths.normalize(f"{pool}/{key}"))
    return paths.split_pool(paths.normalize(url))


def register_scheme(scheme: str, resolver: Resolver) -> None:
    """Let URLs of ``scheme`` (``"s3"``) name pool files: ``resolver(url)`` returns ``(pool, key)`` or None.

    Raises:
        ValueError: ``scheme`` is memcat's own, or already has a resolver.
    """
    if scheme == PROTOCOL:
        raise ValueError(f"{PROTOCOL}:// URLs are always pool URLs; register a different scheme")
    with _RESOLVERS_LOCK:
        if scheme in _RESOLVERS:
            raise ValueError(f"scheme {scheme!r} already maps to pools; unregister_scheme({scheme!r}) first")
        _RESOLVERS[scheme] = resolver


def unregister_scheme(scheme: str) -> None:
    """Undo :func:`register_scheme` (a scheme without a resolver is ignored)."""
    with _RESOLVERS_LOCK:
        _RESOLVERS.pop(scheme, None)


def _resolve_registered(url: str) -> tuple[str, str] | None:
    scheme, sep, _ = url.partition("://")
    if not sep or scheme == PROTOCOL:
        return None
    resolver = _RESOLVERS.get(scheme)
    return None if resolver is None else resolver(url)
