"""Model-based: random catalog operations checked against the expected rows of every table."""

from __future__ import annotations

import contextlib
import uuid

import hypothesis.strategies as st
import pyarrow as pa
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from pyiceberg.exceptions import (
    NamespaceAlreadyExistsError,
    NamespaceNotEmptyError,
    NoSuchTableError,
    TableAlreadyExistsError,
)

import memcatalog
from memcatalog import MemCatalog

SCHEMA = pa.schema([pa.field("id", pa.int64(), nullable=False)])
NAMESPACES = st.sampled_from(["n1", "n2"])
TABLES = st.sampled_from(["t1", "t2", "t3"])


class CatalogMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.catalog = MemCatalog(f"cm{uuid.uuid4().hex[:8]}")
        self.namespaces: set[str] = set()
        self.tables: dict[tuple[str, str], list[int]] = {}
        self.next_id = 0

    def ids(self, n: int) -> list[int]:
        out = list(range(self.next_id, self.next_id + n))
        self.next_id += n
        return out

    @rule(ns=NAMESPACES)
    def create_namespace(self, ns: str) -> None:
        try:
            self.catalog.create_namespace(ns)
            assert ns not in self.namespaces
            self.namespaces.add(ns)
        except NamespaceAlreadyExistsError:
            assert ns in self.namespaces

    @rule(ns=NAMESPACES)
    def drop_namespace(self, ns: str) -> None:
        if ns not in self.namespaces:
            return
        try:
            self.catalog.drop_namespace(ns)
            assert not any(k[0] == ns for k in self.tables)
            self.namespaces.discard(ns)
        except NamespaceNotEmptyError:
            assert any(k[0] == ns for k in self.tables)

    @rule(ns=NAMESPACES, name=TABLES)
    def create_table(self, ns: str, name: str) -> None:
        if ns not in self.namespaces:
            return
        try:
            self.catalog.create_table((ns, name), SCHEMA)
            self.tables[(ns, name)] = []
        except TableAlreadyExistsError:
            assert (ns, name) in self.tables

    @precondition(lambda self: bool(self.tables))
    @rule(data=st.data(), n=st.integers(1, 20))
    def append(self, data: st.DataObject, n: int) -> None:
        key = data.draw(st.sampled_from(sorted(self.tables)))
        new = self.ids(n)
        self.catalog.load_table(key).append(pa.table({"id": pa.array(new, pa.int64())}, schema=SCHEMA))
        self.tables[key] += new

    @precondition(lambda self: bool(self.tables))
    @rule(data=st.data(), n=st.integers(0, 5))
    def overwrite(self, data: st.DataObject, n: int) -> None:
        key = data.draw(st.sampled_from(sorted(self.tables)))
        new = self.ids(n)
        self.catalog.load_table(key).overwrite(pa.table({"id": pa.array(new, pa.int64())}, schema=SCHEMA))
        self.tables[key] = new

    @precondition(lambda self: any(self.tables.values()))
    @rule(data=st.data())
    def delete_some(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(sorted(k for k, v in self.tables.items() if v)))
        cut = data.draw(st.sampled_from(self.tables[key]))
        self.catalog.load_table(key).delete(f"id < {cut}")
        self.tables[key] = [i for i in self.tables[key] if i >= cut]

    @precondition(lambda self: bool(self.tables))
    @rule(data=st.data(), ns=NAMESPACES, name=TABLES)
    def rename(self, data: st.DataObject, ns: str, name: str) -> None:
        src = data.draw(st.sampled_from(sorted(self.tables)))
        if ns not in self.namespaces or (ns, name) in self.tables:
            return
        self.catalog.rename_table(src, (ns, name))
        self.tables[(ns, name)] = self.tables.pop(src)

    @precondition(lambda self: bool(self.tables))
    @rule(data=st.data(), purge=st.booleans())
    def drop(self, data: st.DataObject, purge: bool) -> None:
        key = data.draw(st.sampled_from(sorted(self.tables)))
        (self.catalog.purge_table if purge else self.catalog.drop_table)(key)
        del self.tables[key]

    @rule(keep=st.integers(1, 3))
    def reclaim(self, keep: int) -> None:
        self.catalog.reclaim(retain_last=keep)
        assert self.catalog.check() == []

    @invariant()
    def rows_match(self) -> None:
        for key, expected in self.tables.items():
            got = self.catalog.load_table(key).scan().to_arrow().column("id").to_pylist()
            assert sorted(got) == sorted(expected), key
        listed = {t for ns in self.namespaces for t in self.catalog.list_tables(ns)}
        assert listed == set(self.tables)
        assert self.catalog.check(allow_unreferenced=True) == []

    def teardown(self) -> None:
        for key in list(self.tables):
            with contextlib.suppress(NoSuchTableError):
                self.catalog.drop_table(key)
        self.catalog.reclaim()
        assert self.catalog.check() == []
        assert self.catalog.pool.stats().used == 0
        memcatalog.drop_pool(self.catalog.pool.name)


