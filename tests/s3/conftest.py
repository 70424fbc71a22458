"""One S3 endpoint per module serving every pool; a fresh pool (bucket) per test, audited afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

import memcatalog
import memcatalog.s3
from memcatalog.pool import Pool
from memcatalog.s3 import S3Server


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with memcatalog.s3.serve() as server:
        yield server


@pytest.fixture
def bucket() -> Iterator[Pool]:
    pool = memcatalog.get_pool(f"b{uuid.uuid4().hex[:10]}", quota="64MiB")
    yield pool
    assert pool.check() == [], "the pool's audit found problems"
    memcatalog.drop_pool(pool.name)


@pytest.fixture(scope="module")
def client(s3: S3Server) -> Any:
    """One boto3 client per module (making one costs ~10 ms); a test that changes a client makes its own."""
    return s3.boto3_client()
