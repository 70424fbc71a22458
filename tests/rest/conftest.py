"""A served MemCatalog per test, with an HTTP client on it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

import memcatalog
import memcatalog.rest
from memcatalog import MemCatalog
from memcatalog.rest import RestServer


@pytest.fixture
def served() -> Iterator[MemCatalog]:
    cat = MemCatalog(f"r{uuid.uuid4().hex[:10]}")
    yield cat
    assert cat.check(allow_unreferenced=True) == [], "the catalog's audit found problems"
    memcatalog.drop_pool(cat.pool.name)


@pytest.fixture
def server(served: MemCatalog) -> Iterator[RestServer]:
    with memcatalog.rest.serve(served) as s:
        yield s


@pytest.fixture
def http(server: RestServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url + "/v1", timeout=30) as client:
        yield client