TestCatalogModel = CatalogMachine.TestCase
TestCatalogModel.settings = settings(max_examples=25, stateful_step_count=20, deadline=None)


# ---- issue 13: ownership, pins and reclaim, with two catalogs of one name and writers in flight -------

import pytest  # noqa: E402
from hypothesis import HealthCheck  # noqa: E402

from memcatalog import QuotaExceededError  # noqa: E402
from memcatalog.writer import TableWriter  # noqa: E402

KEYS = st.sampled_from([("db", "a"), ("db", "b"), ("db", "c")])
ADVERSARIAL = {"reclaim-on-quota": "true", "reclaim-grace-seconds": "0"}  # no grace period: only pins protect


class OwnershipMachine(RuleBasedStateMachine):
    """Catalog ``N`` opened several times (one registry, one pool) plus catalog ``Nx`` in the same pool.

    Reclaim and reclaim-on-quota run through any handle between the writes of writers in flight.
    Always: every table has its expected rows, every file a table or a writer in flight needs is in
    the pool; after a reclaim its catalog's audit is clean; at the end the pool is empty.
    """

    def __init__(self) -> None:
        super().__init__()
        self.name = f"om{uuid.uuid4().hex[:8]}"
        self.handles = [MemCatalog(self.name, **ADVERSARIAL)]
        self.handles[0].create_namespace("db")
        self.other = MemCatalog(f"{self.name}x", pool=self.name, **ADVERSARIAL)  # warehouse memcat://N/Nx
        self.other.create_namespace("db")
        self.tables: dict[tuple[str, tuple[str, str]], list[int]] = {}  # (catalog name, key) -> rows
        self.writers: list[tuple[TableWriter, str, tuple[str, str], list[int], set[str]]] = []
        self.next_id = 0

    def ids(self, n: int) -> list[int]:
        out = list(range(self.next_id, self.next_id + n))
        self.next_id += n
        return out

    def catalogs(self, data: st.DataObject) -> MemCatalog:
        return data.draw(st.sampled_from([*self.handles, self.other]))

    @rule()
    def open_again(self) -> None:
        """load_catalog of the same name again (a re-run notebook cell): the same catalog."""
        if len(self.handles) < 3:
            self.handles.append(MemCatalog(self.name, **ADVERSARIAL))

    @rule(data=st.data(), key=KEYS)
    def create_table(self, data: st.DataObject, key: tuple[str, str]) -> None:
        cat = self.catalogs(data)
        if (cat.name, key) not in self.tables:
            cat.create_table(key, SCHEMA)
            self.tables[(cat.name, key)] = []

    @precondition(lambda self: bool(self.tables))
    @rule(data=st.data(), n=st.integers(1, 50))
    def append(self, data: st.DataObject, n: int) -> None:
        cat = self.catalogs(data)
        mine = sorted(k for c, k in self.tables if c == cat.name)
        if not mine:
            return
        key = data.draw(st.sampled_from(mine))
        new = self.ids(n)
        cat.load_table(key).append(pa.table({"id": pa.array(new, pa.int64())}, schema=SCHEMA))
        self.tables[(cat.name, key)] += new

    @precondition(lambda self: bool(self.tables) and len(self.writers) < 3)
    @rule(data=st.data())
    def start_writer(self, data: st.DataObject) -> None:
        cat = self.catalogs(data)
        mine = sorted(k for c, k in self.tables if c == cat.name)
        if mine:
            key = data.draw(st.sampled_from(mine))
            self.writers.append((cat.writer(key, max_buffer_bytes=1), cat.name, key, [], set()))

    @precondition(lambda self: bool(self.writers))
    @rule(data=st.data(), n=st.integers(1, 50))
    def writer_writes(self, data: st.DataObject, n: int) -> None:
        writer, _, _, pending, files = data.draw(st.sampled_from(self.writers))
        before = set(self.handles[0].pool.keys())
        new = self.ids(n)
        writer.write(pa.table({"id": pa.array(new, pa.int64())}, schema=SCHEMA))  # flushed at once
        pending += new
        files |= set(self.handles[0].pool.keys()) - before

    @precondition(lambda self: bool(self.writers))
    @rule(data=st.data(), commit=st.booleans())
    def writer_ends(self, data: st.DataObject, commit: bool) -> None:
        entry = data.draw(st.sampled_from(self.writers))
        self.writers.remove(entry)
        writer, cat_name, key, pending, _ = entry
        if commit:
            writer.commit()
            self.tables[(cat_name, key)] += pending
        else:
            writer.abort()

    @precondition(lambda self: bool(self.tables))
    @rule(data=st.data())
    def drop(self, data: st.DataObject) -> None:
        cat_name, key = data.draw(st.sampled_from(sorted(self.tables)))
        for entry in [w for w in self.writers if (w[1], w[2]) == (cat_name, key)]:
            entry[0].abort()  # a writer of a dropped table could not commit
            self.writers.remove(entry)
        cat = self.other if cat_name == self.other.name else data.draw(st.sampled_from(self.handles))
        cat.drop_table(key)
        del self.tables[(cat_name, key)]

    @rule(data=st.data())
    def reclaim(self, data: st.DataObject) -> None:
        cat = self.catalogs(data)
        cat.reclaim()
        assert cat.check() == [], "its own orphans are gone, nothing else was touched"

    @rule(size=st.integers(1_000, 200_000))
    def squeeze(self, size: int) -> None:
        """Fill the pool to its quota: reclaim-on-quota runs (for every handle) in the middle of everything."""
        pool = self.handles[0].pool
        pool.set_quota(pool.stats().used + 500)
        with contextlib.suppress(QuotaExceededError):
            pool.put("filler.bin", b"x" * size)
            pool.remove("filler.bin")
        pool.set_quota("1GiB")

    @invariant()
    def nothing_live_is_lost(self) -> None:
        for (cat_name, key), expected in self.tables.items():
            cat = self.other if cat_name == self.other.name else self.handles[-1]
            got = cat.load_table(key).scan().to_arrow().column("id").to_pylist()
            assert sorted(got) == sorted(expected), (cat_name, key)
        pool = self.handles[0].pool
        for _, _, _, _, files in self.writers:
            assert all(pool.entry(f) is not None for f in files), "a writer's flushed files are pinned"
        for cat in (self.handles[0], self.other):
            assert cat.check(allow_unreferenced=True) == []

    def teardown(self) -> None:
        for writer, *_ in self.writers:
            writer.abort()
        for cat_name, key in list(self.tables):
            (self.other if cat_name == self.other.name else self.handles[0]).drop_table(key)
        for cat in (*self.handles, self.other):
            cat.reclaim()
            assert cat.check() == []
        assert self.handles[0].pool.stats().used == 0, "every byte was freed by its owner"
        memcatalog.drop_pool(self.name)


TestOwnershipModel = OwnershipMachine.TestCase
TestOwnershipModel.settings = settings(
    max_examples=5, stateful_step_count=12, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@pytest.mark.slow
def test_ownership_model_long() -> None:
    run = OwnershipMachine.TestCase("runTest")
    run.settings = settings(
        max_examples=150, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
    run.runTest()
