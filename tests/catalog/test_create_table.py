"""MemCatalog.create_table delegates to SqlCatalog's and adds: name checks, and no metadata file left behind."""

from __future__ import annotations

import pyarrow as pa
import pytest
from pyiceberg.exceptions import NoSuchNamespaceError, TableAlreadyExistsError
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from memcatalog import MemCatalog

SCHEMA = pa.schema([pa.field("id", pa.int64(), nullable=False)])


def test_a_registry_failing_mid_create_leaves_no_metadata_file(
    memcatalog: MemCatalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    memcatalog.create_namespace("db")
    before = set(memcatalog.pool.keys())

    def failing_commit(self: Session) -> None:
        raise OperationalError("INSERT INTO iceberg_tables", {}, Exception("disk I/O error"))

    monkeypatch.setattr(Session, "commit", failing_commit)
    with pytest.raises(OperationalError):
        memcatalog.create_table("db.t", SCHEMA)
    monkeypatch.undo()
    assert set(memcatalog.pool.keys()) == before
    assert not memcatalog.table_exists("db.t")


def test_losing_a_create_race_frees_the_losers_file_and_keeps_the_winners(
    memcatalog: MemCatalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    memcatalog.create_namespace("db")
    winner = memcatalog.create_table("db.t", SCHEMA)
    before = set(memcatalog.pool.keys())
    # The loser checked before the winner inserted: its own check saw no table.
    monkeypatch.setattr(MemCatalog, "table_exists", lambda self, identifier: False)
    with pytest.raises(TableAlreadyExistsError):
        memcatalog.create_table("db.t", SCHEMA)
    monkeypatch.undo()
    assert set(memcatalog.pool.keys()) == before
    assert memcatalog.load_table("db.t").metadata_location == winner.metadata_location


def test_an_existing_table_is_refused_before_any_file_is_written(memcatalog: MemCatalog) -> None:
    memcatalog.create_namespace("db")
    memcatalog.create_table("db.t", SCHEMA)
    before = set(memcatalog.pool.keys())
    with pytest.raises(TableAlreadyExistsError, match=r"db\.t already exists"):
        memcatalog.create_table("db.t", SCHEMA)
    assert set(memcatalog.pool.keys()) == before


def test_a_missing_namespace_is_refused_with_pyicebergs_error(memcatalog: MemCatalog) -> None:
    with pytest.raises(NoSuchNamespaceError, match="Namespace does not exist"):
        memcatalog.create_table("nowhere.t", SCHEMA)
    assert list(memcatalog.pool.keys()) == []


def test_a_bad_schema_is_reported_before_a_bad_name(memcatalog: MemCatalog) -> None:
    memcatalog.create_namespace("db")
    with pytest.raises(ValueError, match=r"Null type \(pa\.null\(\)\) is not supported"):
        memcatalog.create_table("db.a/b", pa.schema([("x", pa.null())]))
