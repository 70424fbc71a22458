"""Fixture overlay that runs pyiceberg's own catalog tests against memcatalog.

``.ci/pyiceberg-suite.sh`` copies this file to ``tests/catalog/conftest.py`` inside the
extracted pyiceberg sdist. A conftest nearer the tests overrides the fixtures of
pyiceberg's ``tests/conftest.py``, so everything else (schemas, identifiers, the tests)
stays pyiceberg's own:

- ``catalog`` and ``catalog_with_warehouse`` yield the catalogs named in
  ``MEMCATALOG_CONFORMANCE_CATALOGS`` (default ``memcat,memcat_file``): a MemCatalog with
  its tables in a ``memcat://`` pool, and one with a ``file://`` warehouse for the tests
  that look at the files with ``os.path.exists``.
- ``tests/catalog/test_sql.py`` builds ``SqlCatalog(...)`` itself; its module's
  ``SqlCatalog`` is rebound to MemCatalog (a subclass, so isinstance checks still hold), and
  its ``load_catalog`` loads a MemCatalog where it asks for a SQL catalog.

Other catalogs (pyiceberg's RestCatalog in front of memcatalog's REST server) plug in
with ``MEMCATALOG_CONFORMANCE_FACTORY=package.module:function`` (or ``file.py:function``, relative
to ``MEMCATALOG_CONFORMANCE_ROOT``): ``function(name, warehouse)`` returns a Catalog, or yields
one (it is then a context that is closed after the test). Its fixture parameter is called
``custom``; several factories are ``param=spec`` items separated by commas, each a parameter
of that name (``rest=tests/conformance/rest_factory.py:catalog,rest_file=...``).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import uuid
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
from pyiceberg.catalog import Catalog

import memcatalog
from memcatalog.catalog import MemCatalog

CatalogFactory = Callable[[str, Path], Any]


def _pool_name() -> str:
    return f"conformance-{uuid.uuid4().hex[:10]}"


def memcat_catalog(name: str, warehouse: Path) -> Iterator[Catalog]:
    """Tables in a fresh memcat:// pool (the warehouse directory is not used)."""
    pool = _pool_name()
    catalog = MemCatalog(name, pool=pool)
    try:
        yield catalog
    finally:
        catalog.close()
        memcatalog.drop_pool(pool)


def memcat_file_catalog(name: str, warehouse: Path) -> Iterator[Catalog]:
    """Tables under ``file://<warehouse>``, as pyiceberg's own fixtures put them."""
    pool = _pool_name()
    catalog = MemCatalog(name, pool=pool, warehouse=f"file://{warehouse}")
    try:
        yield catalog
    finally:
        catalog.close()
        memcatalog.drop_pool(pool)


def _load_factory(spec: str) -> CatalogFactory:
    """``package.module:function`` or ``path/to/file.py:function``."""
    module_name, _, attr = spec.rpartition(":")
    if not module_name or not attr:
        raise ValueError(
            f"MEMCATALOG_CONFORMANCE_FACTORY item {spec!r}: give 'package.module:function' or 'file.py:function'"
        )
    if module_name.endswith(".py"):
        path = Path(os.environ.get("MEMCATALOG_CONFORMANCE_ROOT", ".")) / module_name
        found = importlib.util.spec_from_file_location(f"memcatalog_conformance_{path.stem}", path)
        if found is None or found.loader is None:
            raise ValueError(f"MEMCATALOG_CONFORMANCE_FACTORY item {spec!r}: cannot load {path}")
        module = importlib.util.module_from_spec(found)
        found.loader.exec_module(module)
    else:
        module = importlib.import_module(module_name)
    factory: CatalogFactory = getattr(module, attr)
    return factory


def _custom_factories() -> dict[str, CatalogFactory]:
    """``MEMCATALOG_CONFORMANCE_FACTORY``: ``spec`` (parameter ``custom``) or ``param=spec,param=spec``."""
    factories = {}
    for item in os.environ.get("MEMCATALOG_CONFORMANCE_FACTORY", "").split(","):
        if item.strip():
            param, sep, spec = item.strip().partition("=")
            factories[param if sep else "custom"] = _load_factory(spec if sep else param)
    return factories


