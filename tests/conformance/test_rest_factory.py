"""The REST fixtures of .ci/pyiceberg-suite-rest.sh, quickly: each yields a RestCatalog given only ``uri``
on a served MemCatalog, and leaves no server and no pool behind; the overlay reads several factories."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pytest
from pyiceberg.catalog.rest import RestCatalog

import memcatalog

HERE = Path(__file__).resolve().parent


def _load(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"conformance_{name}", HERE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # loaded by path, as the scripts load them inside pyiceberg's sdist
    return module


rest_factory = _load("rest_factory")


@pytest.mark.parametrize("factory", ["catalog", "file_catalog"])
def test_each_factory_serves_a_fresh_catalog_and_cleans_up(factory: str, tmp_path: Path) -> None:
    pools_before = set(memcatalog.list_pools())
    made = getattr(rest_factory, factory)("suite", tmp_path)
    catalog = next(made)
    assert isinstance(catalog, RestCatalog) and set(catalog.properties) >= {"uri"}
    uri = catalog.properties["uri"]
    assert uri.startswith("http://127.0.0.1:")
    catalog.create_namespace("db")
    table = catalog.create_table("db.t", pa.schema([("n", pa.int64())]))
    table.append(pa.table({"n": [1, 2]}))
    assert catalog.load_table("db.t").scan().to_arrow().num_rows == 2
    expected_prefix = f"file://{tmp_path}" if factory == "file_catalog" else "memcat://"
    assert table.metadata_location.startswith(expected_prefix)
    made.close()
    with pytest.raises(httpx.TransportError):
        httpx.get(uri + "/v1/config", timeout=5)
    assert set(memcatalog.list_pools()) == pools_before


def test_the_overlay_reads_named_factories(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "MEMCATALOG_CONFORMANCE_FACTORY",
        "rest=tests/conformance/rest_factory.py:catalog,rest_file=tests/conformance/rest_factory.py:file_catalog",
    )
    monkeypatch.setenv("MEMCATALOG_CONFORMANCE_ROOT", str(HERE.parent.parent))
    overlay = _load("pyiceberg_overlay")
    factories = overlay._custom_factories()
    assert sorted(factories) == ["rest", "rest_file"]
    assert factories["rest"].__name__ == "catalog" and factories["rest_file"].__name__ == "file_catalog"
    monkeypatch.setenv("MEMCATALOG_CONFORMANCE_FACTORY", "tests/conformance/rest_factory.py:catalog")
    assert list(overlay._custom_factories()) == ["custom"]
    monkeypatch.setenv("MEMCATALOG_CONFORMANCE_FACTORY", "no-colon-here")
    with pytest.raises(ValueError, match=r"package\.module:function"):
        overlay._custom_factories()
