"""memcatalog.config is the one place for property keys and defaults."""

from __future__ import annotations

import ast
import uuid
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

import memcatalog
from memcatalog import config
from memcatalog.catalog import MemCatalog

PACKAGE = Path(memcatalog.__file__).parent
PLUGIN = PACKAGE.parent / "plugins" / "pytest_memcatalog"


def _distinctive_keys() -> dict[str, str]:
    """Config's string constants that cannot be mistaken for an ordinary word (they hold '-' or '.')."""
    return {
        name: value
        for name, value in vars(config).items()
        if name.isupper() and isinstance(value, str) and ("-" in value or "." in value) and " " not in value
    }


def test_property_keys_are_spelled_only_in_config() -> None:
    keys = _distinctive_keys()
    assert config.PY_IO_IMPL in keys.values() and config.SQLITE_BUSY_TIMEOUT in keys.values()
    found = []
    sources = sorted(PACKAGE.rglob("*.py")) + sorted(PLUGIN.rglob("*.py"))
    assert len(sources) > 40 and any(p.is_relative_to(PLUGIN) for p in sources)
    for path in sources:
        if path == PACKAGE / "config.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Constant) and node.value in keys.values():
                found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: {node.value!r}")
    assert found == [], "use the memcatalog.config constant instead of the literal"


def test_the_default_quota_text_is_the_default_quota() -> None:
    assert config.parse_size(config.DEFAULT_QUOTA_TEXT) == config.DEFAULT_QUOTA


def test_a_new_pool_gets_the_default_quota(pool_name: str) -> None:
    assert memcatalog.get_pool(pool_name).quota == config.DEFAULT_QUOTA


@pytest.fixture
def big_catalog() -> Iterator[MemCatalog]:
    cat = MemCatalog(f"cfg_{uuid.uuid4().hex[:10]}", quota=str(4 * config.DEFAULT_TARGET_FILE_SIZE))
    yield cat
    cat.close()
    memcatalog.drop_pool(cat.pool.name)


def test_the_table_writer_takes_its_defaults_from_config(big_catalog: MemCatalog) -> None:
    big_catalog.create_namespace("db")
    big_catalog.create_table("db.t", pa.schema([("n", pa.int64())]))
    writer = big_catalog.writer("db.t")
    try:
        assert writer.max_buffer_bytes == config.DEFAULT_WRITER_BUFFER_BYTES
        assert writer.target_file_size == config.DEFAULT_TARGET_FILE_SIZE
        assert writer.compression == config.DEFAULT_COMPRESSION
    finally:
        writer.abort()


def test_a_small_pool_caps_the_writers_file_size(memcatalog: MemCatalog) -> None:
    memcatalog.create_namespace("db")
    memcatalog.create_table("db.t", pa.schema([("n", pa.int64())]))
    memcatalog.pool.set_quota(config.DEFAULT_TARGET_FILE_SIZE)
    writer = memcatalog.writer("db.t")
    try:
        assert writer.target_file_size == config.DEFAULT_TARGET_FILE_SIZE // config.TARGET_FILE_SIZE_QUOTA_DIVISOR
    finally:
        writer.abort()
