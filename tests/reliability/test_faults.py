"""Injected faults and hostile input: afterwards the catalog works, tables are at the old or the new snapshot, no byte leaked."""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from pyiceberg.exceptions import CommitFailedException, NoSuchTableError
from pyiceberg.types import StringType
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

import memcatalog
import memcatalog.duckdb
from memcatalog import DataNotInMemoryError, MemCatalog, QuotaExceededError

SCHEMA = pa.schema([pa.field("id", pa.int64(), nullable=False)])


def ids(n: int, start: int = 0) -> pa.Table:
    return pa.table({"id": pa.array(range(start, start + n), pa.int64())}, schema=SCHEMA)


@pytest.fixture
def cat(memcatalog_catalog: MemCatalog) -> Iterator[MemCatalog]:
    """The plugin's catalog with the table ``db.t`` holding ids 0-9."""
    memcatalog_catalog.create_namespace("db")
    memcatalog_catalog.create_table("db.t", SCHEMA).append(ids(10))
    yield memcatalog_catalog
    memcatalog_catalog.reclaim()
    assert memcatalog_catalog.check() == []  # stricter than the plugin's own audit: no unreferenced file either


def rows(c: MemCatalog) -> list[int]:
    return sorted(c.load_table("db.t").scan().to_arrow().column("id").to_pylist())


def test_registry_failing_mid_commit(cat: MemCatalog, monkeypatch: pytest.MonkeyPatch) -> None:
    before_rows, before_meta = rows(cat), cat.load_table("db.t").metadata_location
    files_before = set(cat.pool.keys())
    real_commit = Session.commit

    def failing_commit(self: Session) -> None:
        raise OperationalError("UPDATE iceberg_tables", {}, Exception("disk I/O error"))

    monkeypatch.setattr(Session, "commit", failing_commit)
    with pytest.raises(OperationalError):
        cat.load_table("db.t").append(ids(5, 100))
    monkeypatch.setattr(Session, "commit", real_commit)
    assert cat.load_table("db.t").metadata_location == before_meta
    assert rows(cat) == before_rows
    new_files = set(cat.pool.keys()) - files_before
    assert not [f for f in new_files if f.endswith(".metadata.json")], "the failed commit's metadata was freed"
    cat.reclaim()  # the failed append's data file and manifests are unreferenced until a reclaim
    assert set(cat.pool.keys()) == files_before
    cat.load_table("db.t").append(ids(5, 100))  # still usable
    assert rows(cat) == [*before_rows, *range(100, 105)]


def test_lost_race_frees_the_losers_metadata(cat: MemCatalog) -> None:
    stale = cat.load_table("db.t")
    cat.load_table("db.t").update_schema().add_column("x", StringType()).commit()
    files_before = set(cat.pool.keys())
    with pytest.raises(CommitFailedException):
        stale.update_schema().add_column("y", StringType()).commit()
    assert set(cat.pool.keys()) == files_before


def test_quota_shrinking_during_a_streaming_write(cat: MemCatalog) -> None:
    before = cat.pool.stats()
    snapshot = cat.load_table("db.t").current_snapshot()
    started = threading.Event()

    def shrink() -> None:
        started.wait()
        cat.pool.set_quota(cat.pool.stats().used + 1000)

    shrinker = threading.Thread(target=shrink)
    shrinker.start()
    with pytest.raises(QuotaExceededError), cat.writer("db.t", max_buffer_bytes=10_000, compression="none") as w:
        for i in range(1000):
            w.write(ids(2000, 1000 + i * 2000))
            started.set()
    shrinker.join()
    cat.pool.set_quota("1GiB")
    assert cat.load_table("db.t").current_snapshot() == snapshot
    after = cat.pool.stats()
    assert (after.used, after.files, after.reserved) == (before.used, before.files, 0)


def test_duckdb_connection_closed_mid_query(cat: MemCatalog) -> None:
    con = memcatalog.duckdb.connect(cat)
    errors: list[BaseException] = []

    def query() -> None:
        try:
            con.sql("SELECT count(*) FROM db.t, range(3000000000) r(x) WHERE hash(x + id) % 7 = 3").fetchall()
        except BaseException as e:
            errors.append(e)

    worker = threading.Thread(target=query)
    worker.start()
    import time

    time.sleep(0.3)
    con.raw.interrupt()
    con.close()
    worker.join(timeout=30)
    assert not worker.is_alive()
    assert errors, "the query was interrupted"
    fresh = memcatalog.duckdb.connect(cat)
    assert fresh.sql("SELECT count(*) FROM db.t").fetchone() == (10,)
    cat.load_table("db.t").append(ids(1, 500))
    assert fresh.sql("SELECT count(*) FROM db.t").fetchone() == (11,)


@pytest.mark.parametrize(
    "name",
    ["", "..", ".", "a/b", "a\\b", "x\x00y", "line\nbreak", "q" * 256, "a.b"],
    ids=["empty", "dotdot", "dot", "slash", "backslash", "nul", "newline", "huge", "dot-inside"],
)
def test_hostile_names_are_refused_clearly(cat: MemCatalog, name: str) -> None:
    files_before = set(cat.pool.keys())
    with pytest.raises(ValueError, match=r"invalid (namespace|table name)"):
        cat.create_namespace(("db", name) if name else name)
    with pytest.raises(ValueError, match=r"invalid (namespace|table name)"):
        cat.create_table(("db", name), SCHEMA)
    with pytest.raises(ValueError, match=r"invalid (namespace|table name)"):
        cat.rename_table("db.t", ("db", name))
    assert set(cat.pool.keys()) == files_before
    assert cat.list_tables("db") == [("db", "t")]


