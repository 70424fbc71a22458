"""Save, restore, import and export (graduate) tables, checked by fresh processes, pyiceberg and DuckDB."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from pyiceberg.catalog import Catalog
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import TableAlreadyExistsError
from pyiceberg.table import Table
from pyiceberg.types import StringType

import memcatalog
from memcatalog import MemCatalog, QuotaExceededError
from memcatalog.archive import SaveFormatError, restore, save
from memcatalog.duckdb import load_extension
from memcatalog.tablecopy import export_table, import_table

SCHEMA = pa.schema([pa.field("id", pa.int64(), nullable=False), ("label", pa.string())])
POSTGRES_URI = os.environ.get("MEMCATALOG_TEST_POSTGRES_URI")


def batch(start: int, n: int) -> pa.Table:
    return pa.table(
        {"id": pa.array(range(start, start + n), pa.int64()), "label": [f"l{i}" for i in range(start, start + n)]},
        schema=SCHEMA,
    )


def history(table: Table) -> list[tuple[int, list[int]]]:
    """Every snapshot id with the sorted ids it holds: the whole history, comparable across catalogs."""
    return [
        (s.snapshot_id, sorted(table.scan(snapshot_id=s.snapshot_id).to_arrow().column("id").to_pylist()))
        for s in table.snapshots()
    ]


@pytest.fixture
def source() -> Iterator[MemCatalog]:
    cat = MemCatalog(f"src{uuid.uuid4().hex[:8]}")
    cat.create_namespace("db", {"owner": "data-team"})
    cat.create_namespace(("db", "staging"))
    t = cat.create_table("db.events", SCHEMA)
    t.append(batch(0, 100))
    t.append(batch(100, 50))
    t.delete("id < 20")
    t.update_schema().add_column("extra", StringType()).commit()
    t.append(
        pa.table(
            {"id": pa.array([500], pa.int64()), "label": ["x"], "extra": ["e"]},
            schema=SCHEMA.append(pa.field("extra", pa.string())),
        )
    )
    cat.create_table("db.empty", SCHEMA)
    yield cat
    assert cat.check() == []
    memcatalog.drop_pool(cat.pool.name)


def duckdb_rows(metadata_location: str, fs: Any = None, snapshot_id: int | None = None) -> list[int]:
    con = duckdb.connect(config={"allow_unsigned_extensions": "true"})
    load_extension(con, "avro")
    load_extension(con, "iceberg")
    if fs is not None:
        con.register_filesystem(fs)
    extra = f", snapshot_from_id={snapshot_id}" if snapshot_id is not None else ""
    rows = con.sql(f"SELECT id FROM iceberg_scan('{metadata_location}'{extra})").fetchall()
    return sorted(r[0] for r in rows)


# --- save and restore ------------------------------------------------------------------

RESTORE_AND_DESCRIBE = """
import json, sys
import memcatalog.duckdb
from memcatalog.archive import restore
cat = restore(sys.argv[1])
t = cat.load_table("db.events")
con = memcatalog.duckdb.connect(cat)
print(json.dumps({
    "namespaces": sorted(".".join(n) for n in cat.list_namespaces()) + sorted(".".join(n) for n in cat.list_namespaces("db")),
    "props": cat.load_namespace_properties("db"),
    "tables": sorted(".".join(i) for i in cat.list_tables("db")),
    "history": [[s.snapshot_id, sorted(t.scan(snapshot_id=s.snapshot_id).to_arrow().column("id").to_pylist())] for s in t.snapshots()],
    "duckdb": sorted(r[0] for r in con.sql("SELECT id FROM db.events").fetchall()),
    "duckdb_first": sorted(r[0] for r in con.at_snapshot("db.events", snapshot_id=t.snapshots()[0].snapshot_id).fetchall()),
    "schema": [f.name for f in t.schema().fields],
    "check": cat.check(),
}))
"""


@pytest.mark.slow
@pytest.mark.parametrize("form", ["directory", "archive.tar"])
def test_save_and_restore_in_a_fresh_process(source: MemCatalog, tmp_path: Path, form: str) -> None:
    target = tmp_path / form
    manifest = save(source, target)
    assert manifest["tables"] and manifest["files"]
    out = subprocess.run(
        [sys.executable, "-c", RESTORE_AND_DESCRIBE, str(target)], capture_output=True, text=True, check=True
    )
    got = json.loads(out.stdout)
    events = source.load_table("db.events")
    assert got["namespaces"] == ["db", "db.staging"]
    assert got["props"] == {"owner": "data-team"}
    assert got["tables"] == ["db.empty", "db.events"]
    assert [tuple(h) for h in got["history"]] == history(events)
    assert got["duckdb"] == sorted(events.scan().to_arrow().column("id").to_pylist())
    assert got["duckdb_first"] == list(range(100))
    assert got["schema"] == ["id", "label", "extra"]
    assert got["check"] == []


@pytest.mark.slow
def test_restore_into_a_pool_too_small_fails_before_loading(source: MemCatalog, tmp_path: Path) -> None:
    save(source, tmp_path / "s.tar")
    code = (
        "import sys, memcatalog\nfrom memcatalog.archive import restore\n"
        "try:\n    restore(sys.argv[1], quota='4KiB')\n"
        "except memcatalog.QuotaExceededError as e:\n"
        f"    p = memcatalog.get_pool({source.pool.name!r})\n"
        "    print('refused:', e, '| used', p.stats().used)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "s.tar")], capture_output=True, text=True, check=True
    )
    assert "refused: quota exceeded writing memcat://" in out.stdout and "(restore)" in out.stdout
    assert out.stdout.strip().endswith("| used 0")


def test_restore_refuses_what_is_not_a_save(tmp_path: Path) -> None:
    (tmp_path / "junk.tar").write_bytes(b"not a tar file")
    with pytest.raises(SaveFormatError):
        restore(tmp_path / "junk.tar")
    (tmp_path / "dir").mkdir()
    with pytest.raises(SaveFormatError, match=r"not a memcatalog save: no memcatalog\.json"):
        restore(tmp_path / "dir")
    with pytest.raises(FileNotFoundError):
        restore(tmp_path / "missing")


def test_restore_into_the_same_process_refuses_to_clobber(source: MemCatalog, tmp_path: Path) -> None:
    save(source, tmp_path / "again")
    with pytest.raises(FileExistsError, match="already in pool"):
        restore(tmp_path / "again")


def test_save_refuses_a_non_empty_directory(source: MemCatalog, tmp_path: Path) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("x")
    with pytest.raises(FileExistsError):
        save(source, tmp_path / "busy")


@pytest.mark.slow
def test_the_old_transfer_module_still_works_and_says_where_to_go() -> None:
    code = (
        "import warnings, memcatalog, memcatalog.archive as a, memcatalog.tablecopy as c\n"
        "with warnings.catch_warnings(record=True) as w:\n"
        "    warnings.simplefilter('always')\n"
        "    import memcatalog.transfer as t\n"
        "assert (t.save, t.restore, t.import_table, t.export_table) == (a.save, a.restore, c.import_table, c.export_table)\n"
        "assert (memcatalog.save, memcatalog.export_table) == (a.save, c.export_table)\n"
        "print([(x.category.__name__, str(x.message)) for x in w])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "DeprecationWarning" in out and "memcatalog.archive" in out and "memcatalog.tablecopy" in out


# --- import ------------------------------------------------------------------------------


def test_import_from_a_local_metadata_location_keeps_history(source: MemCatalog, tmp_path: Path) -> None:
    disk = SqlCatalog("disk", uri="sqlite:///:memory:", warehouse=f"file://{tmp_path}")
    disk.create_namespace("prod")
    t = disk.create_table("prod.orders", SCHEMA)
    t.append(batch(0, 10))
    t.overwrite(batch(10, 5))
    t.append(batch(20, 5))
    t = disk.load_table("prod.orders")
    imported = import_table(source, "db.orders", t.metadata_location.replace("file://", ""))
    assert imported.metadata_location.startswith(f"memcat://{source.pool.name}/db/orders/")
    assert history(imported) == history(t)
    for snapshot_id, ids in history(imported):
        assert duckdb_rows(imported.metadata_location, memcatalog.PoolFileSystem(), snapshot_id) == ids


def test_import_from_a_table_of_another_catalog(source: MemCatalog) -> None:
    other = MemCatalog(f"o{uuid.uuid4().hex[:8]}")
    other.create_namespace("x")
    other.create_table("x.t", SCHEMA).append(batch(0, 3))
    imported = import_table(source, "db.copied", other.load_table("x.t"))
    memcatalog.drop_pool(other.pool.name)  # the copy no longer needs the original
    assert sorted(imported.scan().to_arrow().column("id").to_pylist()) == [0, 1, 2]


def test_import_too_big_for_the_pool(source: MemCatalog) -> None:
    source.pool.set_quota(source.pool.stats().used + 100)
    with pytest.raises(QuotaExceededError):
        import_table(source, "db.big", source.load_table("db.events"))
    source.pool.set_quota("1GiB")
    assert not source.table_exists("db.big")


# --- export (graduate) -----------------------------------------------------------------------


def assert_exported(source: MemCatalog, exported: Table, fresh: Catalog, fs: Any = None) -> None:
    original = source.load_table("db.events")
    reloaded = fresh.load_table(exported.name())
    assert history(reloaded) == history(original)
    assert reloaded.schema() == original.schema()
    for snapshot_id, ids in history(original):
        assert duckdb_rows(reloaded.metadata_location, fs, snapshot_id) == ids
    assert not reloaded.metadata_location.startswith("memcat://")


def test_export_to_a_file_warehouse(source: MemCatalog, tmp_path: Path) -> None:
    before = source.load_table("db.events").metadata_location
    uri = f"sqlite:///{tmp_path}/prod.db"
    target = SqlCatalog("prod", uri=uri, warehouse=f"file://{tmp_path}/wh")
    exported = export_table(source, "db.events", target)
    assert exported.metadata_location.startswith(f"file://{tmp_path}/wh/")
    assert_exported(source, exported, SqlCatalog("prod", uri=uri, warehouse=f"file://{tmp_path}/wh"))
    assert source.load_table("db.events").metadata_location == before, "the source is untouched"
    assert export_table(source, "db.empty", target).current_snapshot() is None


def test_failed_export_leaves_nothing(source: MemCatalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import memcatalog.tablecopy as copying

    target = SqlCatalog("prod", uri="sqlite:///:memory:", warehouse=f"file://{tmp_path}/wh")
    real = copying._Copier.copy_snapshot_list
    calls = {"n": 0}

    def failing(self: Any, snapshot: Any) -> str:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("the network went away")
        return real(self, snapshot)

    monkeypatch.setattr(copying._Copier, "copy_snapshot_list", failing)
    with pytest.raises(OSError, match="network"):
        export_table(source, "db.events", target)
    assert not target.table_exists("db.events")
    leftovers = [p for p in (tmp_path / "wh").rglob("*") if p.is_file()]
    assert leftovers == []


def warehouse_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_repeated_export_fails_clearly_and_the_first_stays_whole(source: MemCatalog, tmp_path: Path) -> None:
    uri, wh = f"sqlite:///{tmp_path}/prod.db", f"file://{tmp_path}/wh"
    first = export_table(source, "db.events", SqlCatalog("prod", uri=uri, warehouse=wh))
    before = warehouse_files(tmp_path / "wh")
    with pytest.raises(
        TableAlreadyExistsError, match=r"db\.events already exists in catalog 'prod'.*nothing was copied"
    ):
        export_table(source, "db.events", SqlCatalog("prod", uri=uri, warehouse=wh))
    assert warehouse_files(tmp_path / "wh") == before, "the second export wrote or deleted files"
    fresh = SqlCatalog("prod", uri=uri, warehouse=wh)
    assert fresh.load_table("db.events").metadata_location == first.metadata_location
    assert_exported(source, first, fresh)


def test_an_export_racing_another_deletes_only_its_own_files(
    source: MemCatalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two exports of one table pass the existence check together; the loser must not touch the winner's files."""
    uri, wh = f"sqlite:///{tmp_path}/prod.db", f"file://{tmp_path}/wh"
    winner = export_table(source, "db.events", SqlCatalog("prod", uri=uri, warehouse=wh))
    before = warehouse_files(tmp_path / "wh")
    loser_target = SqlCatalog("prod", uri=uri, warehouse=wh)
    monkeypatch.setattr(loser_target, "table_exists", lambda identifier: False)  # it checked before the winner
    with pytest.raises(TableAlreadyExistsError):
        export_table(source, "db.events", loser_target)
    assert warehouse_files(tmp_path / "wh") == before
    assert_exported(source, winner, SqlCatalog("prod", uri=uri, warehouse=wh))


