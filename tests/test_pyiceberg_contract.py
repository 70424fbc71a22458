"""What memcatalog/pyiceberg_internals.py relies on in pyiceberg's private API, checked against the installed pyiceberg.

A pyiceberg release that renames or changes one of these fails here, by name,
instead of deep inside a REST request or a commit: read the failing section of
memcatalog/pyiceberg_internals.py before upgrading.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa
import pytest
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.table import Table, Transaction
from pyiceberg.table.metadata import TableMetadata, TableMetadataV1
from pyiceberg.transforms import IdentityTransform
from pyiceberg.types import LongType

import memcatalog
from memcatalog import MemCatalog, drop_pool, pyiceberg_internals
from memcatalog import pyiceberg_internals as internals
from memcatalog.pyiceberg_internals import FlatTable, FlatTransaction

# ---- issue 16: the REST server ---------------------------------------------------------


def test_empty_table_metadata_is_the_base_of_a_creating_commit() -> None:
    metadata = pyiceberg_internals.empty_table_metadata()
    assert isinstance(metadata, TableMetadataV1)
    assert metadata.last_column_id == -1 and metadata.format_version == 1


def test_resolve_table_location_matches_create_table() -> None:
    cat = MemCatalog(f"pc{uuid.uuid4().hex[:8]}")
    cat.create_namespace("db")
    resolved = pyiceberg_internals.resolve_table_location(cat, None, "db", "t")
    assert cat.create_table("db.t", pa.schema([("a", pa.int64())])).metadata.location == resolved
    assert pyiceberg_internals.resolve_table_location(cat, "memcat://x/y/", "db", "t") == "memcat://x/y"
    memcatalog.drop_pool(cat.pool.name)


def test_table_row_and_type_filter_and_schema_version() -> None:
    cat = MemCatalog(f"pc{uuid.uuid4().hex[:8]}")
    row = pyiceberg_internals.table_row(cat, "db", "t", "memcat://x/m.json")
    assert row == {
        "catalog_name": cat.name,
        "table_namespace": "db",
        "table_name": "t",
        "metadata_location": "memcat://x/m.json",
        "previous_metadata_location": None,
        "iceberg_type": "TABLE",
    }
    assert pyiceberg_internals.table_type_filter(cat) is not None
    assert pyiceberg_internals.schema_version(cat) == "v1"
    memcatalog.drop_pool(cat.pool.name)


# ---- section: flat-cost metadata updates ----------------------------------------------------------------------


@pytest.fixture
def catalog() -> Iterator[MemCatalog]:
    name = f"contract_{uuid.uuid4().hex[:8]}"
    cat = MemCatalog(name)
    cat.create_namespace("db")
    yield cat
    drop_pool(cat.pool.name)


def _data(start: int, n: int = 3) -> pa.Table:
    return pa.table({"id": pa.array(range(start, start + n), pa.int64()), "s": [f"v{i}" for i in range(n)]})


def _comparable(metadata: TableMetadata) -> dict[str, Any]:
    # last_updated_ms is stamped with "now" on every read by pyiceberg's own property: not comparable
    return metadata.model_dump(exclude={"last_updated_ms"})


def _pyiceberg_metadata(tx: Transaction) -> TableMetadata:
    """What pyiceberg's own Transaction.table_metadata computes for this transaction."""
    prop = Transaction.__dict__["table_metadata"]
    assert isinstance(prop, property) and prop.fget is not None
    result: TableMetadata = prop.fget(tx)
    return result


def test_the_contract_holds_on_the_installed_pyiceberg() -> None:
    problem = internals.check_flat_updates()
    assert problem is None, f"{problem}: memcatalog's flat-cost commits are off (see pyiceberg_internals.py)"
    assert internals.FLAT_UPDATES.holds


def test_the_check_notices_a_changed_commit_path(monkeypatch: pytest.MonkeyPatch) -> None:
    def commit_table(self: SqlCatalog, table: Table, requirements: Any, updates: Any) -> Any:
        raise NotImplementedError

    monkeypatch.setattr(SqlCatalog, "commit_table", commit_table)
    problem = internals.check_flat_updates()
    assert problem is not None and "_update_and_stage_table" in problem


