"""Issue 13: the ways the catalog lost or leaked data, one test per item (each failed before its fix).

The ownership model they rely on is in docs/reliability.md ("Ownership model").
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import fsspec
import pyarrow as pa
import pytest
from pyiceberg.catalog import load_catalog

import memcatalog
from memcatalog import MemCatalog, QuotaConflictError

SCHEMA = pa.schema([pa.field("id", pa.int64(), nullable=False)])


def ids(n: int, start: int = 0) -> pa.Table:
    return pa.table({"id": pa.array(range(start, start + n), pa.int64())}, schema=SCHEMA)


def rows(cat: MemCatalog, identifier: str) -> list[int]:
    return sorted(cat.load_table(identifier).scan().to_arrow().column("id").to_pylist())


@pytest.fixture
def name() -> Iterator[str]:
    """A fresh catalog (and pool) name; every pool the test made under it is dropped afterwards."""
    n = f"nl{uuid.uuid4().hex[:10]}"
    yield n
    for pool in memcatalog.list_pools():
        if pool.startswith(n):
            memcatalog.drop_pool(pool)


# ---- item 2: two catalogs with the same name ---------------------------------------------------


def test_item2_same_name_in_one_process_is_the_same_catalog_and_never_deletes_the_others_files(name: str) -> None:
    props = {"py-catalog-impl": "memcatalog.MemCatalog"}
    first = load_catalog(name, **props)
    assert isinstance(first, MemCatalog)
    first.create_namespace("db")
    first.create_table("db.t", SCHEMA).append(ids(5))
    second = load_catalog(name, **props)  # re-running the notebook cell
    assert isinstance(second, MemCatalog)
    assert second.list_tables("db") == [("db", "t")], "the same name attaches to the same in-memory registry"
    result = second.reclaim()
    assert result.files_deleted == 0
    assert rows(first, "db.t") == rows(second, "db.t") == [0, 1, 2, 3, 4]
    second.load_table("db.t").append(ids(2, 5))
    assert rows(first, "db.t") == list(range(7))
    assert first.check() == [] and second.check() == []


def test_item2_a_second_catalog_cannot_silently_reset_the_shared_pools_quota(name: str) -> None:
    first = MemCatalog(name, quota="64MiB")
    with pytest.raises(QuotaConflictError, match=r"already in use by catalog .*set_quota"):
        MemCatalog(name, quota="1MiB")
    assert first.pool.quota == 64 * 2**20, "the refused catalog changed nothing"
    again = MemCatalog(name, quota="64MiB")  # the same quota is no conflict
    assert again.pool is first.pool
    assert MemCatalog(name).pool.quota == 64 * 2**20  # no quota given: the pool as it is


# ---- item 3: reclaim guessed ownership from paths ------------------------------------------------


def test_item3_a_catalog_named_like_anothers_namespace_reclaims_none_of_its_files(name: str) -> None:
    lake = MemCatalog(name)
    lake.create_namespace("curated")
    lake.create_table("curated.t", SCHEMA).append(ids(3))
    curated = MemCatalog("curated", pool=name)  # warehouse memcat://<pool>/curated: where lake's namespace is
    assert curated.warehouse == f"memcat://{name}/curated"
    assert curated.reclaim().files_deleted == 0
    assert curated.check() == [], "lake's files are not curated's business"
    assert rows(lake, "curated.t") == [0, 1, 2]
    assert lake.check() == []


def test_item3_reclaim_deletes_its_own_orphans_wherever_they_sit_and_nothing_of_unknown_owner(name: str) -> None:
    cat = MemCatalog(name)
    cat.create_namespace("db")
    cat.create_table("db.kept", SCHEMA).append(ids(2))
    elsewhere = f"memcat://{name}-other/somewhere/gone"
    cat.create_table("db.gone", SCHEMA, location=elsewhere).append(ids(2))
    cat.drop_table("db.gone")
    with fsspec.open(f"memcat://{name}/db/mine.bin", "wb") as f:  # written by hand: no catalog owns it
        f.write(b"hand-made")
    findings = cat.check()
    assert any(line.startswith(f"owner unknown: memcat://{name}/db/mine.bin") for line in findings)
    result = cat.reclaim()
    assert result.deleted and all(url.startswith(f"memcat://{name}-other/") for url in result.deleted)
    assert memcatalog.get_pool(f"{name}-other").stats().files == 0, "its own files outside the warehouse go too"
    assert memcatalog.get_pool(name).entry("db/mine.bin") is not None, "a file of unknown owner is never deleted"
    assert rows(cat, "db.kept") == [0, 1]
    assert [line for line in cat.check() if not line.startswith("owner unknown")] == []


def test_item3_a_file_another_live_catalog_references_survives_its_owners_reclaim(name: str) -> None:
    a = MemCatalog(name)
    a.create_namespace("db")
    table = a.create_table("db.t", SCHEMA)
    table.append(ids(4))
    b = MemCatalog(f"{name}b")
    b.create_namespace("db")
    b.register_table("db.borrowed", a.load_table("db.t").metadata_location)
    a.drop_table("db.t")
    assert a.reclaim().files_deleted == 0, "b's table still references every file"
    assert rows(b, "db.borrowed") == [0, 1, 2, 3]
    b.drop_table("db.borrowed")
    assert a.reclaim().files_deleted > 0
    assert a.pool.stats().used == 0 and a.check() == [] and b.check() == []


def test_item3_purge_deletes_only_what_its_catalog_owns_and_nothing_references(name: str) -> None:
    a = MemCatalog(name)
    a.create_namespace("db")
    a.create_table("db.t", SCHEMA).append(ids(4))
    b = MemCatalog(f"{name}b")
    b.create_namespace("db")
    b.register_table("db.borrowed", a.load_table("db.t").metadata_location)
    b.purge_table("db.borrowed")  # b owns none of those files: it only forgets the table
    assert rows(a, "db.t") == [0, 1, 2, 3]
    a.purge_table("db.t")
    assert a.pool.stats().files == 0 and a.check() == []


# ---- item 4: reclaim-on-quota deleted a writer's files in flight ---------------------------------


def _orphans(cat: MemCatalog, n: int = 20_000) -> int:
    """A dropped table's files: reclaimable bytes in the pool."""
    cat.create_table("db.dropped", SCHEMA).append(ids(n))
    cat.drop_table("db.dropped")
    return cat.pool.stats().used


