"""What MemCatalog adds to pyiceberg's SQL catalog: pools, config merging, FileIO routing, memory management."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from pyiceberg.catalog import load_catalog
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError

import memcatalog
from memcatalog import DataNotInMemoryError, MemCatalog, QuotaExceededError
from memcatalog.fileio import MemFileIO
from tests.helpers import SCHEMA, ids, rows


@pytest.fixture
def cat(memcatalog_catalog: MemCatalog) -> Iterator[MemCatalog]:
    """The plugin's catalog (audited, closed and freed by the plugin) with a namespace ``db``."""
    memcatalog_catalog.create_namespace("db")
    yield memcatalog_catalog
    assert memcatalog_catalog.check() == []  # stricter than the plugin's own audit: no unreferenced file either


def test_load_catalog_with_py_catalog_impl() -> None:
    name = f"lc{uuid.uuid4().hex[:8]}"
    cat = load_catalog(name, **{"py-catalog-impl": "memcatalog.MemCatalog", "quota": "64MiB"})
    assert isinstance(cat, MemCatalog)
    assert cat.pool.quota == 64 * 2**20
    assert cat.properties["warehouse"] == f"memcat://{name}/"
    memcatalog.drop_pool(name)


@pytest.mark.slow
def test_yaml_and_environment_configuration_are_merged_under_kwargs(tmp_path: Path) -> None:
    (tmp_path / ".pyiceberg.yaml").write_text(
        "catalog:\n  yamlcat:\n    quota: 32MiB\n    warehouse: memcat://yamlpool/wh\n    pool: yamlpool\n"
    )
    code = (
        "import json\n"
        "from pyiceberg.catalog import load_catalog\n"
        "c = load_catalog('yamlcat', **{'py-catalog-impl': 'memcatalog.MemCatalog', 'pool': 'kwpool'})\n"
        "print(json.dumps({'quota': c.pool.quota, 'pool': c.pool.name, 'wh': c.properties['warehouse'],"
        " 'echo': c.properties.get('metadata-cache-size')}))\n"
    )
    env = {**os.environ, "PYICEBERG_HOME": str(tmp_path), "PYICEBERG_CATALOG__YAMLCAT__METADATA_CACHE_SIZE": "7"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    got = json.loads(out.stdout)
    assert got == {"quota": 32 * 2**20, "pool": "kwpool", "wh": "memcat://yamlpool/wh", "echo": "7"}


def test_shared_pool_between_catalogs() -> None:
    shared = f"shared{uuid.uuid4().hex[:6]}"
    a = MemCatalog(f"a{uuid.uuid4().hex[:6]}", pool=shared)
    b = MemCatalog(f"b{uuid.uuid4().hex[:6]}", pool=shared)
    assert a.pool is b.pool
    for c in (a, b):
        c.create_namespace("db")
        c.create_table("db.t", SCHEMA).append(rows(5))
    assert a.warehouse != b.warehouse
    assert a.check() == [] and b.check() == []
    a.purge_table("db.t")
    assert ids(b.load_table("db.t").scan().to_arrow()) == list(range(5))
    memcatalog.drop_pool(shared)


def test_file_io_routes_other_schemes(cat: MemCatalog, tmp_path: Path) -> None:
    # A table whose location is on local disk still works through MemCatalog's FileIO.
    t = cat.create_table("db.local", SCHEMA, location=f"file://{tmp_path}/local")
    t.append(rows(4))
    assert ids(cat.load_table("db.local").scan().to_arrow()) == [0, 1, 2, 3]
    assert any(p.suffix == ".parquet" for p in (tmp_path / "local" / "data").iterdir())
    # register_table of a metadata file on local disk, written by pyiceberg's SqlCatalog
    sql = SqlCatalog("disk", uri="sqlite:///:memory:", warehouse=f"file://{tmp_path}/wh")
    sql.create_namespace("db")
    sql.create_table("db.src", SCHEMA).append(rows(3))
    registered = cat.register_table("db.reg", sql.load_table("db.src").metadata_location)
    assert ids(registered.scan().to_arrow()) == [0, 1, 2]
    cat.drop_table("db.local")
    cat.drop_table("db.reg")


def test_file_io_is_picklable_and_reads_zero_copy(cat: MemCatalog) -> None:
    import pickle

    t = cat.create_table("db.z", SCHEMA)
    t.append(rows(3))
    io = pickle.loads(pickle.dumps(t.io))
    assert isinstance(io, MemFileIO)
    metadata = cat.load_table("db.z").metadata_location
    stream = io.new_input(metadata).open()
    assert isinstance(stream, pa.BufferReader)
    assert stream.read(1) == b"{"


def test_quota_exceeded_during_append_changes_nothing(cat: MemCatalog) -> None:
    t = cat.create_table("db.q", SCHEMA)
    t.append(rows(10))
    before_snapshot = cat.load_table("db.q").current_snapshot()
    before = cat.pool.stats()
    cat.pool.set_quota(before.used + 2000)
    big = rows(20_000)  # ~430 KB of Parquet: over the 2,000 bytes left
    with pytest.raises(QuotaExceededError, match="quota exceeded writing memcat://"):
        t.append(big)
    assert cat.load_table("db.q").current_snapshot() == before_snapshot
    assert ids(cat.load_table("db.q").scan().to_arrow()) == list(range(10))
    after = cat.pool.stats()
    assert (after.used, after.reserved, after.files) == (before.used, 0, before.files)
    cat.pool.set_quota("1GiB")


def test_purge_frees_bytes_and_drop_keeps_them_until_reclaim(cat: MemCatalog) -> None:
    empty = cat.pool.stats().used
    cat.create_table("db.p", SCHEMA).append(rows(1000))
    cat.create_table("db.d", SCHEMA).append(rows(1000))
    with_both = cat.pool.stats().used
    cat.purge_table("db.p")
    after_purge = cat.pool.stats().used
    assert after_purge < with_both
    cat.drop_table("db.d")
    assert cat.pool.stats().used == after_purge, "drop without purge keeps the files"
    assert any("unreferenced" in f for f in cat.check())
    freed = cat.reclaim()
    assert freed.bytes_freed == after_purge - empty and freed.files_deleted > 0
    assert cat.pool.stats().used == empty


def test_reclaim_expires_snapshots_by_count_and_keeps_data_readable(cat: MemCatalog) -> None:
    t = cat.create_table("db.r", SCHEMA)
    for i in range(5):
        t.append(rows(100, start=i * 100))
    t.delete("id < 250")
    before = cat.pool.stats().used
    snapshots = len(cat.load_table("db.r").metadata.snapshots)
    assert snapshots > 5  # five appends, and the delete's own snapshots
    result = cat.reclaim(retain_last=2)
    assert result.snapshots_expired == snapshots - 2
    assert result.bytes_freed > 0 and cat.pool.stats().used < before  # the expiry's own commit adds a metadata file
    t = cat.load_table("db.r")
    assert len(t.metadata.snapshots) == 2
    assert ids(t.scan().to_arrow()) == list(range(250, 500))


def test_old_metadata_files_are_freed_after_commit(cat: MemCatalog) -> None:
    t = cat.create_table("db.m", SCHEMA, properties={"write.metadata.previous-versions-max": "2"})
    for i in range(6):
        t.append(rows(1, start=i))
    metadata_files = [k for k in cat.pool.keys("db/m/metadata") if k.endswith(".metadata.json")]
    assert len(metadata_files) == 3  # the current one and two previous versions


def test_metadata_is_not_reparsed(cat: MemCatalog, monkeypatch: pytest.MonkeyPatch) -> None:
    from pyiceberg.serializers import FromInputFile

    t = cat.create_table("db.c", SCHEMA)
    t.append(rows(5))
    calls: list[str] = []
    original = FromInputFile.table_metadata

    def counting(input_file, encoding="utf-8"):  # type: ignore[no-untyped-def]
        calls.append(input_file.location)
        return original(input_file, encoding)

    monkeypatch.setattr(FromInputFile, "table_metadata", staticmethod(counting))
    for _ in range(5):
        cat.load_table("db.c")
    cat.load_table("db.c").append(rows(1, start=5))
    assert calls == []


def test_usage_per_table_and_namespace(cat: MemCatalog) -> None:
    cat.create_namespace("other")
    cat.create_table("db.a", SCHEMA).append(rows(100))
    cat.create_table("other.b", SCHEMA).append(rows(100))
    usage = {u.identifier: u for u in cat.usage()}
    assert set(usage) == {("db", "a"), ("other", "b")}
    assert sum(u.bytes for u in usage.values()) == cat.pool.stats().used
    assert cat.namespace_usage()["db"] == (usage[("db", "a")].bytes, usage[("db", "a")].files)


def test_concurrent_appends_from_eight_threads_all_land(cat: MemCatalog) -> None:
    cat.create_table("db.conc", SCHEMA, properties={"commit.retry.num-retries": "50", "commit.retry.min-wait-ms": "1"})
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            table = cat.load_table("db.conc")
            for j in range(3):
                table.append(rows(1, start=i * 100 + j))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    got = ids(cat.load_table("db.conc").scan().to_arrow())
    assert got == sorted(i * 100 + j for i in range(8) for j in range(3))
    cat.reclaim()  # retried commits leave manifests of the losing attempts behind


def test_two_catalogs_on_one_sqlite_file(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'registry.db'}"
    pool = f"p{uuid.uuid4().hex[:6]}"
    a = MemCatalog("shared", uri=uri, pool=pool)
    b = MemCatalog("shared", uri=uri, pool=pool)
    a.create_namespace("db")
    a.create_table("db.t", SCHEMA, properties={"commit.retry.num-retries": "50", "commit.retry.min-wait-ms": "1"})
    errors: list[BaseException] = []

    def work(c: MemCatalog, start: int) -> None:
        try:
            for j in range(5):
                c.load_table("db.t").append(rows(1, start=start + j))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=work, args=(c, s)) for c, s in ((a, 0), (b, 100))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert ids(b.load_table("db.t").scan().to_arrow()) == [*range(5), *range(100, 105)]
    memcatalog.drop_pool(pool)


