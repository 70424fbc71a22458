"""Model-based: random source changes and exports (repeated, failing mid-way, renamed) to a real file:// warehouse.

The source is a MemCatalog whose tables are created, appended to, overwritten, have rows
deleted and columns added. The target is pyiceberg's own SqlCatalog on SQLite with a
``file://`` warehouse in a temporary directory: the oracle side. Every export is checked
against what the source held when it was exported, by pyiceberg through a fresh SqlCatalog
and by DuckDB's ``iceberg_scan`` on the metadata location; the warehouse directory is
walked and must hold exactly the files the target tables reference (and the files that were
there for other reasons, byte for byte). A failure is injected, at a point hypothesis
chooses, into the target FileIO (a create, a write, a close), into the target catalog's
namespace creation or into its registration (before or after the registry took it).
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import duckdb
import hypothesis.strategies as st
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import TableAlreadyExistsError
from pyiceberg.io.pyarrow import PyArrowFileIO
from pyiceberg.table import Table
from pyiceberg.types import StringType

import memcatalog
from memcatalog import MemCatalog
from memcatalog.duckdb import load_extension
from memcatalog.tablecopy import export_table

from .crash import FaultyOutput

SOURCE_TABLES = st.sampled_from(["t1", "t2", "t3"])
TARGET_NAMESPACES = st.sampled_from(["kept", "lake", "mart"])  # "kept" exists before any export
TARGET_NAMES = st.sampled_from(["t1", "t2", "x"])
# Where a failure is injected: the n-th call of a FileIO layer, or one catalog call.
FAULT_POINTS = st.one_of(
    st.tuples(st.sampled_from(["create", "close"]), st.integers(1, 10)),
    st.tuples(st.just("write"), st.integers(1, 40)),
    st.tuples(st.sampled_from(["register-before", "register-after", "namespace-after"]), st.just(1)),
)
FAULTS = st.one_of(st.none(), FAULT_POINTS)
SOURCE_CHANGES = st.sampled_from(["append", "append", "overwrite", "delete", "add-column", "purge"])
STRANGER = "kept/not-a-table/notes.txt"  # someone else's file in the warehouse: must never be touched


class InjectedFault(OSError):
    """The failure this test injects."""


@dataclass
class Injector:
    point: str | None = None
    at: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    fired: bool = False

    def check(self, point: str) -> None:
        self.counts[point] = n = self.counts.get(point, 0) + 1
        if point == self.point and n == self.at and not self.fired:
            self.fired = True
            raise InjectedFault(f"injected failure: {point} call {n}")


@contextlib.contextmanager
def faults(inj: Injector, target: SqlCatalog) -> Iterator[None]:
    """Route the export's target FileIO and the target catalog's namespace and register calls through ``inj``."""
    real_output = PyArrowFileIO.new_output
    real_register, real_namespace = target.register_table, target.create_namespace

    def new_output(self: PyArrowFileIO, location: str) -> Any:
        return FaultyOutput(real_output(self, location), inj)

    def register_table(identifier: Any, metadata_location: str) -> Table:
        inj.check("register-before")
        table = real_register(identifier, metadata_location)
        inj.check("register-after")  # the registry took it; the answer is lost
        return table

    def create_namespace(namespace: Any, properties: Any = None) -> None:
        real_namespace(namespace, properties or {})
        inj.check("namespace-after")

    with (
        mock.patch.object(PyArrowFileIO, "new_output", new_output),
        mock.patch.object(target, "register_table", register_table),
        mock.patch.object(target, "create_namespace", create_namespace),
    ):
        yield


@dataclass
class SourceTable:
    columns: list[str] = field(default_factory=lambda: ["id", "label"])
    rows: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Exported:
    source: str
    rows: list[dict[str, Any]]  # the source's rows when it was exported, sorted by id
    snapshots: list[tuple[int, int | None]]  # (snapshot id, parent id) of the source's history
    metadata_location: str


def _sorted(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: int(r["id"]))


def _local(url: str) -> Path:
    return Path(url.removeprefix("file://"))


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _referenced(table: Table) -> set[str]:
    """Every file the table's metadata reaches: its metadata (and log), manifest lists, manifests, data and delete files."""
    md = table.metadata
    out = {table.metadata_location, *(log.metadata_file for log in md.metadata_log)}
    out.update(s.statistics_path for s in md.statistics)
    for snapshot in md.snapshots:
        out.add(snapshot.manifest_list)
        for manifest in snapshot.manifests(table.io):
            out.add(manifest.manifest_path)
            out.update(e.data_file.file_path for e in manifest.fetch_manifest_entry(table.io, discard_deleted=True))
    return out


class ExportMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="mc-export-model-"))
        self.warehouse = self.dir / "wh"
        self.warehouse.mkdir()
        self.source = MemCatalog(f"xm{uuid.uuid4().hex[:8]}")
        self.source.create_namespace("db")
        self.target = self._target()
        self.target.create_namespace("kept")
        stranger = self.warehouse / STRANGER
        stranger.parent.mkdir(parents=True)
        stranger.write_bytes(b"not part of any table\n")
        self.tables: dict[str, SourceTable] = {}
        self.exports: dict[tuple[str, ...], Exported] = {}
        self.namespaces: set[tuple[str, ...]] = {("kept",)}
        self.others: dict[str, bytes] = {STRANGER: stranger.read_bytes()}  # files no target table references
        self.next_id = 0
        self.next_column = 0
        self.con = duckdb.connect(config={"allow_unsigned_extensions": "true"})
        load_extension(self.con, "iceberg")
        self.creates_seen = 0
        self.audit = True

    def _target(self) -> SqlCatalog:
        return SqlCatalog("prod", uri=f"sqlite:///{self.dir}/prod.db", warehouse=f"file://{self.warehouse}")

    # ---- the source ----------------------------------------------------------------------

    def _batch(self, name: str, n: int) -> pa.Table:
        model = self.tables[name]
        ids = list(range(self.next_id, self.next_id + n))
        self.next_id += n
        rows = [{c: (i if c == "id" else f"{c}-{i}") for c in model.columns} for i in ids]
        schema = pa.schema(
            [pa.field("id", pa.int64(), nullable=False), *(pa.field(c, pa.string()) for c in model.columns[1:])]
        )
        return pa.Table.from_pylist(rows, schema=schema)

    @initialize(n=st.integers(1, 8))
    def first_table(self, n: int) -> None:
        """A table with rows from the start, so that every rule has something to work on."""
        self.create_table("t1")
        self._append("t1", n)

    def create_table(self, name: str) -> None:
        schema = pa.schema([pa.field("id", pa.int64(), nullable=False), pa.field("label", pa.string())])
        self.source.create_table(("db", name), schema)
        self.tables[name] = SourceTable()

    def _append(self, name: str, n: int) -> None:
        batch = self._batch(name, n)
        self.source.load_table(("db", name)).append(batch)
        self.tables[name].rows += batch.to_pylist()

    @rule(data=st.data(), name=SOURCE_TABLES, change=SOURCE_CHANGES, n=st.integers(0, 6))
    def change_source(self, data: st.DataObject, name: str, change: str, n: int) -> None:
        """Create, append to, overwrite, delete rows of, add a column to or purge a source table."""
        if name not in self.tables:
            self.create_table(name)
            return
        model, table = self.tables[name], self.source.load_table(("db", name))
        if change == "append":
            self._append(name, n + 1)
        elif change == "overwrite":
            batch = self._batch(name, n)
            table.overwrite(batch)
            model.rows = batch.to_pylist()
        elif change == "delete" and model.rows:
            cut = data.draw(st.sampled_from(sorted(int(r["id"]) for r in model.rows)))
            table.delete(f"id < {cut}")
            model.rows = [r for r in model.rows if int(r["id"]) >= cut]
        elif change == "add-column":
            column = f"c{self.next_column}"
            self.next_column += 1
            table.update_schema().add_column(column, StringType()).commit()
            model.columns.append(column)
            model.rows = [{**row, column: None} for row in model.rows]  # new dicts: exports keep the old rows
        elif change == "purge":  # exports are copies: purging their source leaves them whole
            self.source.purge_table(("db", name))
            del self.tables[name]

    # ---- exports -------------------------------------------------------------------------

    def _export(self, name: str, identifier: tuple[str, ...] | None, fault: tuple[str, int] | None) -> None:
        key = identifier or ("db", name)
        self.audit = True
        before_tree = _tree(self.warehouse)
        before_namespaces = set(self.target.list_namespaces())
        inj = Injector(*(fault or (None, 0)))
        error: BaseException | None = None
        with faults(inj, self.target):
            try:
                table = export_table(self.source, ("db", name), self.target, target_identifier=identifier)
            except (TableAlreadyExistsError, InjectedFault) as e:
                error = e
        event(f"export: {'again' if key in self.exports else 'new'}, {inj.point if inj.fired else 'no'} fault")
        source = self.source.load_table(("db", name))
        if key in self.exports:  # a repeated export: refused before a byte is written
            assert isinstance(error, TableAlreadyExistsError), f"exporting again to {key} gave {error!r}"
            assert ".".join(key) in str(error) and "already exists" in str(error)
            assert not inj.fired and inj.counts.get("create", 0) == 0, inj.counts
        elif inj.fired and inj.point != "register-after":  # failed mid-way: the export is undone
            assert isinstance(error, InjectedFault), f"the injected {inj.point} failure was swallowed: {error!r}"
        else:  # a complete export (a lost answer from a registry that took the table is one too)
            assert error is None, f"export failed without a failure injected: {error!r}"
            assert table.metadata_location.startswith(f"file://{self.warehouse}/")
            self.creates_seen += inj.counts.get("create", 0)
            self.exports[key] = Exported(
                name,
                _sorted([dict(r) for r in self.tables[name].rows]),
                [(s.snapshot_id, s.parent_snapshot_id) for s in source.snapshots()],
                table.metadata_location,
            )
            self.namespaces.add(key[:-1])
            return
        assert _tree(self.warehouse) == before_tree, "a refused or failed export changed the warehouse"
        assert set(self.target.list_namespaces()) == before_namespaces
        assert not self.target.table_exists(key) or key in self.exports

    @precondition(lambda self: bool(self.tables))
    @rule(data=st.data(), renamed=st.booleans(), ns=TARGET_NAMESPACES, new=TARGET_NAMES, fault=FAULTS)
    def export(self, data: st.DataObject, renamed: bool, ns: str, new: str, fault: tuple[str, int] | None) -> None:
        name = data.draw(st.sampled_from(sorted(self.tables)))
        self._export(name, (ns, new) if renamed else None, fault)

    @precondition(lambda self: bool(self.tables))
    @rule(data=st.data(), renamed=st.booleans(), ns=TARGET_NAMESPACES, new=TARGET_NAMES, fault=FAULT_POINTS)
    def export_failing(self, data: st.DataObject, renamed: bool, ns: str, new: str, fault: tuple[str, int]) -> None:
        """An export with a failure injected (if the export reaches the injection point)."""
        self.export(data, renamed, ns, new, fault)

    @precondition(lambda self: bool(self.tables) and bool(self.exports))
    @rule(data=st.data(), fault=FAULTS)
    def export_again(self, data: st.DataObject, fault: tuple[str, int] | None) -> None:
        """To a target table that an earlier export made, from the same or another source table."""
        key = data.draw(st.sampled_from(sorted(self.exports)))
        name = data.draw(st.sampled_from(sorted(self.tables)))
        self._export(name, None if key == ("db", name) else key, fault)

    @precondition(lambda self: bool(self.exports))
    @rule(data=st.data(), purge=st.booleans())
    def drop_target(self, data: st.DataObject, purge: bool) -> None:
        """Purged, its files go; dropped, they stay in the warehouse (and no later export may touch them)."""
        key = data.draw(st.sampled_from(sorted(self.exports)))
        self.audit = True
        files = _referenced(self.target.load_table(key))
        if purge:
            self.target.purge_table(key)
        else:
            self.target.drop_table(key)
            for f in files:
                relative = str(_local(f).relative_to(self.warehouse))
                self.others[relative] = _local(f).read_bytes()
        del self.exports[key]

    # ---- invariants ----------------------------------------------------------------------

    @invariant()
    def source_is_healthy(self) -> None:
        for name, model in self.tables.items():
            got = self.source.load_table(("db", name)).scan().to_arrow().to_pylist()
            assert _sorted(got) == _sorted(model.rows), name
        assert self.source.pool.stats().reserved == 0
        if (
            self.audit
        ):  # the full audit (the costly part) after every export and drop; source changes are test_model_catalog's
            assert self.source.check() == []
            self.audit = False

    @invariant()
    def exports_match_the_source_at_export_time(self) -> None:
        fresh = self._target()  # what the registry and the warehouse hold, not what a Python object remembers
        try:
            referenced: set[str] = set()
            for key, exported in self.exports.items():
                table = fresh.load_table(key)
                assert table.metadata_location == exported.metadata_location
                assert [(s.snapshot_id, s.parent_snapshot_id) for s in table.snapshots()] == exported.snapshots
                assert _sorted(table.scan().to_arrow().to_pylist()) == exported.rows, key
                location = exported.metadata_location.replace("'", "''")
                by_duckdb = self.con.sql(f"SELECT * FROM iceberg_scan('{location}')").to_arrow_table()
                assert _sorted(by_duckdb.to_pylist()) == exported.rows, f"DuckDB disagrees on {key}"
                referenced |= _referenced(table)
            listed = {tuple(t) for ns in fresh.list_namespaces() for t in fresh.list_tables(ns)}
            assert listed == set(self.exports)
            assert {tuple(n) for n in fresh.list_namespaces()} == self.namespaces, "a failed export left a namespace"
        finally:
            fresh.close()
        on_disk = _tree(self.warehouse)
        wanted = {str(_local(f).relative_to(self.warehouse)) for f in referenced}
        missing = sorted(wanted - set(on_disk))
        assert not missing, f"files the target tables reference are gone: {missing}"
        stray = sorted(set(on_disk) - wanted - set(self.others))
        assert not stray, f"files no target table references: {stray}"
        changed = sorted(f for f, b in self.others.items() if on_disk.get(f) != b)
        assert not changed, f"files that are not an export's were changed or deleted: {changed}"

    def teardown(self) -> None:
        try:
            assert self.source.check() == []
            if self.exports:
                assert self.creates_seen > 0, "the FileIO faults were never in the export's path"
        finally:
            self.con.close()
            self.target.close()
            self.source.close()
            memcatalog.drop_pool(self.source.pool.name)
            shutil.rmtree(self.dir, ignore_errors=True)


TestExportModel = ExportMachine.TestCase
TestExportModel.settings = settings(
    max_examples=5, stateful_step_count=6, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@pytest.mark.slow
class TestExportModelLong(ExportMachine.TestCase):  # type: ignore[misc, valid-type]
    settings = settings(
        max_examples=40, stateful_step_count=20, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
