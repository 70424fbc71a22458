"""Catalog edges found by pyiceberg's own suite, each checked against SqlCatalog as the oracle."""

from __future__ import annotations

import logging
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import NoSuchNamespaceError
from pyiceberg.schema import Schema
from pyiceberg.table import TableProperties
from pyiceberg.types import IntegerType, LongType, NestedField

import memcatalog
from memcatalog import MemCatalog


@pytest.fixture
def memcat() -> Iterator[MemCatalog]:
    cat = MemCatalog(f"c{uuid.uuid4().hex[:10]}")
    yield cat
    cat.close()
    memcatalog.drop_pool(cat.pool.name)


def _sql(tmp_path: Path, **props: str) -> SqlCatalog:
    return SqlCatalog("oracle", uri="sqlite:///:memory:", warehouse=f"file://{tmp_path}", **props)


@pytest.mark.parametrize("namespace", ["", (), ("", ""), ("db", "")], ids=repr)
def test_empty_namespace_is_no_such_namespace_as_in_sqlcatalog(
    memcat: MemCatalog, tmp_path: Path, namespace: Any
) -> None:
    with pytest.raises(NoSuchNamespaceError):
        _sql(tmp_path).create_namespace(namespace)
    with pytest.raises(NoSuchNamespaceError):
        memcat.create_namespace(namespace)
    assert memcat.list_namespaces() == []


def test_empty_namespace_level_in_a_table_name_is_no_such_namespace(memcat: MemCatalog, tmp_path: Path) -> None:
    schema = Schema(NestedField(1, "n", LongType()))
    with pytest.raises(NoSuchNamespaceError):
        _sql(tmp_path).create_table(("", "t"), schema)
    with pytest.raises(NoSuchNamespaceError):
        memcat.create_table(("", "t"), schema)


def test_a_table_name_without_namespace_fails_as_in_sqlcatalog(memcat: MemCatalog, tmp_path: Path) -> None:
    """pyiceberg's test_create_table_without_namespace: NoSuchNamespaceError, nothing written."""
    schema = Schema(NestedField(1, "n", LongType()))
    oracle = _sql(tmp_path)
    oracle.create_namespace("db")
    oracle.create_table("db.t", schema)
    memcat.create_namespace("db")
    memcat.create_table("db.t", schema)
    used = memcat.pool.stats().used
    for cat in (oracle, memcat):
        with pytest.raises(NoSuchNamespaceError):
            cat.create_table("tbl", schema)
        with pytest.raises(ValueError):  # SqlCatalog: a plain ValueError; MemCatalog's is both
            cat.rename_table("db.t", "t2")
        with pytest.raises(ValueError):
            cat.register_table("t3", cat.load_table("db.t").metadata_location)
        assert cat.list_tables("db") == [("db", "t")]
    assert memcat.pool.stats().used == used


@pytest.mark.parametrize("echo", ["debug", "true", "false", None])
def test_echo_property_as_in_sqlcatalog(tmp_path: Path, echo: str | None) -> None:
    props = {} if echo is None else {"echo": echo}
    cat = MemCatalog(f"c{uuid.uuid4().hex[:10]}", **props)
    try:
        assert cat.engine.echo == _sql(tmp_path, **props).engine.echo
    finally:
        memcatalog.drop_pool(cat.pool.name)


@pytest.mark.parametrize("uri_kind", ["memory", "file"])
@pytest.mark.parametrize("pre_ping", ["true", "false"])
def test_pool_pre_ping_property_is_honoured(tmp_path: Path, pre_ping: str, uri_kind: str) -> None:
    uri = "sqlite:///:memory:" if uri_kind == "memory" else f"sqlite:///{tmp_path}/registry.db"
    cat = MemCatalog(f"c{uuid.uuid4().hex[:10]}", uri=uri, pool_pre_ping=pre_ping)
    oracle = SqlCatalog("oracle", uri=uri, warehouse=f"file://{tmp_path}", pool_pre_ping=pre_ping)
    try:
        # SQLAlchemy keeps the flag on the connection pool; SqlCatalog is the oracle.
        assert cat.engine.pool._pre_ping == oracle.engine.pool._pre_ping == (pre_ping == "true")
    finally:
        memcatalog.drop_pool(cat.pool.name)


def test_delete_after_commit_enabled_deletes_each_expired_file_once(
    memcat: MemCatalog, caplog: pytest.LogCaptureFixture
) -> None:
    memcat.create_namespace("db")
    table = memcat.create_table(
        "db.t",
        Schema(NestedField(1, "a", IntegerType())),
        properties={
            TableProperties.METADATA_PREVIOUS_VERSIONS_MAX: "1",
            TableProperties.METADATA_DELETE_AFTER_COMMIT_ENABLED: "true",
        },
    )
    first = table.metadata_location
    with caplog.at_level(logging.WARNING):
        for i in range(4):
            with table.update_schema() as update:
                update.add_column(f"c{i}", IntegerType())
    assert [r.getMessage() for r in caplog.records if "Failed to delete" in r.getMessage()] == []
    metadata_files = [k for k in memcat.pool.keys("") if k.endswith(".metadata.json")]
    assert len(metadata_files) == 2  # the current file and the one previous version kept
    assert not memcat.load_file_io_for(first).new_input(first).exists()
    assert memcat.check() == []


def test_check_reports_an_unreachable_registry_instead_of_raising(tmp_path: Path) -> None:
    registry_dir = tmp_path / "registry"
    registry_dir.mkdir()
    cat = MemCatalog(f"c{uuid.uuid4().hex[:10]}", uri=f"sqlite:///{registry_dir}/catalog.db")
    try:
        cat.create_namespace("db")
        cat.create_table("db.t", Schema(NestedField(1, "a", IntegerType())))
        shutil.rmtree(registry_dir)
        cat.engine.dispose()  # as after a lost connection: the next one cannot open the file
        findings = cat.check()
        assert len(findings) == 1
        assert findings[0].startswith(f"registry sqlite:///{registry_dir}/catalog.db cannot be read (OperationalError")
    finally:
        memcatalog.drop_pool(cat.pool.name)


def test_an_empty_namespace_is_also_a_value_error_naming_it(memcat: MemCatalog) -> None:
    with pytest.raises(ValueError, match=r"invalid namespace \('db', ''\)"):
        memcat.create_namespace(("db", ""))
