"""DuckDB writing the catalog in SQL through the REST server (memcatalog.duckdb.attach).

Every statement is checked by MemCatalog reading the same table directly.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from pyiceberg.exceptions import CommitFailedException

import memcatalog
import memcatalog.duckdb
import memcatalog.rest
from memcatalog import MemCatalog


@pytest.fixture
def cat(memcatalog_catalog: MemCatalog) -> Iterator[MemCatalog]:
    """The plugin's catalog (audited by the plugin) with a namespace ``db``; its shared REST server stopped after."""
    memcatalog_catalog.create_namespace("db")
    yield memcatalog_catalog
    memcatalog.rest.stop_shared(memcatalog_catalog)


@pytest.fixture
def con(cat: MemCatalog) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = memcatalog.duckdb.attach(cat, name="lake")
    yield connection
    connection.close()


def table_rows(cat: MemCatalog, identifier: str, *columns: str) -> list[tuple[Any, ...]]:
    arrow = cat.load_table(identifier).scan().to_arrow()
    names = columns or tuple(arrow.column_names)
    return sorted(zip(*(arrow.column(n).to_pylist() for n in names), strict=True))


def test_create_insert_update_delete_are_commits(cat: MemCatalog, con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE TABLE lake.db.t (k BIGINT, v VARCHAR)")
    assert cat.table_exists("db.t") and [f.name for f in cat.load_table("db.t").schema().fields] == ["k", "v"]
    con.execute("INSERT INTO lake.db.t VALUES (1, 'a'), (2, 'b'), (3, 'c')")
    assert table_rows(cat, "db.t") == [(1, "a"), (2, "b"), (3, "c")]
    con.execute("UPDATE lake.db.t SET v = 'B' WHERE k = 2")
    assert table_rows(cat, "db.t") == [(1, "a"), (2, "B"), (3, "c")]
    con.execute("DELETE FROM lake.db.t WHERE k = 1")
    assert table_rows(cat, "db.t") == [(2, "B"), (3, "c")]
    assert len(cat.load_table("db.t").snapshots()) == 3
    assert con.sql("SELECT count(*) FROM lake.db.t").fetchone() == (2,)


def test_merge_into(cat: MemCatalog, con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE TABLE lake.db.m (k BIGINT, v VARCHAR)")
    con.execute("INSERT INTO lake.db.m VALUES (1, 'a'), (2, 'b')")
    con.execute(
        "MERGE INTO lake.db.m AS t USING (SELECT 2 AS k, 'B' AS v UNION ALL SELECT 5, 'e') AS s ON t.k = s.k "
        "WHEN MATCHED THEN UPDATE SET v = s.v WHEN NOT MATCHED THEN INSERT VALUES (s.k, s.v)"
    )
    assert table_rows(cat, "db.m") == [(1, "a"), (2, "B"), (5, "e")]


def test_alter_table_and_create_table_as(cat: MemCatalog, con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE TABLE lake.db.a (k BIGINT)")
    con.execute("INSERT INTO lake.db.a VALUES (1), (2)")
    con.execute("ALTER TABLE lake.db.a ADD COLUMN note VARCHAR")
    assert [f.name for f in cat.load_table("db.a").schema().fields] == ["k", "note"]
    con.execute("INSERT INTO lake.db.a VALUES (3, 'n')")
    con.execute("CREATE TABLE lake.db.c AS SELECT k * 10 AS k10, note FROM lake.db.a")
    assert table_rows(cat, "db.c") == [(10, None), (20, None), (30, "n")]


def test_tables_written_by_pyiceberg_are_read_by_duckdb(cat: MemCatalog, con: duckdb.DuckDBPyConnection) -> None:
    cat.create_table("db.p", pa.schema([("n", pa.int64())])).append(pa.table({"n": [1, 2, 3]}))
    assert con.sql("SELECT sum(n) FROM lake.db.p").fetchone() == (6,)


def _two_tables(cat: MemCatalog, con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE TABLE lake.db.x (k BIGINT)")
    con.execute("CREATE TABLE lake.db.y (k BIGINT)")
    con.execute("INSERT INTO lake.db.x VALUES (1)")
    con.execute("INSERT INTO lake.db.y VALUES (1)")


def test_transaction_over_two_tables_commits_both(cat: MemCatalog, con: duckdb.DuckDBPyConnection) -> None:
    _two_tables(cat, con)
    con.execute("BEGIN")
    con.execute("INSERT INTO lake.db.x VALUES (2)")
    con.execute("INSERT INTO lake.db.y VALUES (2)")
    assert table_rows(cat, "db.x") == [(1,)]  # nothing is visible before COMMIT
    con.execute("COMMIT")
    assert table_rows(cat, "db.x") == table_rows(cat, "db.y") == [(1,), (2,)]


def test_transaction_over_two_tables_rolls_back_both(cat: MemCatalog, con: duckdb.DuckDBPyConnection) -> None:
    _two_tables(cat, con)
    before = (cat.load_table("db.x").metadata_location, cat.load_table("db.y").metadata_location)
    con.execute("BEGIN")
    con.execute("INSERT INTO lake.db.x VALUES (2)")
    con.execute("DELETE FROM lake.db.y")
    con.execute("ROLLBACK")
    assert (cat.load_table("db.x").metadata_location, cat.load_table("db.y").metadata_location) == before
    assert table_rows(cat, "db.x") == table_rows(cat, "db.y") == [(1,)]


def test_a_conflicting_transaction_changes_neither_table(cat: MemCatalog, con: duckdb.DuckDBPyConnection) -> None:
    _two_tables(cat, con)
    con.execute("BEGIN")
    con.execute("INSERT INTO lake.db.x VALUES (2)")
    con.execute("INSERT INTO lake.db.y VALUES (2)")
    cat.load_table("db.y").append(pa.table({"k": pa.array([7], pa.int64())}))  # another writer, meanwhile
    before_x = cat.load_table("db.x").metadata_location
    with pytest.raises(duckdb.Error):
        con.execute("COMMIT")
    assert cat.load_table("db.x").metadata_location == before_x
    assert table_rows(cat, "db.x") == [(1,)] and table_rows(cat, "db.y") == [(1,), (7,)]


def test_attach_refuses_duckdb_own_database_names(cat: MemCatalog) -> None:
    with pytest.raises(ValueError, match="name="):
        memcatalog.duckdb.attach(cat, name="memory")


def test_attach_with_a_token(cat: MemCatalog) -> None:
    with memcatalog.rest.serve(cat, token="t0ken") as server:
        con = memcatalog.duckdb.attach(cat, name="secured", server=server)
        con.execute("CREATE TABLE secured.db.s AS SELECT 1 AS one")
        con.close()
    assert table_rows(cat, "db.s") == [(1,)]


def test_duckdb_client_credentials_through_oauth_tokens(cat: MemCatalog) -> None:
    """DuckDB given CLIENT_ID/CLIENT_SECRET posts to the deprecated /v1/oauth/tokens (HTTP Basic)."""
    with memcatalog.rest.serve(cat, token="t0ken") as server:
        con = memcatalog.duckdb.attach(cat, name="plain")  # a connection with the extensions loaded
        con.execute(
            f"CREATE SECRET oauth (TYPE iceberg, CLIENT_ID 'me', CLIENT_SECRET 't0ken', ENDPOINT '{server.url}')"
        )
        con.execute(f"ATTACH '' AS secured (TYPE iceberg, ENDPOINT '{server.url}', SECRET oauth)")
        con.execute("CREATE TABLE secured.db.o AS SELECT 2 AS two")
        with pytest.raises(duckdb.Error, match="401"):
            con.execute(
                f"CREATE SECRET wrong (TYPE iceberg, CLIENT_ID 'me', CLIENT_SECRET 'no', ENDPOINT '{server.url}')"
            )
        con.close()
    assert table_rows(cat, "db.o") == [(2,)]


def test_concurrent_duckdb_and_pyiceberg_writers_lose_no_row(cat: MemCatalog) -> None:
    """4 writers on one table: each retries what the server refused (409); every acknowledged row is there once."""
    setup = memcatalog.duckdb.attach(cat, name="lake")
    setup.execute("CREATE TABLE lake.db.w (id BIGINT, writer VARCHAR)")
    server = memcatalog.rest.shared_server(cat)
    per_writer = 6
    acknowledged: list[int] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def duck_writer(n: int) -> None:
        con = setup.cursor()
        for i in range(per_writer):
            row = n * 1000 + i
            for _ in range(50):
                try:
                    con.execute(f"INSERT INTO lake.db.w VALUES ({row}, 'duck{n}')")
                    break
                except duckdb.Error as e:
                    if "409" not in str(e) and "onflict" not in str(e) and "updated" not in str(e):
                        raise
            else:
                raise AssertionError(f"row {row} never committed")
            with lock:
                acknowledged.append(row)

    def py_writer(n: int) -> None:
        rest = server.rest_catalog(f"w{n}")
        for i in range(per_writer):
            row = n * 1000 + i
            for _ in range(50):
                try:
                    rest.load_table("db.w").append(pa.table({"id": pa.array([row], pa.int64()), "writer": [f"py{n}"]}))
                    break
                except CommitFailedException:
                    continue
            else:
                raise AssertionError(f"row {row} never committed")
            with lock:
                acknowledged.append(row)

    def run(target: Any, n: int) -> None:
        try:
            target(n)
        except BaseException as e:
            errors.append(e)

    threads = [
        threading.Thread(target=run, args=(f, n))
        for n, f in enumerate([duck_writer, duck_writer, py_writer, py_writer])
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    setup.close()
    assert errors == []
    ids = [r[0] for r in table_rows(cat, "db.w", "id")]
    assert sorted(acknowledged) == ids  # every acknowledged row exactly once, nothing else
    assert len(ids) == 4 * per_writer
