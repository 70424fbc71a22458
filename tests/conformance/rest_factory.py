"""The catalogs of the pyiceberg suite over REST: pyiceberg's RestCatalog in front of our server.

``.ci/pyiceberg-suite-rest.sh`` points ``MEMCATALOG_CONFORMANCE_FACTORY`` here. Each test
gets a fresh MemCatalog (its own pool) served by ``memcatalog.rest.serve`` on 127.0.0.1,
port 0, and a ``RestCatalog`` given nothing but ``uri``: the FileIO for ``memcat://`` and
the warehouse come from the server's ``/v1/config``, as they would for any client.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

from pyiceberg.catalog import Catalog
from pyiceberg.catalog.rest import RestCatalog

import memcatalog
import memcatalog.rest
from memcatalog.catalog import MemCatalog


def _served(name: str, warehouse: str | None) -> Iterator[Catalog]:
    pool = f"conformance-rest-{uuid.uuid4().hex[:10]}"
    served = MemCatalog(f"{name}-served", pool=pool, **({"warehouse": warehouse} if warehouse else {}))
    try:
        with memcatalog.rest.serve(served, host="127.0.0.1", port=0) as server:
            yield RestCatalog(name, uri=server.url)
    finally:
        served.close()
        memcatalog.drop_pool(pool)


def catalog(name: str, warehouse: Path) -> Iterator[Catalog]:
    """A RestCatalog named ``name`` on a served MemCatalog with its tables in a ``memcat://`` pool.

    ``warehouse`` (pyiceberg's temporary directory) is not used. The server stops and the
    pool is dropped after the test.
    """
    yield from _served(name, None)


def file_catalog(name: str, warehouse: Path) -> Iterator[Catalog]:
    """The same, with the served catalog's tables under ``file://<warehouse>`` as pyiceberg's fixtures put them.

    For the tests that look at the files with ``os.path.exists``.
    """
    yield from _served(name, f"file://{warehouse}")
