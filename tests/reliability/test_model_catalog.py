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