def test_the_check_notices_a_transaction_that_no_longer_keeps_its_updates(monkeypatch: pytest.MonkeyPatch) -> None:
    def stage(self: Transaction, updates: Any, requirements: Any = ()) -> Transaction:
        self._pending = updates  # type: ignore[attr-defined]
        return self

    monkeypatch.setattr(Transaction, "_stage", stage)
    problem = internals.check_flat_updates()
    assert problem is not None and "_updates" in problem


def test_flat_table_metadata_equals_pyiceberg_replay_at_every_step(catalog: MemCatalog) -> None:
    table = catalog.create_table("db.t", _data(0).schema)
    table.append(_data(0))
    tx = table.transaction()
    assert isinstance(tx, FlatTransaction)
    steps = [
        lambda: tx.set_properties(a="1"),
        lambda: tx.append(_data(10)),
        lambda: tx.update_schema().add_column("extra", LongType()).commit(),
        lambda: tx.append(pa.table({"id": pa.array([7], pa.int64()), "s": ["x"], "extra": pa.array([1], pa.int64())})),
        lambda: tx.delete("id = 11"),
        lambda: tx.update_spec().add_field("id", IdentityTransform(), "id_part").commit(),
        lambda: tx.remove_properties("a"),
    ]
    for step in steps:
        step()
        assert _comparable(tx.table_metadata) == _comparable(_pyiceberg_metadata(tx))
    tx.commit_transaction()
    assert table.scan().to_arrow().num_rows == 3 + 3 + 1 - 1


def test_flat_reads_share_the_unchanged_metadata_instead_of_copying_it(catalog: MemCatalog) -> None:
    table = catalog.create_table("db.t", _data(0).schema)
    for i in range(3):
        table.append(_data(i * 10))
    tx = table.transaction()
    tx.set_properties(x="y")
    flat = tx.table_metadata
    assert flat.snapshots[0] is table.metadata.snapshots[0]  # shared, where pyiceberg's property deep-copies
    assert _pyiceberg_metadata(tx).snapshots[0] is not table.metadata.snapshots[0]
    assert flat.properties["x"] == "y" and "x" not in table.metadata.properties


def test_a_failing_update_fails_every_read_like_pyiceberg(catalog: MemCatalog) -> None:
    from pyiceberg.table.update import SetCurrentSchemaUpdate

    table = catalog.create_table("db.t", _data(0).schema)
    tx = table.transaction()
    tx._stage((SetCurrentSchemaUpdate(schema_id=42),))
    for _ in range(2):
        with pytest.raises(ValueError, match="Schema with id 42 does not exist"):
            _ = tx.table_metadata
        with pytest.raises(ValueError, match="Schema with id 42 does not exist"):
            _pyiceberg_metadata(tx)


def test_every_table_the_catalog_hands_out_is_flat(catalog: MemCatalog) -> None:
    schema = _data(0).schema
    created = catalog.create_table("db.a", schema)
    assert isinstance(created, FlatTable)
    assert isinstance(catalog.load_table("db.a"), FlatTable)
    assert isinstance(catalog.create_table_if_not_exists("db.a", schema), FlatTable)
    assert isinstance(catalog.rename_table("db.a", "db.b"), FlatTable)
    registered = catalog.register_table("db.c", catalog.load_table("db.b").metadata_location)
    assert isinstance(registered, FlatTable)
    table = catalog.load_table("db.b")
    table.append(_data(0))
    assert isinstance(table, FlatTable) and isinstance(table.refresh(), FlatTable)
    builders = [
        table.update_schema(),
        table.manage_snapshots(),
        table.update_spec(),
        table.update_sort_order(),
        table.update_statistics(),
        table.maintenance.expire_snapshots(),
    ]
    for builder in builders:
        assert isinstance(builder._transaction, FlatTransaction), type(builder).__name__
    writer = catalog.writer("db.b")
    assert isinstance(writer.table, FlatTable)  # the writer commits through table.transaction()
    writer.write(_data(3))
    writer.commit()
    tx = catalog.create_table_transaction("db.d", schema)
    assert isinstance(tx, FlatTransaction)
    tx.append(_data(0))
    committed = tx.commit_transaction()
    assert isinstance(committed, FlatTable)
    assert catalog.load_table("db.d").scan().to_arrow().num_rows == 3


