"""The fixtures: a fresh catalog, its alias, the catalogs behind load_catalog names, a DuckDB connection."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from pytest_memcatalog import loading

if TYPE_CHECKING:
    from memcatalog.catalog import MemCatalog
    from memcatalog.duckdb import CatalogConnection


def _quota(request: pytest.FixtureRequest) -> str:
    from memcatalog.config import DEFAULT_QUOTA_TEXT

    marker = request.node.get_closest_marker("memcatalog_quota")
    return str(marker.args[0]) if marker else str(request.config.getini("memcatalog_quota") or DEFAULT_QUOTA_TEXT)


def new_catalog(quota: str) -> MemCatalog:
    from memcatalog.catalog import MemCatalog

    return MemCatalog(f"pytest_{uuid.uuid4().hex[:12]}", quota=quota)


def finish(catalog: MemCatalog) -> list[str]:
    """Audit, close and free a fixture catalog; the audit's findings."""
    from memcatalog.pool import drop_pool

    try:
        return catalog.check(allow_unreferenced=True)
    finally:
        catalog.close()
        drop_pool(catalog.pool.name)


def _fail_on(findings: list[str]) -> None:
    if findings:
        pytest.fail("memcatalog audit found problems after the test:\n  " + "\n  ".join(findings), pytrace=False)


@pytest.fixture
def memcatalog(request: pytest.FixtureRequest) -> Iterator[MemCatalog]:
    """A fresh in-memory Iceberg catalog, audited and freed after the test."""
    catalog = new_catalog(_quota(request))
    try:
        yield catalog
    finally:
        findings = finish(catalog)
    _fail_on(findings)


@pytest.fixture
def memcatalog_catalog(memcatalog: MemCatalog) -> MemCatalog:
    """The ``memcatalog`` fixture under a name that does not hide the ``memcatalog`` module in the test."""
    return memcatalog


@pytest.fixture
def memcatalog_catalogs(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, MemCatalog]]:
    """The catalogs that ``pyiceberg.catalog.load_catalog(name)`` returns during the test, by name.

    The names come from ``@pytest.mark.memcatalog_catalogs("prod", ...)`` or the
    ``memcatalog_catalogs`` ini option; the first is the ``memcatalog`` fixture's
    catalog, each other name gets a fresh catalog of its own. Used automatically by
    every test that has names; ``load_catalog`` is restored after the test.
    """
    names = loading.listed_names(request)
    if not names:
        yield {}
        return
    catalogs: dict[str, MemCatalog] = {names[0]: request.getfixturevalue("memcatalog")}
    findings: list[str] = []
    try:
        for name in names[1:]:
            catalogs.setdefault(name, new_catalog(_quota(request)))
        loading.redirect(monkeypatch, catalogs)
        yield catalogs
    finally:
        monkeypatch.undo()
        for catalog in list(catalogs.values())[1:]:
            findings += finish(catalog)
    _fail_on(findings)


@pytest.fixture(autouse=True)
def _memcatalog_load_catalog(request: pytest.FixtureRequest) -> None:
    if loading.listed_names(request):
        request.getfixturevalue("memcatalog_catalogs")


@pytest.fixture
def memcatalog_duckdb(memcatalog: MemCatalog) -> Iterator[CatalogConnection]:
    """A DuckDB database of its own that sees the ``memcatalog`` fixture's tables as views.

    Each test gets a new in-memory DuckDB database, so nothing one test creates in DuckDB
    is seen by the next. That costs about 10 ms: the iceberg extension's binary is loaded
    into the process once, and loading it again into a new database is cheap because
    ``memcatalog.duckdb.load_extension`` never lets DuckDB try to download it.
    """
    from memcatalog.duckdb import connect

    con = connect(memcatalog)
    try:
        yield con
    finally:
        con.close()