FACTORIES: dict[str, CatalogFactory] = {"memcat": memcat_catalog, "memcat_file": memcat_file_catalog}


def _selected() -> list[str]:
    names = [n.strip() for n in os.environ.get("MEMCATALOG_CONFORMANCE_CATALOGS", "memcat,memcat_file").split(",")]
    FACTORIES.update(_custom_factories())
    unknown = [n for n in names if n and n not in FACTORIES]
    if unknown:
        raise ValueError(f"MEMCATALOG_CONFORMANCE_CATALOGS names {unknown}; known: {sorted(FACTORIES)}")
    return [n for n in names if n]


def _open(kind: str, name: str, warehouse: Path) -> Generator[Catalog, None, None]:
    made = FACTORIES[kind](name, warehouse)
    if inspect.isgenerator(made):
        with _closing(made) as catalog:
            yield catalog
    else:
        yield made
        made.close()


class _closing:
    def __init__(self, gen: Generator[Catalog, None, None]) -> None:
        self.gen = gen

    def __enter__(self) -> Catalog:
        return next(self.gen)

    def __exit__(self, *exc: object) -> None:
        self.gen.close()


@pytest.fixture(params=_selected())
def catalog(request: pytest.FixtureRequest, tmp_path: Path) -> Generator[Catalog, None, None]:
    yield from _open(request.param, "test_catalog", tmp_path)


@pytest.fixture(params=_selected())
def catalog_with_warehouse(request: pytest.FixtureRequest, warehouse: Path) -> Generator[Catalog, None, None]:
    yield from _open(request.param, "test_catalog", warehouse)


@pytest.fixture(scope="module", autouse=True)
def _sql_catalog_is_memcatalog(request: pytest.FixtureRequest) -> Iterator[None]:
    """Where a test module builds ``SqlCatalog(...)`` itself, it builds a MemCatalog."""
    module = request.module
    if getattr(module, "SqlCatalog", None) is None or not module.__name__.endswith("test_sql"):
        yield
        return
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(module, "SqlCatalog", MemCatalog)
        if hasattr(module, "load_catalog"):
            mp.setattr(module, "load_catalog", _load_memcatalog)
        yield


def _load_memcatalog(name: str, **properties: str) -> Catalog:
    """pyiceberg's load_catalog, with a SQL catalog (``type: sql`` or SqlCatalog's dotted path) made a MemCatalog."""
    from pyiceberg.catalog import load_catalog

    impl = properties.get("py-catalog-impl")
    if properties.get("type") == "sql" or impl == "pyiceberg.catalog.sql.SqlCatalog":
        properties = {k: v for k, v in properties.items() if k != "type"}
        properties["py-catalog-impl"] = "memcatalog.MemCatalog"
    return load_catalog(name, **properties)


@pytest.fixture(autouse=True)
def _fresh_pools_per_test() -> Iterator[None]:
    """Each test starts as in a fresh process: the pools (and the in-memory registries they keep) it made go.

    pyiceberg's tests build ``SqlCatalog(name="test", uri="sqlite:///:memory:")`` in test after test and
    expect an empty registry each time. A MemCatalog of the same name on an in-memory registry attaches
    to the registry its pool keeps (docs/reliability.md, "what a name means in a process"), as re-running
    ``load_catalog`` in a notebook should; dropping the pools between tests is what a new process gives.
    """
    before = set(memcatalog.list_pools())
    yield
    for name in set(memcatalog.list_pools()) - before:
        memcatalog.drop_pool(name)


@pytest.fixture(autouse=True)
def _no_failed_deletes(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """pyiceberg logs (and swallows) a failed delete; the catalog must never make it try one twice."""
    yield
    failed = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Failed to delete")]
    assert not failed, f"pyiceberg could not delete files: {failed}"