@pytest.mark.slow
def test_registry_that_outlives_the_process_gives_a_clear_error(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'registry.db'}"
    code = (
        "from memcatalog import MemCatalog\nimport pyarrow as pa\n"
        f"c = MemCatalog('gone', uri={uri!r})\nc.create_namespace('db')\n"
        "c.create_table('db.t', pa.schema([('a', pa.int64())])).append(pa.table({'a': [1]}))\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    later = MemCatalog("gone", uri=uri)
    assert later.list_tables("db") == [("db", "t")]
    with pytest.raises(
        DataNotInMemoryError, match=r"table db.t: its metadata file memcat://gone/.* is not in this process's memory"
    ):
        later.load_table("db.t")
    findings = later.check()
    assert len(findings) == 1 and "cannot be read" in findings[0]
    later.drop_table("db.t")
    with pytest.raises(NoSuchTableError):
        later.load_table("db.t")
    memcatalog.drop_pool("gone")


def test_views_are_implemented_unlike_sqlcatalog(cat: MemCatalog) -> None:
    """SqlCatalog raises NotImplementedError for views; MemCatalog stores them (tests/rest/test_views.py)."""
    assert cat.list_views("db") == []
    with pytest.raises(NoSuchNamespaceError):
        cat.list_views("nowhere")


def test_reclaim_never_takes_files_of_another_catalog_in_the_pool() -> None:
    shared = f"sh{uuid.uuid4().hex[:6]}"
    outer = MemCatalog(shared)  # warehouse memcat://<shared>/, the pool's root
    inner = MemCatalog(f"in{uuid.uuid4().hex[:6]}", pool=shared)  # warehouse memcat://<shared>/<name>
    for c in (outer, inner):
        c.create_namespace("db")
        c.create_table("db.t", SCHEMA).append(rows(5))
    assert outer.check() == [] and inner.check() == []
    result = outer.reclaim()
    assert result.files_deleted == 0
    assert ids(inner.load_table("db.t").scan().to_arrow()) == list(range(5))
    memcatalog.drop_pool(shared)


def test_reclaim_on_quota_frees_old_orphans_before_failing() -> None:
    name = f"roq{uuid.uuid4().hex[:6]}"
    cat = MemCatalog(name, **{"reclaim-on-quota": "true", "reclaim-grace-seconds": "0"})
    cat.create_namespace("db")
    cat.create_table("db.old", SCHEMA).append(rows(20_000))
    cat.drop_table("db.old")  # its files stay until a reclaim
    orphaned = cat.pool.stats().used
    table = cat.create_table("db.new", SCHEMA)
    cat.pool.set_quota(cat.pool.stats().used + 50_000)  # too small unless the orphans go
    table.append(rows(20_000))
    assert ids(cat.load_table("db.new").scan().to_arrow()) == list(range(20_000))
    assert cat.pool.stats().used < orphaned + 50_000
    assert cat.check() == []
    memcatalog.drop_pool(name)


def test_reclaim_on_quota_spares_files_younger_than_the_grace_period() -> None:
    name = f"roq{uuid.uuid4().hex[:6]}"
    cat = MemCatalog(name, **{"reclaim-on-quota": "true"})  # default grace: 60 s
    cat.create_namespace("db")
    cat.create_table("db.old", SCHEMA).append(rows(20_000))
    cat.drop_table("db.old")
    table = cat.create_table("db.new", SCHEMA)
    cat.pool.set_quota(cat.pool.stats().used + 50_000)
    with pytest.raises(QuotaExceededError):
        table.append(rows(20_000))
    assert cat.check(allow_unreferenced=True) == []
    memcatalog.drop_pool(name)


def test_reclaim_min_age_spares_young_orphans(cat: MemCatalog) -> None:
    from datetime import timedelta

    cat.create_table("db.gone", SCHEMA).append(rows(10))
    cat.drop_table("db.gone")
    assert cat.reclaim(min_age=timedelta(minutes=5)).files_deleted == 0
    assert cat.reclaim(min_age=timedelta(0)).files_deleted > 0


def test_reclaim_with_a_file_warehouse_touches_no_pool(tmp_path: Path) -> None:
    name = f"fw{uuid.uuid4().hex[:6]}"
    cat = MemCatalog(name, warehouse=f"file://{tmp_path}")
    cat.create_namespace("db")
    cat.create_table("db.t", SCHEMA).append(rows(3))
    pools_before = set(memcatalog.list_pools())
    assert cat.reclaim().files_deleted == 0
    assert cat.check() == []
    assert set(memcatalog.list_pools()) == pools_before, "no pool is made up from a file:// warehouse"
    assert ids(cat.load_table("db.t").scan().to_arrow()) == [0, 1, 2]
    memcatalog.drop_pool(name)