def test_every_exported_file_name_carries_the_run_id(source: MemCatalog, tmp_path: Path) -> None:
    target = SqlCatalog("prod", uri="sqlite:///:memory:", warehouse=f"file://{tmp_path}/wh")
    export_table(source, "db.events", target)
    export_table(
        source, "db.events", target, target_identifier="db.events2", location=f"file://{tmp_path}/wh/db.db/events"
    )
    names = [p.name for p in (tmp_path / "wh").rglob("*") if p.is_file()]
    runs = {n[:36] for n in names if not n.startswith("0000")} | {n[6:42] for n in names if n.startswith("00000-")}
    assert len(runs) == 2 and all(str(uuid.UUID(r)) == r for r in runs)
    assert len(set(names)) == len(names), "two exports into one location share a file name"
    for name in ("db.events", "db.events2"):
        assert sorted(target.load_table(name).scan().to_arrow().column("id").to_pylist()) == sorted(
            source.load_table("db.events").scan().to_arrow().column("id").to_pylist()
        )


def test_an_export_that_cannot_fit_on_the_disk_writes_nothing(
    source: MemCatalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    real = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage", lambda p: real(p)._replace(free=100))
    target = SqlCatalog("prod", uri="sqlite:///:memory:", warehouse=f"file://{tmp_path}/wh")
    with pytest.raises(OSError, match=r"not enough space for the export to file://.*: needs .*, 100 B free"):
        export_table(source, "db.events", target)
    assert target.list_namespaces() == [] and not (tmp_path / "wh").exists()


def test_a_failed_export_leaves_no_namespace_it_created(
    source: MemCatalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import memcatalog.tablecopy as tablecopy

    target = SqlCatalog("prod", uri="sqlite:///:memory:", warehouse=f"file://{tmp_path}/wh")
    target.create_namespace("kept")

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise OSError("the disk went away")

    monkeypatch.setattr(tablecopy._Copier, "run", broken)
    with pytest.raises(OSError, match="disk went away"):
        export_table(source, "db.events", target, target_identifier="analytics.events")
    with pytest.raises(OSError, match="disk went away"):
        export_table(source, "db.events", target, target_identifier="kept.events")
    assert target.list_namespaces() == [("kept",)], "the namespace that existed stays, the new one is gone"


def test_progress_receives_every_byte_copied(source: MemCatalog, tmp_path: Path) -> None:
    seen: list[int] = []
    target = SqlCatalog("prod", uri="sqlite:///:memory:", warehouse=f"file://{tmp_path}/wh")
    export_table(source, "db.events", target, progress=seen.append)
    data = sum(p.stat().st_size for p in (tmp_path / "wh").rglob("*.parquet"))
    assert seen and all(n > 0 for n in seen) and sum(seen) == data


def test_the_export_command_run_twice_keeps_the_first_export(source: MemCatalog, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from memcatalog.cli.main import main

    save(source, tmp_path / "tables.tar")
    memcatalog.drop_pool(source.pool.name)  # the command restores the save in this process
    args = ["export", str(tmp_path / "tables.tar"), "--uri", f"sqlite:///{tmp_path}/r.db"]
    args += ["--warehouse", f"file://{tmp_path}/wh", "--table", "db.events"]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    before = warehouse_files(tmp_path / "wh")
    second = CliRunner().invoke(main, args)
    assert second.exit_code == 1 and "db.events already exists in catalog 'default'" in second.output
    assert warehouse_files(tmp_path / "wh") == before
    table = SqlCatalog("default", uri=f"sqlite:///{tmp_path}/r.db", warehouse=f"file://{tmp_path}/wh").load_table(
        "db.events"
    )
    assert duckdb_rows(table.metadata_location) == sorted(table.scan().to_arrow().column("id").to_pylist())
    restored = restore(tmp_path / "tables.tar")  # so that the fixture's audit finds the catalog it made
    assert restored.pool.name == source.pool.name


@pytest.fixture
def with_deletes() -> Iterator[MemCatalog]:
    """A table DuckDB updated and deleted from through the REST catalog: positional delete files in its history."""
    import memcatalog.duckdb
    import memcatalog.rest

    cat = MemCatalog(f"del{uuid.uuid4().hex[:8]}")
    cat.create_namespace("db")
    con = memcatalog.duckdb.attach(cat, name="lake")
    con.execute("CREATE TABLE lake.db.t (id BIGINT, label VARCHAR)")
    con.execute("INSERT INTO lake.db.t SELECT i, 'l' || i FROM range(100) r(i)")
    con.execute("UPDATE lake.db.t SET label = 'changed' WHERE id % 7 = 0")
    con.execute("DELETE FROM lake.db.t WHERE id < 10")
    con.close()
    memcatalog.rest.stop_shared(cat)
    yield cat
    memcatalog.drop_pool(cat.pool.name)


def rows_per_snapshot(table: Table) -> list[list[tuple[int, str]]]:
    return [
        sorted(
            zip(
                *(table.scan(snapshot_id=s.snapshot_id).to_arrow().column(c).to_pylist() for c in ("id", "label")),
                strict=True,
            )
        )
        for s in table.snapshots()
    ]


def delete_files(table: Table) -> list[str]:
    return [
        e.data_file.file_path
        for s in table.snapshots()
        for m in s.manifests(table.io)
        if m.content.name == "DELETES"
        for e in m.fetch_manifest_entry(table.io)
    ]


def test_tables_with_positional_deletes_export_import_save_and_restore(
    with_deletes: MemCatalog, tmp_path: Path
) -> None:
    original = with_deletes.load_table("db.t")
    assert delete_files(original), "DuckDB wrote no delete files: the test would prove nothing"
    expected = rows_per_snapshot(original)
    assert len(expected[-1]) == 90 and (14, "changed") in expected[-1]

    target = SqlCatalog("prod", uri=f"sqlite:///{tmp_path}/prod.db", warehouse=f"file://{tmp_path}/wh")
    exported = export_table(with_deletes, "db.t", target)
    assert all(p.startswith(f"file://{tmp_path}/wh/") for p in delete_files(exported))
    assert rows_per_snapshot(target.load_table("db.t")) == expected
    assert duckdb_rows(exported.metadata_location) == [r[0] for r in expected[-1]]

    other = MemCatalog(f"o{uuid.uuid4().hex[:8]}")
    other.create_namespace("db")
    try:
        imported = import_table(other, "db.t", exported.metadata_location)  # back from the warehouse
        assert all(p.startswith(f"memcat://{other.pool.name}/") for p in delete_files(imported))
        assert rows_per_snapshot(imported) == expected
        assert duckdb_rows(imported.metadata_location, memcatalog.PoolFileSystem()) == [r[0] for r in expected[-1]]
        assert other.check() == []
        save(other, tmp_path / "deletes.tar")
    finally:
        memcatalog.drop_pool(other.pool.name)
    restored = restore(tmp_path / "deletes.tar")
    try:
        assert rows_per_snapshot(restored.load_table("db.t")) == expected and restored.check() == []
    finally:
        memcatalog.drop_pool(restored.pool.name)


@pytest.fixture(scope="module")
def s3() -> Iterator[dict[str, str]]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    import boto3

    boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    ).create_bucket(Bucket="lake")
    yield {
        "s3.endpoint": endpoint,
        "s3.access-key-id": "testing",
        "s3.secret-access-key": "testing",
        "s3.region": "us-east-1",
    }
    server.stop()


def s3fs_for(props: dict[str, str]) -> Any:
    import s3fs

    return s3fs.S3FileSystem(
        key=props["s3.access-key-id"],
        secret=props["s3.secret-access-key"],
        client_kwargs={"endpoint_url": props["s3.endpoint"]},
    )


@pytest.mark.slow
def test_export_to_s3_on_a_sqlite_registry(source: MemCatalog, s3: dict[str, str], tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/prod.db"
    target = SqlCatalog("prod", uri=uri, warehouse="s3://lake/sqlite-wh", **s3)
    exported = export_table(source, "db.events", target, progress=lambda n: None)
    assert exported.metadata_location.startswith("s3://lake/sqlite-wh/db/events/metadata/")
    assert_exported(source, exported, SqlCatalog("prod", uri=uri, warehouse="s3://lake/sqlite-wh", **s3), s3fs_for(s3))


@pytest.mark.postgres
def test_export_to_s3_on_a_postgres_registry(source: MemCatalog, s3: dict[str, str]) -> None:
    assert POSTGRES_URI
    name = f"prod{uuid.uuid4().hex[:6]}"
    target = SqlCatalog(name, uri=POSTGRES_URI, warehouse="s3://lake/pg-wh", **s3)
    exported = export_table(source, "db.events", target, target_identifier=("analytics", "events"))
    fresh = SqlCatalog(name, uri=POSTGRES_URI, warehouse="s3://lake/pg-wh", **s3)
    assert fresh.list_tables("analytics") == [("analytics", "events")]
    assert_exported(source, exported, fresh, s3fs_for(s3))
