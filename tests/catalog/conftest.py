"""One behaviour suite, run against MemCatalog and pyiceberg's own SqlCatalog and InMemoryCatalog.

``memcatalog-rest`` is pyiceberg's RestCatalog talking to a MemCatalog served by memcatalog.rest.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyiceberg.catalog import Catalog
from pyiceberg.catalog.memory import InMemoryCatalog
from pyiceberg.catalog.sql import SqlCatalog

import memcatalog
import memcatalog.rest
from memcatalog import MemCatalog

POSTGRES_URI = os.environ.get("MEMCATALOG_TEST_POSTGRES_URI")

CATALOGS = [
    "memcatalog",
    "sqlcatalog",
    "inmemorycatalog",
    "memcatalog-rest",
    pytest.param("memcatalog-postgres", marks=pytest.mark.postgres),
]


def _fresh_postgres_catalog(name: str) -> MemCatalog:
    if not POSTGRES_URI:
        pytest.fail(
            "MEMCATALOG_TEST_POSTGRES_URI is not set: run the suite through .ci/run, or deselect with -m 'not postgres'"
        )
    return MemCatalog(name, uri=POSTGRES_URI)


@pytest.fixture(params=CATALOGS)
def catalog(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Catalog]:
    name = f"c{uuid.uuid4().hex[:10]}"
    cat: Catalog
    served: MemCatalog | None = None
    server = None
    if request.param == "memcatalog-rest":
        served = MemCatalog(name)
        server = memcatalog.rest.serve(served)
        cat = server.rest_catalog()
    elif request.param == "memcatalog":
        cat = MemCatalog(name)
    elif request.param == "memcatalog-postgres":
        cat = _fresh_postgres_catalog(name)
    elif request.param == "sqlcatalog":
        cat = SqlCatalog(name, uri="sqlite:///:memory:", warehouse=f"file://{tmp_path}")
    else:
        cat = InMemoryCatalog(name, warehouse=f"file://{tmp_path}")
    yield cat
    if server is not None:
        server.stop()
        cat = served  # audit the served catalog itself
    if isinstance(cat, MemCatalog):
        assert cat.check(allow_unreferenced=True) == [], "the catalog's audit found problems"
        cat.reclaim()  # dropped (not purged) tables leave files until a reclaim
        assert cat.check() == []
        memcatalog.drop_pool(cat.pool.name)
    cat.close()