@pytest.mark.parametrize(
    "name",
    ["it's", 'say "hi"', "'; DROP TABLE iceberg_tables; --", "naïve_ü", "表", "%_wild"],
    ids=["quote", "dquote", "sql", "accents", "cjk", "sql-wildcards"],
)
def test_odd_but_safe_names_round_trip(cat: MemCatalog, name: str) -> None:
    cat.create_namespace(("ns", name))
    table = cat.create_table(("ns", name, name), SCHEMA)
    table.append(ids(3))
    assert cat.list_tables(("ns", name)) == [("ns", name, name)]
    assert cat.load_table(("ns", name, name)).scan().to_arrow().num_rows == 3
    assert cat.load_table("db.t") is not None  # the registry is intact
    con = memcatalog.duckdb.connect(cat)
    assert con.sql(
        f"SELECT count(*) FROM iceberg_scan('{cat.load_table(('ns', name, name)).metadata_location.replace(chr(39), chr(39) * 2)}')"
    ).fetchone() == (3,)
    cat.purge_table(("ns", name, name))


@pytest.mark.parametrize("quota", ["-1", "0", "garbage", "1.5 parsecs", "", -5])
def test_bad_quota_strings(quota: object) -> None:
    with pytest.raises(ValueError, match="invalid size"):
        MemCatalog(f"q{uuid.uuid4().hex[:8]}", quota=quota)  # type: ignore[arg-type]


def test_paths_that_try_to_leave_a_pool(cat: MemCatalog) -> None:
    with pytest.raises(PermissionError, match="path leaves its pool"):
        cat.create_table("db.escape", SCHEMA, location=f"memcat://{cat.pool.name}/../other/x")
    assert not cat.table_exists("db.escape")


def test_schema_that_does_not_match(cat: MemCatalog) -> None:
    with pytest.raises(ValueError):
        cat.load_table("db.t").append(pa.table({"id": ["not a number"]}))
    assert rows(cat) == list(range(10))


@pytest.mark.parametrize("content", [b"", b"{not json", b'{"format-version": 2}', b"\x00\xff" * 10])
def test_register_broken_metadata(cat: MemCatalog, tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "00000-broken.metadata.json"
    bad.write_bytes(content)
    with pytest.raises(memcatalog.InvalidMetadataError, match="not a readable Iceberg metadata file"):
        cat.register_table("db.broken", f"file://{bad}")
    assert not cat.table_exists("db.broken"), "a broken metadata file leaves no registry row"


def test_register_truncated_metadata_from_the_pool(cat: MemCatalog) -> None:
    good = cat.load_table("db.t").metadata_location
    buf = cat.pool.get(good.split(f"memcat://{cat.pool.name}/")[1])
    cat.pool.put("elsewhere/00000-x.metadata.json", bytes(buf)[: buf.size // 2])
    with pytest.raises(memcatalog.InvalidMetadataError, match="not a readable Iceberg metadata file"):
        cat.register_table("db.truncated", f"memcat://{cat.pool.name}/elsewhere/00000-x.metadata.json")
    assert not cat.table_exists("db.truncated")
    cat.pool.remove("elsewhere/00000-x.metadata.json")


def test_metadata_location_in_another_pool_or_missing(cat: MemCatalog) -> None:
    with pytest.raises(DataNotInMemoryError, match="not in this process's memory"):
        cat.register_table("db.ghost", "memcat://no-such-pool-zz/x/00000-a.metadata.json")
    with pytest.raises(DataNotInMemoryError):
        cat.register_table("db.ghost", f"memcat://{cat.pool.name}/db/t/metadata/missing.metadata.json")
    assert not cat.table_exists("db.ghost")
    other = MemCatalog(f"o{uuid.uuid4().hex[:8]}")
    other.create_namespace("db")
    other.create_table("db.src", SCHEMA).append(ids(4))
    shared = cat.register_table("db.from_other_pool", other.load_table("db.src").metadata_location)
    assert shared.scan().to_arrow().num_rows == 4  # another live pool in this process is readable
    cat.drop_table("db.from_other_pool")
    memcatalog.drop_pool(other.pool.name)


@pytest.mark.slow
def test_second_process_on_one_registry_file(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'reg.db'}"
    first = MemCatalog("xproc", uri=uri, pool=f"xp{uuid.uuid4().hex[:6]}")
    first.create_namespace("db")
    first.create_table("db.t", SCHEMA).append(ids(3))
    code = (
        "from memcatalog import MemCatalog, DataNotInMemoryError\n"
        f"c = MemCatalog('xproc', uri={uri!r}, pool={first.pool.name!r})\n"
        "print(c.list_tables('db'))\n"
        "try:\n    c.load_table('db.t')\nexcept DataNotInMemoryError as e:\n    print('clear error:', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "[('db', 't')]" in out.stdout and "clear error: table db.t" in out.stdout
    assert first.load_table("db.t").scan().to_arrow().num_rows == 3  # the registry is unharmed
    with pytest.raises(NoSuchTableError):
        first.load_table("db.nope")
    memcatalog.drop_pool(first.pool.name)
