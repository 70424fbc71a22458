"""The ``memcatalog_server`` fixtures: a running REST catalog with its S3 endpoint, for clients in any process.

Fixtures:
    memcatalog_server: per test; a fresh catalog served with ``s3=True``
        (``memcatalog.rest.RestServer``: ``.url``, ``.s3_url``, ``.catalog``,
        ``.rest_catalog()``, ``.s3.client_properties()``), stopped, audited and freed afterwards.
    memcatalog_session_server: the same, one for the whole session (tests share its tables:
        give each its own namespace).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from memcatalog.rest import RestServer


def _served(prefix: str) -> Iterator[RestServer]:
    import memcatalog.rest
    from memcatalog.catalog import MemCatalog
    from memcatalog.pool import drop_pool

    catalog = MemCatalog(f"{prefix}_{uuid.uuid4().hex[:12]}")
    try:
        with memcatalog.rest.serve(catalog, s3=True) as server:
            yield server
        findings = catalog.check(allow_unreferenced=True)
    finally:
        catalog.close()
        drop_pool(catalog.pool.name)
    if findings:
        pytest.fail(
            "memcatalog audit found problems after the server stopped:\n  " + "\n  ".join(findings), pytrace=False
        )


@pytest.fixture
def memcatalog_server() -> Iterator[RestServer]:
    """A catalog served over REST and S3 for one test; clients need only ``memcatalog_server.url``."""
    yield from _served("pytest_server")


@pytest.fixture(scope="session")
def memcatalog_session_server() -> Iterator[RestServer]:
    """A catalog served over REST and S3 for the whole session."""
    yield from _served("pytest_session_server")
