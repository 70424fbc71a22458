"""pytest fixtures for memcatalog, registered through the ``pytest11`` entry point.

Fixtures:
    memcatalog: a fresh MemCatalog per test with a pool of its own; audited by
        ``check()`` at teardown (a finding fails the test) and freed.
    memcatalog_catalog: the same catalog under a name that leaves the ``memcatalog``
        module usable inside the test.
    memcatalog_catalogs: the catalogs ``pyiceberg.catalog.load_catalog(name)`` returns
        for the names of the ``memcatalog_catalogs`` marker or ini option.
    memcatalog_duckdb: a DuckDB connection on that catalog (``memcatalog.duckdb.connect``),
        a new in-memory DuckDB database for each test.
    memcatalog_server, memcatalog_session_server: a catalog served over REST and S3
        (``memcatalog.rest.serve(catalog, s3=True)``), per test or per session.

The quota is 1 GiB unless set by the ``memcatalog_quota`` ini option or the
``@pytest.mark.memcatalog_quota("64MiB")`` marker.
"""

from __future__ import annotations

import pytest

from pytest_memcatalog.fixtures import (
    _memcatalog_load_catalog,
    memcatalog,
    memcatalog_catalog,
    memcatalog_catalogs,
    memcatalog_duckdb,
)

# Fixtures of other modules are registered by one import line each, here.
from pytest_memcatalog.server import memcatalog_server, memcatalog_session_server

__all__ = [
    "_memcatalog_load_catalog",
    "memcatalog",
    "memcatalog_catalog",
    "memcatalog_catalogs",
    "memcatalog_duckdb",
    "memcatalog_server",
    "memcatalog_session_server",
]


def pytest_addoption(parser: pytest.Parser) -> None:
    # No default here: the fixture falls back to memcatalog.config.DEFAULT_QUOTA_TEXT, so importing the
    # plugin (in every pytest run where memcatalog is installed) does not import memcatalog.
    parser.addini("memcatalog_quota", "pool quota of the memcatalog fixture (bytes or e.g. 256MiB; default 1GiB)")
    parser.addini(
        "memcatalog_catalogs",
        "catalog names for which pyiceberg.catalog.load_catalog(name) returns the test's catalogs",
        type="args",
        default=[],
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "memcatalog_quota(size): pool quota of the memcatalog fixture for this test")
    config.addinivalue_line(
        "markers",
        "memcatalog_catalogs(*names): pyiceberg.catalog.load_catalog(name) returns this test's catalogs for these names",
    )
