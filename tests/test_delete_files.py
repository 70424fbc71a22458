"""Tables with DuckDB's positional delete files (UPDATE, DELETE through the REST server): check and reclaim see
them as the table's own files. DuckDB reading the table is the oracle for the rows. (Copies of such tables, by
save/restore, export and import: tests/test_transfer.py.)"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import duckdb
import pytest
from pyiceberg.manifest import ManifestContent
from pyiceberg.table import Table

import memcatalog
import memcatalog.duckdb
import memcatalog.rest
from memcatalog import MemCatalog

EXPECTED = [(2, "B"), (4, "d"), (5, "e")]


def rows(table: Table) -> list[tuple[int, str]]:
    arrow = table.scan().to_arrow()
    return sorted(zip(arrow.column("k").to_pylist(), arrow.column("v").to_pylist(), strict=True))


def delete_manifests(table: Table) -> int:
    snapshot = table.current_snapshot()
    assert snapshot is not None
    return sum(1 for m in snapshot.manifests(table.io) if m.content == ManifestContent.DELETES)


@pytest.fixture
def cat() -> Iterator[MemCatalog]:
    c = MemCatalog(f"del{uuid.uuid4().hex[:8]}")
    c.create_namespace("db")
    con = memcatalog.duckdb.attach(c, name="lake")
    con.execute("CREATE TABLE lake.db.t (k BIGINT, v VARCHAR)")
    con.execute("INSERT INTO lake.db.t VALUES (1, 'a'), (2, 'b'), (3, 'c')")
    con.execute("INSERT INTO lake.db.t VALUES (4, 'd'), (5, 'e')")
    con.execute("UPDATE lake.db.t SET v = 'B' WHERE k = 2")
    con.execute("DELETE FROM lake.db.t WHERE k IN (1, 3)")
    con.close()
    memcatalog.rest.stop_shared(c)
    table = c.load_table("db.t")
    assert delete_manifests(table) >= 1, "DuckDB wrote no delete files: the test would show nothing"
    assert rows(table) == EXPECTED
    yield c
    c.close()
    memcatalog.drop_pool(c.pool.name)


def duckdb_rows(cat: MemCatalog, identifier: str) -> list[tuple[int, str]]:
    con: duckdb.DuckDBPyConnection = memcatalog.duckdb.connect(cat)
    try:
        return sorted(con.sql(f"SELECT k, v FROM {identifier}").fetchall())
    finally:
        con.close()


def test_check_and_reclaim_keep_the_delete_files(cat: MemCatalog) -> None:
    assert cat.check() == []
    cat.reclaim()
    assert cat.check() == []
    table = cat.load_table("db.t")
    assert rows(table) == EXPECTED and delete_manifests(table) >= 1
    assert duckdb_rows(cat, "db.t") == EXPECTED
    cat.reclaim(retain_last=1)  # expire every older snapshot: the delete files of the current one stay
    assert rows(cat.load_table("db.t")) == EXPECTED and cat.check() == []
    assert duckdb_rows(cat, "db.t") == EXPECTED