def test_flat_table_overrides_every_pyiceberg_method_that_opens_a_transaction() -> None:
    """A new pyiceberg shorthand opening ``Transaction(self, ...)`` itself would bypass FlatTable: name it here."""
    import ast
    import inspect
    import textwrap

    from pyiceberg.table.maintenance import MaintenanceTable

    from memcatalog.pyiceberg_internals import _FlatMaintenance

    for cls, flat in ((Table, FlatTable), (MaintenanceTable, _FlatMaintenance)):
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
        opening = {
            node.name
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef)
            and any(
                isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "Transaction"
                for call in ast.walk(node)
            )
        }
        assert opening, f"{cls.__name__}: no method opens a Transaction any more; recheck FlatTable"
        missing = {name for name in opening if name not in flat.__dict__}
        assert not missing, (
            f"{cls.__name__}.{sorted(missing)} open a plain Transaction; override them in {flat.__name__}"
        )
        for name in opening:
            ours, theirs = inspect.signature(getattr(flat, name)), inspect.signature(getattr(cls, name))
            assert ours == theirs, f"{cls.__name__}.{name}: pyiceberg's signature is now {theirs}, ours {ours}"


def test_commits_apply_their_updates_through_the_flat_path(
    catalog: MemCatalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    original = internals.apply_updates

    def counting(*args: Any, **kwargs: Any) -> TableMetadata:
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(internals, "apply_updates", counting)
    table = catalog.create_table("db.t", _data(0).schema)
    table.append(_data(0))
    table.update_schema().add_column("extra", LongType()).commit()
    assert len(calls) == 2
    committed = catalog.load_table("db.t").metadata
    assert committed.snapshots[0] is table.metadata.snapshots[0]  # the catalog shared, not copied


def test_without_the_contract_everything_falls_back_to_pyiceberg(
    catalog: MemCatalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(internals.FLAT_UPDATES, "problem", "simulated: pyiceberg changed")
    table = catalog.create_table("db.t", _data(0).schema)
    assert type(table) is Table
    assert type(table.transaction()) is Transaction
    table.append(_data(0))
    table.update_schema().add_column("extra", LongType()).commit()
    tx = catalog.create_table_transaction("db.u", _data(0).schema)
    assert not isinstance(tx, FlatTransaction)
    tx.commit_transaction()
    assert catalog.load_table("db.t").scan().to_arrow().num_rows == 3
    assert [f.name for f in catalog.load_table("db.t").schema().fields] == ["id", "s", "extra"]


# ---- section: metadata JSON with cached snapshots ---------------------------------------------------------------


def test_the_metadata_json_contract_holds_on_the_installed_pyiceberg() -> None:
    problem = internals.check_metadata_json()
    assert problem is None, f"{problem}: metadata files are written by pyiceberg's slower serializer"
    assert internals.METADATA_JSON.holds


def test_metadata_files_are_byte_for_byte_pyicebergs(catalog: MemCatalog, tmp_path: Any) -> None:
    from pyiceberg.io.pyarrow import PyArrowFileIO
    from pyiceberg.serializers import ToOutputFile

    table = catalog.create_table("db.t", _data(0).schema)
    for i in range(4):
        table.append(_data(i * 10))
    table.manage_snapshots().create_tag(table.snapshots()[1].snapshot_id, "t1").commit()
    # expiring the first snapshot rewrites its child with no parent: a new object, serialised anew
    table.maintenance.expire_snapshots().by_id(table.snapshots()[0].snapshot_id).commit()
    io = PyArrowFileIO()
    for n, metadata in enumerate([table.metadata, catalog.load_table("db.t").metadata]):
        ours, theirs = tmp_path / f"ours{n}.json", tmp_path / f"theirs{n}.json"
        internals.write_table_metadata(metadata, io.new_output(str(ours)))
        ToOutputFile.table_metadata(metadata, io.new_output(str(theirs)))
        assert ours.read_bytes() == theirs.read_bytes()
    written = table.io.new_input(table.metadata_location).open().read()
    assert written == metadata.model_dump_json().encode()
    assert table.snapshots()[0].parent_snapshot_id is None


def test_metadata_files_extending_the_previous_one_are_pyicebergs_json(catalog: MemCatalog) -> None:
    """Appends add one snapshot, overwrites two, expiry removes some: each file is still pyiceberg's JSON."""
    table = catalog.create_table("db.t", _data(0).schema)
    steps: list[Callable[[], Any]] = [
        lambda: table.append(_data(1)),
        lambda: table.append(_data(2)),
        lambda: table.overwrite(_data(3)),
        lambda: table.append(_data(4)),
        lambda: table.maintenance.expire_snapshots().by_id(table.snapshots()[1].snapshot_id).commit(),
        lambda: table.append(_data(5)),
        lambda: table.manage_snapshots().create_tag(table.snapshots()[0].snapshot_id, "first").commit(),
        lambda: table.append(_data(6)),
    ]
    for step in steps:
        step()
        written = table.io.new_input(table.metadata_location).open().read()
        assert written == table.metadata.model_dump_json().encode()
        assert written == catalog.load_table("db.t").metadata.model_dump_json().encode()


def test_the_metadata_json_check_notices_a_changed_layout(monkeypatch: pytest.MonkeyPatch) -> None:
    from pyiceberg.table.snapshots import Snapshot

    original = Snapshot.model_dump_json

    def renamed(self: Snapshot, **kwargs: Any) -> str:
        return original(self, **kwargs).replace('"snapshot-id"', '"id"')

    monkeypatch.setattr(Snapshot, "model_dump_json", renamed)
    problem = internals.check_metadata_json()
    assert problem is not None and "spliced" in problem


# ---- section: manifest lists reusing their parent's encoding --------------------------------------------------


def test_the_manifest_list_contract_holds_and_is_installed() -> None:
    import pyiceberg.table.snapshots as snapshots
    import pyiceberg.table.update.snapshot as snapshot_update

    problem = internals.check_manifest_lists()
    assert problem is None, f"{problem}: manifest lists are written by pyiceberg's slower path"
    assert snapshots._manifests is internals.cached_manifests
    assert snapshot_update.write_manifest_list is internals.write_manifest_list


def test_the_manifest_list_check_notices_a_changed_writer(monkeypatch: pytest.MonkeyPatch) -> None:
    from pyiceberg.manifest import ManifestFile, ManifestListWriter

    def add_manifests(self: ManifestListWriter, manifest_files: list[ManifestFile]) -> ManifestListWriter:
        for manifest in manifest_files:  # a release that writes a block per manifest
            self._writer.write_block([self.prepare_manifest(manifest)])
        return self

    monkeypatch.setattr(ManifestListWriter, "add_manifests", add_manifests)
    problem = internals.check_manifest_lists()
    assert problem is not None and "add_manifests" in problem


def test_the_manifest_list_check_notices_a_changed_read_path(monkeypatch: pytest.MonkeyPatch) -> None:
    import pyiceberg.table.snapshots as snapshots

    monkeypatch.setattr(snapshots, "_manifests", lambda io, manifest_list: ())
    problem = internals.check_manifest_lists()
    assert problem is not None and "_manifests" in problem


def test_the_reused_manifest_list_equals_what_pyicebergs_writer_writes(catalog: MemCatalog, tmp_path: Any) -> None:
    """The kept tuple of a list made of reused blocks == pyiceberg's writer given the same manifests, read back."""
    from pyiceberg.io.pyarrow import PyArrowFileIO
    from pyiceberg.manifest import read_manifest_list, write_manifest_list

    table = catalog.create_table("db.t", _data(0).schema)
    for i in range(11):  # 11 entries: blocks of 1, 2 and 8 in the last list
        table.append(_data(i * 10))
    io = PyArrowFileIO()
    for n, snapshot in enumerate(table.snapshots()):
        kept = list(snapshot.manifests(table.io))
        theirs = str(tmp_path / f"theirs{n}.avro")
        with write_manifest_list(2, io.new_output(theirs), snapshot.snapshot_id, snapshot.parent_snapshot_id,
                                 snapshot.sequence_number, "gzip") as writer:  # fmt: skip
            writer.add_manifests(kept)
        assert list(read_manifest_list(io.new_input(theirs))) == kept
        assert list(read_manifest_list(table.io.new_input(snapshot.manifest_list))) == kept
        assert len(kept) == n + 1


def test_without_the_manifest_list_contract_pyiceberg_reads_and_writes(
    catalog: MemCatalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pyiceberg.manifest import ManifestListWriterV2

    table = catalog.create_table("db.t", _data(0).schema)
    table.append(_data(0))
    monkeypatch.setattr(internals.MANIFEST_LISTS, "problem", "simulated: pyiceberg changed")
    location = f"{table.metadata.location}/metadata/snap-probe.avro"
    writer = internals.write_manifest_list(2, table.io.new_output(location), 1, None, 1, "gzip")
    assert type(writer) is ManifestListWriterV2
    calls: list[str] = []
    original = internals._PYICEBERG_MANIFESTS

    def counting(io: Any, manifest_list: str) -> Any:
        calls.append(manifest_list)
        return original(io, manifest_list)

    monkeypatch.setattr(internals, "_PYICEBERG_MANIFESTS", counting)
    snapshot = table.current_snapshot()
    assert snapshot is not None
    assert len(snapshot.manifests(table.io)) == 1 and calls == [snapshot.manifest_list]
    table.append(_data(10))
    assert catalog.load_table("db.t").scan().to_arrow().num_rows == 6


# ---- section: snapshot lookup by id ------------------------------------------------------------------------------


def test_snapshot_lookup_by_id_finds_what_pyicebergs_scan_finds(catalog: MemCatalog) -> None:
    from pyiceberg.table.metadata import TableMetadataCommonFields

    assert internals.check_snapshot_index() is None
    assert TableMetadataCommonFields.snapshot_by_id is internals.snapshot_by_id
    table = catalog.create_table("db.t", _data(0).schema)
    for i in range(internals._INDEXED_FROM + 3):
        table.append(_data(i))
    ids = [s.snapshot_id for s in table.metadata.snapshots]
    for metadata in (table.metadata, catalog.load_table("db.t").metadata):
        for snapshot_id in [*ids, 12345, -1]:
            found = metadata.snapshot_by_id(snapshot_id)
            assert found is internals._PYICEBERG_SNAPSHOT_BY_ID(metadata, snapshot_id)
            assert (found is None) == (snapshot_id not in ids)
    table.maintenance.expire_snapshots().by_ids(ids[:5]).commit()  # a new, shorter list: a new index
    assert all(table.metadata.snapshot_by_id(i) is None for i in ids[:5])
    assert all(table.metadata.snapshot_by_id(i).snapshot_id == i for i in ids[5:])  # type: ignore[union-attr]


def test_the_snapshot_lookup_check_notices_a_changed_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    def by_last(self: Any, snapshot_id: int) -> Any:
        return next((s for s in reversed(self.snapshots) if s.snapshot_id == snapshot_id), None)

    monkeypatch.setattr(internals, "_PYICEBERG_SNAPSHOT_BY_ID", by_last)
    problem = internals.check_snapshot_index()
    assert problem is not None and "snapshot_by_id" in problem


# ---- section: the catalog and the writer (issue 14) ------------------------------------------------------------


def test_init_sql_catalog_sets_everything_sqlcatalogs_own_init_sets(tmp_path: Any) -> None:
    from sqlalchemy import create_engine

    props = {"uri": f"sqlite:///{tmp_path}/registry.db", "warehouse": f"file://{tmp_path}/wh"}
    theirs = SqlCatalog("c", **props)
    ours = SqlCatalog.__new__(SqlCatalog)
    internals.init_sql_catalog(ours, "c", props, lambda p: create_engine(p["uri"]))
    assert set(vars(ours)) == set(vars(theirs)), "SqlCatalog.__init__ now sets attributes MemCatalog does not"
    assert ours.properties == theirs.properties
    assert internals.schema_version(ours) == internals.schema_version(theirs) == "v1"
    ours.create_namespace("db")  # the registry tables exist in ours' engine, and it is the same database
    assert theirs.list_namespaces() == [("db",)]


def test_memcatalog_keeps_its_own_engine() -> None:
    cat = MemCatalog(f"pc{uuid.uuid4().hex[:8]}")
    try:
        cat.create_namespace("db")
        # in-memory SQLite: a second engine would be another, empty database
        assert cat.list_namespaces() == [("db",)]
        assert internals.schema_version(cat) == "v1"
    finally:
        drop_pool(cat.pool.name)


def test_to_iceberg_schema_gives_the_schema_create_table_gives(tmp_path: Any) -> None:
    from pyiceberg.schema import assign_fresh_schema_ids

    arrow = pa.schema(
        [
            pa.field("id", pa.int64(), nullable=False),
            pa.field("tags", pa.list_(pa.string())),
            pa.field("point", pa.struct([("x", pa.float64()), ("y", pa.float64())])),
            pa.field("attrs", pa.map_(pa.string(), pa.int32())),
        ]
    )
    sql = SqlCatalog("c", uri=f"sqlite:///{tmp_path}/r.db", warehouse=f"file://{tmp_path}/wh")
    sql.create_namespace("db")
    for version in (1, 2):
        created = sql.create_table(f"db.t{version}", arrow, properties={"format-version": str(version)})
        # the table's schema is the converted one with fresh field ids, as new_table_metadata assigns them
        assert assign_fresh_schema_ids(internals.to_iceberg_schema(arrow, version)) == created.schema()
    iceberg = internals.to_iceberg_schema(arrow)
    assert internals.to_iceberg_schema(iceberg) is iceberg


class _Recording(internals.MetadataWriteHook, SqlCatalog):
    written: list[str]

    def write_metadata_file(self, metadata: TableMetadata, io: Any, metadata_path: str) -> None:
        self.__dict__.setdefault("written", []).append(metadata_path)
        super().write_metadata_file(metadata, io, metadata_path)


def test_every_metadata_file_pyiceberg_writes_goes_through_the_hook(tmp_path: Any) -> None:
    cat = _Recording("c", uri=f"sqlite:///{tmp_path}/r.db", warehouse=f"file://{tmp_path}/wh")
    cat.create_namespace("db")
    table = cat.create_table("db.t", _data(0).schema)
    locations = [table.metadata_location]
    table.append(_data(0))
    locations.append(table.metadata_location)
    with cat.create_table_transaction("db.u", _data(0).schema) as tx:
        tx.append(_data(3))
    locations.append(cat.load_table("db.u").metadata_location)
    assert set(locations) <= set(cat.written)
    for path in cat.written:  # and the hook really wrote them: pyiceberg reads them back
        assert table.io.new_input(path).exists()


def test_write_data_files_writes_without_committing(catalog: MemCatalog) -> None:
    import itertools

    table = catalog.create_table("db.t", _data(0).schema)
    write_uuid = uuid.uuid4()
    files = internals.write_data_files(table.metadata, _data(0, 7), table.io, write_uuid, itertools.count())
    assert [type(f).__name__ for f in files] == ["DataFile"] and sum(f.record_count for f in files) == 7
    assert all(str(write_uuid) in f.file_path and table.io.new_input(f.file_path).exists() for f in files)
    assert catalog.load_table("db.t").current_snapshot() is None  # nothing committed
    with table.transaction() as tx, tx.update_snapshot().fast_append() as append:
        for f in files:
            append.append_data_file(f)
    assert catalog.load_table("db.t").scan().to_arrow().sort_by("id").equals(_data(0, 7))


@pytest.mark.parametrize("version", [1, 2])
def test_records_copied_through_public_constructors_equal_the_originals(catalog: MemCatalog, version: int) -> None:
    table = catalog.create_table(f"db.v{version}", _data(0).schema, properties={"format-version": str(version)})
    table.append(_data(0))
    manifest = table.current_snapshot().manifests(table.io)[0]  # type: ignore[union-attr]
    assert internals.manifest_file_with(manifest) == manifest
    moved = internals.manifest_file_with(manifest, manifest_path="memcat://x/m.avro", manifest_length=7)
    assert (moved.manifest_path, moved.manifest_length) == ("memcat://x/m.avro", 7)
    assert moved.added_snapshot_id == manifest.added_snapshot_id and moved.partitions == manifest.partitions
    data_file = next(iter(manifest.fetch_manifest_entry(table.io))).data_file
    assert internals.data_file_with(data_file) == data_file
    copy = internals.data_file_with(data_file, file_path="memcat://x/d.parquet")
    assert copy.file_path == "memcat://x/d.parquet" and copy.record_count == data_file.record_count
    assert copy.spec_id == data_file.spec_id and copy.column_sizes == data_file.column_sizes


def test_a_field_pyiceberg_does_not_have_is_refused(catalog: MemCatalog) -> None:
    table = catalog.create_table("db.t", _data(0).schema)
    table.append(_data(0))
    manifest = table.current_snapshot().manifests(table.io)[0]  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="no field 'path'"):
        internals.manifest_file_with(manifest, path="x")
    with pytest.raises(ValueError, match="no field 'path'"):
        internals.data_file_with(next(iter(manifest.fetch_manifest_entry(table.io))).data_file, path="x")


@pytest.mark.parametrize("version", [1, 2])
def test_a_table_copied_with_these_records_reads_back_the_same(catalog: MemCatalog, version: int) -> None:
    source = catalog.create_table("db.src", _data(0).schema, properties={"format-version": str(version)})
    source.append(_data(0))
    source.append(_data(10))
    copied = memcatalog.import_table(catalog, "db.copy", catalog.load_table("db.src"))
    assert copied.scan().to_arrow().sort_by("id").equals(source.scan().to_arrow().sort_by("id"))
    assert [s.snapshot_id for s in copied.snapshots()] == [s.snapshot_id for s in source.snapshots()]
    assert all(f.startswith(copied.location()) for f in _data_files(copied))


def _data_files(table: Table) -> list[str]:
    return [task.file.file_path for task in table.scan().plan_files()]


def test_delete_manifest_writer_writes_a_delete_manifest() -> None:
    """tablecopy rewrites delete manifests with pyiceberg's V2 writer, told that its content is DELETES."""
    import tempfile

    from pyiceberg.io.pyarrow import PyArrowFileIO
    from pyiceberg.manifest import (
        DataFile,
        DataFileContent,
        FileFormat,
        ManifestContent,
        ManifestEntry,
        ManifestEntryStatus,
    )
    from pyiceberg.partitioning import UNPARTITIONED_PARTITION_SPEC
    from pyiceberg.schema import Schema
    from pyiceberg.typedef import Record
    from pyiceberg.types import LongType, NestedField

    from memcatalog.pyiceberg_internals import delete_manifest_writer

    schema = Schema(NestedField(1, "id", LongType(), required=True))
    path = f"{tempfile.mkdtemp()}/m.avro"
    deletes = DataFile.from_args(
        content=DataFileContent.POSITION_DELETES,
        file_path="file:///x-deletes.parquet",
        file_format=FileFormat.PARQUET,
        partition=Record(),
        record_count=1,
        file_size_in_bytes=10,
    )
    entry = ManifestEntry.from_args(status=ManifestEntryStatus.ADDED, snapshot_id=1, data_file=deletes)
    with delete_manifest_writer(2, UNPARTITIONED_PARTITION_SPEC, schema, PyArrowFileIO().new_output(path), 1) as w:
        w.add_entry(entry)
    manifest = w.to_manifest_file()
    assert manifest.content == ManifestContent.DELETES
    with open(path, "rb") as f:
        assert b"\x0econtent\x0edeletes" in f.read(4096), "the Avro header must say content=deletes"
    read = manifest.fetch_manifest_entry(PyArrowFileIO(), discard_deleted=False)
    assert [e.data_file.content for e in read] == [DataFileContent.POSITION_DELETES]


def test_table_properties_cannot_replace_the_owner_in_a_file_io(catalog: MemCatalog) -> None:
    """CatalogFileIOKeys overrides MetastoreCatalog._load_file_io(properties, location)."""
    import inspect

    from pyiceberg.catalog import MetastoreCatalog

    from memcatalog.ownership import OWNER

    assert list(inspect.signature(MetastoreCatalog._load_file_io).parameters) == ["self", "properties", "location"]
    for staging in (MetastoreCatalog._create_staged_table, MetastoreCatalog._update_and_stage_table):
        assert "self._load_file_io(" in inspect.getsource(staging), f"{staging.__qualname__} no longer calls it"
    io = catalog._load_file_io({OWNER: "someone-else", "s3.region": "eu-west-1"}, catalog.warehouse)
    assert io.properties[OWNER] == catalog.owner  # kept
    assert io.properties["s3.region"] == "eu-west-1"  # every other table property still wins, as in pyiceberg
