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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """PostgreSQL tests run where a server is given (CI starts one); elsewhere they are deselected, loudly."""
    import os

    if os.environ.get("MEMCATALOG_TEST_POSTGRES_URI"):
        return
    keep = [i for i in items if i.get_closest_marker("postgres") is None]
    dropped = [i for i in items if i.get_closest_marker("postgres") is not None]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(
                f"memcatalog: {len(dropped)} PostgreSQL registry tests deselected "
                "(set MEMCATALOG_TEST_POSTGRES_URI, as .ci/run does, to run them)"
            )
