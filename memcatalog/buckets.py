"""Which ``s3://`` buckets are pools of this process: the S3 endpoint's buckets, as this process sees them.

When the S3 endpoint (``memcatalog.s3``) serves pools, ``s3://<pool>/<key>`` names the
same file as ``memcat://<pool>/<key>``. Inside the process memcatalog's FileIO reads
and writes such URLs straight from the pool (no HTTP); other processes reach them
through the endpoint. A bucket stays mapped for the rest of the process once served,
so tables written while serving stay readable here after the server stops.
"""

from __future__ import annotations

import threading

from memcatalog import urls

S3_SCHEMES = ("s3://", "s3a://", "s3n://")  # the spellings Spark and Hadoop use for the same buckets

_SERVED: set[str] = set()
_SERVE_ALL = False  # an endpoint serving every pool of the process (bucket names are pool names)
_ENDPOINTS: list[tuple[list[str] | None, dict[str, str]]] = []  # running endpoints: (pools, client properties)
_LOCK = threading.Lock()


def serve(pools: list[str] | None, client_properties: dict[str, str] | None = None) -> None:
    """Map the buckets named ``pools`` (every pool when None) to this process's pools.

    ``client_properties`` (``s3.endpoint``, keys, region) say how other clients in this process that
    cannot use the pools directly (DuckDB's httpfs) reach them, until :func:`stopped`.
    """
    global _SERVE_ALL
    with _LOCK:
        if pools is None:
            _SERVE_ALL = True
        else:
            _SERVED.update(pools)
        if client_properties is not None:
            _ENDPOINTS.append((None if pools is None else list(pools), dict(client_properties)))


def stopped(client_properties: dict[str, str]) -> None:
    """An endpoint stopped: its buckets stay mapped for memcatalog's FileIO, but no longer over HTTP.

    An endpoint that served every pool leaves mapped the pools that exist now (their tables may name
    ``s3://`` files), not every pool the process makes later.
    """
    global _SERVE_ALL
    from memcatalog.pool import list_pools

    with _LOCK:
        _ENDPOINTS[:] = [e for e in _ENDPOINTS if e[1] != client_properties]
        if _SERVE_ALL and not any(pools is None for pools, _ in _ENDPOINTS):
            _SERVED.update(list_pools())
            _SERVE_ALL = False


def endpoint_for(bucket: str) -> dict[str, str] | None:
    """The client properties of a running endpoint serving ``bucket``, or None."""
    with _LOCK:
        for pools, props in reversed(_ENDPOINTS):
            if pools is None or bucket in pools:
                return dict(props)
    return None


def adopt(location: str) -> None:
    """Map the bucket of an ``s3://`` location to the pool of its name (a served catalog's save restored here)."""
    for scheme in S3_SCHEMES:
        if location.startswith(scheme):
            serve([location[len(scheme) :].partition("/")[0]])


def is_served(bucket: str) -> bool:
    from memcatalog.pool import find_pool

    with _LOCK:
        listed = bucket in _SERVED or _SERVE_ALL
    return listed and find_pool(bucket) is not None


def to_memcat(location: str) -> str | None:
    """``memcat://<pool>/<key>`` for an ``s3://`` URL of a served bucket, else None."""
    for scheme in S3_SCHEMES:
        if location.startswith(scheme):
            bucket, _, key = location[len(scheme) :].partition("/")
            return urls.build(bucket, key) if is_served(bucket) else None
    return None


def canonical(location: str) -> str:
    """The ``memcat://`` form of a location (served ``s3://`` URLs mapped, anything else unchanged)."""
    return to_memcat(location) or location


def _pool_and_key(url: str) -> tuple[str, str] | None:
    """memcatalog.urls' resolver for the S3 schemes: a served bucket is the pool of its name."""
    bucket, _, key = url.partition("://")[2].partition("/")
    return (bucket, key) if is_served(bucket) else None


for _scheme in S3_SCHEMES:  # from now on urls.parse, urls.is_pool_url and pool.locate take served s3:// URLs
    urls.register_scheme(_scheme.removesuffix("://"), _pool_and_key)
