"""pytest fixtures for memcatalog, registered through the ``pytest11`` entry point.

Fixtures:
    memcatalog: a fresh MemCatalog per test with a pool of its own; audited by
        ``check()`` at teardown (a finding fails the test) and freed.
    memcatalog_duckdb: a DuckDB connection on that catalog (``memcatalog.duckdb.connect``).

The quota is 1 GiB unless set by the ``memcatalog_quota`` ini option or the
``@pytest.mark.memcatalog_quota("64MiB")`` marker.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from memcatalog.catalog import MemCatalog
    from memcatalog.duckdb import CatalogConnection

DEFAULT_QUOTA = "1GiB"

from pytest_memcatalog.server import memcatalog_server, memcatalog_session_server  # noqa: E402, F401  (issue 17)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "memcatalog_quota", "pool quota of the memcatalog fixture (bytes or e.g. 256MiB)", default=DEFAULT_QUOTA
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "memcatalog_quota(size): pool quota of the memcatalog fixture for this test")


@pytest.fixture
def memcatalog(request: pytest.FixtureRequest) -> Iterator[MemCatalog]:
    """A fresh in-memory Iceberg catalog, audited and freed after the test."""
    from memcatalog.catalog import MemCatalog
    from memcatalog.pool import drop_pool

    marker = request.node.get_closest_marker("memcatalog_quota")
    quota = str(marker.args[0]) if marker else str(request.config.getini("memcatalog_quota"))
    catalog = MemCatalog(f"pytest_{uuid.uuid4().hex[:12]}", quota=quota)
    try:
        yield catalog
        findings = catalog.check(allow_unreferenced=True)
    finally:
        catalog.close()
        drop_pool(catalog.pool.name)
    if findings:
        pytest.fail("memcatalog audit found problems after the test:\n  " + "\n  ".join(findings), pytrace=False)


@pytest.fixture
def memcatalog_duckdb(memcatalog: MemCatalog) -> Iterator[CatalogConnection]:
    """A DuckDB connection that sees the ``memcatalog`` fixture's tables as views."""
    from memcatalog.duckdb import connect

    con = connect(memcatalog)
    yield con
    con.close()
