"""fsspec's own shared conformance suite, bound to memcat://."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import fsspec
import pytest
from fsspec.tests.abstract import (
    AbstractCopyTests,
    AbstractFixtures,
    AbstractGetTests,
    AbstractOpenTests,
    AbstractPipeTests,
    AbstractPutTests,
)

import memcatalog


class MemcatFixtures(AbstractFixtures):  # type: ignore[misc]
    @pytest.fixture
    def fs(self) -> fsspec.AbstractFileSystem:
        return fsspec.filesystem("memcat")

    @pytest.fixture
    def fs_path(self) -> Iterator[str]:
        name = f"conformance-{uuid.uuid4().hex[:8]}"
        memcatalog.get_pool(name)
        yield name
        assert memcatalog.get_pool(name).check() == []
        memcatalog.drop_pool(name)

    @pytest.fixture
    def supports_empty_directories(self) -> bool:
        return True


class TestMemcatCopy(AbstractCopyTests, MemcatFixtures):  # type: ignore[misc]
    pass


class TestMemcatGet(AbstractGetTests, MemcatFixtures):  # type: ignore[misc]
    pass


class TestMemcatPut(AbstractPutTests, MemcatFixtures):  # type: ignore[misc]
    pass


class TestMemcatPipe(AbstractPipeTests, MemcatFixtures):  # type: ignore[misc]
    pass


class TestMemcatOpen(AbstractOpenTests, MemcatFixtures):  # type: ignore[misc]
    pass
