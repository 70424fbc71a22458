from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

import memcatalog
from memcatalog.pool import Pool


@pytest.fixture
def pool_name() -> Iterator[str]:
    """A fresh process-wide pool name, audited and dropped after the test."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    yield name
    pool = memcatalog.pool.find_pool(name)
    if pool is not None:
        assert pool.check() == []
        memcatalog.drop_pool(name)


@pytest.fixture
def pool(pool_name: str) -> Pool:
    return memcatalog.get_pool(pool_name, quota="1MiB")