def test_item4_reclaim_on_quota_spares_a_table_writers_flushed_files_whatever_their_age(name: str) -> None:
    cat = MemCatalog(name, **{"reclaim-on-quota": "true", "reclaim-grace-seconds": "0"})
    cat.create_namespace("db")
    cat.create_table("db.t", SCHEMA)
    _orphans(cat)
    writer = cat.writer("db.t", max_buffer_bytes=1)
    writer.write(ids(1000))  # flushed: a data file in the pool, committed nowhere yet
    in_flight = cat.pool.keys("db/t/data")
    assert in_flight
    cat.pool.set_quota(cat.pool.stats().used + 1000)
    cat.pool.put("filler.bin", b"x" * 5000)  # does not fit: the reliever runs
    assert all(cat.pool.entry(k) is not None for k in in_flight), "the writer's files are pinned"
    writer.commit()
    assert rows(cat, "db.t") == list(range(1000))
    cat.pool.remove("filler.bin")
    assert cat.check() == []


def test_item4_reclaim_between_a_pyiceberg_appends_files_and_its_commit_spares_them(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cat = MemCatalog(name, **{"reclaim-grace-seconds": "0"})
    cat.create_namespace("db")
    table = cat.create_table("db.t", SCHEMA)
    _orphans(cat)
    reclaimed: list[int] = []
    real = MemCatalog.write_metadata_file

    def reclaim_first(self: MemCatalog, *args: Any, **kwargs: Any) -> None:
        # The append's data files, manifests and manifest list are in the pool; its commit is not.
        reclaimed.append(self.reclaim().files_deleted)
        real(self, *args, **kwargs)

    monkeypatch.setattr(MemCatalog, "write_metadata_file", reclaim_first)
    table.append(ids(1000))
    monkeypatch.setattr(MemCatalog, "write_metadata_file", real)
    assert reclaimed and reclaimed[0] > 0, "reclaim ran in the middle of the append and freed the dropped table"
    assert rows(cat, "db.t") == list(range(1000))
    assert cat.check() == []


# ---- item 5: commit state unknown deleted live metadata ------------------------------------------


class RegistryFaults:
    """Make a catalog's registry fail right after it committed, and optionally stay unreadable afterwards."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from sqlalchemy import event
        from sqlalchemy.orm import Session

        from memcatalog import registry

        self.engines: list[Any] = []
        self.unreadable_after = False
        self.down = False
        real_location = registry.metadata_location

        def after_commit(session: Session) -> None:
            if session.bind in self.engines:
                self.down = self.unreadable_after
                raise self.error("COMMIT")

        def metadata_location(engine: Any, *args: Any) -> str | None:
            if self.down and engine in self.engines:
                raise self.error("SELECT iceberg_tables")
            return real_location(engine, *args)

        event.listen(Session, "after_commit", after_commit)
        monkeypatch.setattr(registry, "metadata_location", metadata_location)
        self._remove = lambda: event.remove(Session, "after_commit", after_commit)

    @staticmethod
    def error(statement: str) -> Exception:
        from sqlalchemy.exc import OperationalError

        return OperationalError(statement, {}, Exception("server closed the connection unexpectedly"))

    def heal(self) -> None:
        self.engines.clear()
        self.down = False


@pytest.fixture
def faults(monkeypatch: pytest.MonkeyPatch) -> Iterator[RegistryFaults]:
    f = RegistryFaults(monkeypatch)
    yield f
    f._remove()


def test_item5_an_error_after_commit_with_the_registry_gone_deletes_nothing_and_says_the_state_is_unknown(
    name: str, faults: RegistryFaults
) -> None:
    from pyiceberg.exceptions import CommitStateUnknownException

    cat = MemCatalog(name)
    cat.create_namespace("db")
    cat.create_table("db.t", SCHEMA).append(ids(3))
    faults.engines.append(cat.engine)
    faults.unreadable_after = True
    with pytest.raises(CommitStateUnknownException, match="cannot say whether it took it; nothing was deleted"):
        cat.load_table("db.t").append(ids(2, 3))
    faults.heal()
    # The commit did land: the registry points at the new metadata, which is still there.
    assert rows(cat, "db.t") == [0, 1, 2, 3, 4]
    assert cat.check() == []


def test_item5_an_error_after_a_commit_that_landed_is_resolved_by_reading_the_registry(
    name: str, faults: RegistryFaults
) -> None:
    cat = MemCatalog(name)
    cat.create_namespace("db")
    cat.create_table("db.t", SCHEMA).append(ids(3))
    faults.engines.append(cat.engine)
    table = cat.load_table("db.t")
    table.append(ids(2, 3))  # the registry took it: the error is logged, the commit reported as done
    faults.heal()
    assert sorted(table.scan().to_arrow().column("id").to_pylist()) == [0, 1, 2, 3, 4]
    assert rows(cat, "db.t") == [0, 1, 2, 3, 4]
    assert cat.check() == []


def test_item5_a_table_writer_whose_commit_state_is_unknown_keeps_its_files(name: str, faults: RegistryFaults) -> None:
    from pyiceberg.exceptions import CommitStateUnknownException

    cat = MemCatalog(name)
    cat.create_namespace("db")
    cat.create_table("db.t", SCHEMA)
    faults.engines.append(cat.engine)
    faults.unreadable_after = True
    with pytest.raises(CommitStateUnknownException), cat.writer("db.t") as w:
        w.write(ids(10))
    faults.heal()
    assert rows(cat, "db.t") == list(range(10))
    assert cat.check() == []


def test_item5_create_table_whose_commit_state_is_unknown_keeps_its_metadata(name: str, faults: RegistryFaults) -> None:
    from pyiceberg.exceptions import CommitStateUnknownException

    cat = MemCatalog(name)
    cat.create_namespace("db")
    faults.engines.append(cat.engine)
    faults.unreadable_after = True
    with pytest.raises(CommitStateUnknownException):
        cat.create_table("db.t", SCHEMA)
    faults.heal()
    assert rows(cat, "db.t") == []
    assert cat.check() == []


def test_item5_a_commit_known_to_have_failed_still_cleans_up(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.orm import Session

    cat = MemCatalog(name)
    cat.create_namespace("db")
    cat.create_table("db.t", SCHEMA).append(ids(3))
    before = set(cat.pool.keys())

    def refuse(self: Session) -> None:  # fails before COMMIT is sent: surely not committed
        raise OperationalError("UPDATE iceberg_tables", {}, Exception("database is locked"))

    monkeypatch.setattr(Session, "commit", refuse)
    with pytest.raises(OperationalError):
        cat.load_table("db.t").append(ids(2, 3))
    monkeypatch.undo()
    assert set(cat.pool.keys()) == before, "its metadata, manifests and data files were freed at the failure"
    assert rows(cat, "db.t") == [0, 1, 2]
    assert cat.check() == []


# ---- item 8: failed writes left bytes behind -------------------------------------------------------


def _refuse(monkeypatch: pytest.MonkeyPatch, pool: memcatalog.Pool, when: Callable[[str], bool]) -> None:
    """The pool refuses (as on its quota) every reservation for a key ``when`` accepts."""
    from memcatalog import QuotaExceededError

    real = pool._reserve

    def reserve(n: int, key: str, alerts: Any = None) -> None:
        if when(key):
            raise QuotaExceededError(pool._url(key), n, 0, pool.quota, pool.name)
        real(n, key, alerts)

    monkeypatch.setattr(pool, "_reserve", reserve)


@pytest.mark.parametrize(
    "refused",
    [
        pytest.param(lambda key: key.rsplit("/", 1)[-1].startswith("snap-"), id="manifest-list"),
        pytest.param(lambda key: key.endswith(".metadata.json"), id="metadata"),
    ],
)
def test_item8_a_table_writer_commit_failing_on_the_quota_frees_its_manifests_too(
    name: str, monkeypatch: pytest.MonkeyPatch, refused: Callable[[str], bool]
) -> None:
    from memcatalog import QuotaExceededError

    cat = MemCatalog(name)
    cat.create_namespace("db")
    cat.create_table("db.t", SCHEMA).append(ids(3))
    before = set(cat.pool.keys())
    writer = cat.writer("db.t")
    writer.write(ids(100, 3))
    writer.flush()
    _refuse(monkeypatch, cat.pool, refused)
    with pytest.raises(QuotaExceededError):
        writer.commit()
    monkeypatch.undo()
    assert set(cat.pool.keys()) == before, "data files, manifests and manifest lists are all gone"
    assert rows(cat, "db.t") == [0, 1, 2]
    assert cat.check() == []


def test_item8_a_pressure_callback_that_raises_leaves_nothing_reserved(name: str) -> None:
    cat = MemCatalog(name, quota="1MiB")
    cat.create_namespace("db")
    table = cat.create_table("db.t", SCHEMA)

    def broken(alert: memcatalog.PressureAlert) -> None:
        raise RuntimeError("the alerting system is down")

    cat.pool.on_pressure(broken)
    cat.pool.put("big.bin", b"x" * 900_000)  # crosses 80 % and 95 %: the callback fails both times
    assert cat.pool.check() == [], "nothing is left reserved"
    cat.pool.remove("big.bin")
    table.append(ids(10))
    assert rows(cat, "db.t") == list(range(10))
    assert cat.check() == []


def test_item8_pyiceberg_append_failing_on_the_quota_frees_its_files_at_once(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from memcatalog import QuotaExceededError

    cat = MemCatalog(name)
    cat.create_namespace("db")
    table = cat.create_table("db.t", SCHEMA)
    table.append(ids(3))
    before = set(cat.pool.keys())
    _refuse(monkeypatch, cat.pool, lambda key: key.endswith("-m0.avro"))  # its data file is in, its manifest not
    with pytest.raises(QuotaExceededError):
        cat.load_table("db.t").append(ids(100, 3))
    monkeypatch.undo()
    assert set(cat.pool.keys()) == before, "the failed append's data file was freed at the failure"
    assert rows(cat, "db.t") == [0, 1, 2]
    assert cat.check() == []


def test_item8_pyiceberg_append_losing_its_retries_leaves_orphans_that_reclaim_on_quota_frees(name: str) -> None:
    from pyiceberg.exceptions import CommitFailedException

    cat = MemCatalog(name, **{"reclaim-on-quota": "true"})  # default grace period: 60 s
    cat.create_namespace("db")
    cat.create_table("db.t", SCHEMA, properties={"commit.retry.num-retries": "0"})
    stale = cat.load_table("db.t")
    cat.load_table("db.t").append(ids(3))
    with pytest.raises(CommitFailedException):
        stale.append(ids(50_000, 100))  # lost the race and has no retries left
    orphans = [line for line in cat.check() if line.startswith("unreferenced file")]
    assert orphans, "its data file is an orphan, not pinned (the write is over)"
    cat.pool.set_quota(cat.pool.stats().used + 1000)
    cat.pool.put("filler.bin", b"x" * 5000, owner=None)  # does not fit unless the orphans go
    cat.pool.remove("filler.bin")
    cat.pool.set_quota("1GiB")
    assert rows(cat, "db.t") == [0, 1, 2]
    assert cat.check() == []


def test_item8_a_failed_write_frees_its_files_and_does_not_block_a_later_write_of_the_same_names(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from memcatalog import QuotaExceededError

    cat = MemCatalog(name)
    io = cat.load_file_io_for(cat.warehouse)
    write = str(uuid.uuid4())
    first, second = (f"memcat://{name}/copy/{i:05d}-{write}.bin" for i in range(2))
    with io.new_output(first).create() as f:
        f.write(b"a" * 100)
    _refuse(monkeypatch, cat.pool, lambda key: key.endswith(second.rsplit("/", 1)[-1]))
    with pytest.raises(QuotaExceededError), io.new_output(second).create() as f:
        f.write(b"b" * 100)
    monkeypatch.undo()
    assert cat.pool.stats().files == 0, "the failed write's other file went with it"
    for location in (first, second):  # the same names again (a restore retried): a new write
        with io.new_output(location).create() as f:
            f.write(b"c" * 100)
    assert cat.pool.stats().files == 2
    assert cat.pool.check() == []


@pytest.mark.slow  # threads: a few seconds on shared cores
def test_item4_reclaim_looping_in_another_thread_never_takes_a_file_of_a_write_in_flight(name: str) -> None:
    import threading

    cat = MemCatalog(name, **{"reclaim-grace-seconds": "0"})
    cat.create_namespace("db")
    for t in ("a", "b", "w"):
        cat.create_table(f"db.{t}", SCHEMA)
    done = threading.Event()
    errors: list[BaseException] = []
    reclaims = 0

    def appender(t: str, start: int) -> None:
        try:
            for i in range(6):
                cat.load_table(f"db.{t}").append(ids(50, start + i * 50))
        except BaseException as e:  # reported below
            errors.append(e)

    def writer() -> None:
        try:
            with cat.writer("db.w", max_buffer_bytes=1) as w:
                for i in range(6):
                    w.write(ids(50, 10_000 + i * 50))
        except BaseException as e:  # reported below
            errors.append(e)

    def reclaimer() -> None:
        nonlocal reclaims
        while not done.is_set():
            cat.reclaim()
            reclaims += 1
            # A breath between sweeps: the in-memory registry is one connection, and SQLAlchemy's pool is
            # not fair, so a thread that takes it back at once can starve the writers for minutes.
            done.wait(0.005)

    workers = [threading.Thread(target=appender, args=("a", 0)), threading.Thread(target=appender, args=("b", 1000))]
    workers.append(threading.Thread(target=writer))
    sweeper = threading.Thread(target=reclaimer)
    sweeper.start()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    done.set()
    sweeper.join()
    assert errors == [] and reclaims > 0
    assert rows(cat, "db.a") == list(range(300))
    assert rows(cat, "db.b") == list(range(1000, 1300))
    assert rows(cat, "db.w") == list(range(10_000, 10_300))
    assert cat.check() == []
