"""Fixture overlay that runs pyiceberg's integration ``test_catalog.py`` through RestCatalog against memcatalog's server.

``.ci/pyiceberg-suite-rest.sh`` copies this file to ``tests/integration/conftest.py`` inside the
extracted pyiceberg sdist and selects the tests parametrized with ``rest_catalog``. That
fixture of the test module builds ``RestCatalog("rest", uri="http://localhost:8181")`` (a
Java REST fixture in docker, in pyiceberg's CI); here the module's ``RestCatalog`` is
rebound so that it points at a MemCatalog served by ``memcatalog.rest.serve`` on 127.0.0.1,
port 0, started for the test and stopped after it. Nothing else of the test changes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from pyiceberg.catalog.rest import RestCatalog

import memcatalog
import memcatalog.rest
from memcatalog.catalog import MemCatalog


@pytest.fixture(autouse=True)
def _rest_catalog_is_served_memcatalog(request: pytest.FixtureRequest) -> Iterator[None]:
    module = request.module
    if getattr(module, "RestCatalog", None) is not RestCatalog:
        yield
        return
    pool = f"integration-rest-{uuid.uuid4().hex[:10]}"
    served = MemCatalog("integration-served", pool=pool)
    try:
        with memcatalog.rest.serve(served, host="127.0.0.1", port=0) as server:

            def served_rest_catalog(name: str, **properties: Any) -> RestCatalog:
                return RestCatalog(name, **{**properties, "uri": server.url})

            with pytest.MonkeyPatch.context() as mp:
                mp.setattr(module, "RestCatalog", served_rest_catalog)
                yield
    finally:
        served.close()
        memcatalog.drop_pool(pool)
