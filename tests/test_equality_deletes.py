"""Tables with equality delete files survive export and import, as DuckDB reads them.

pyiceberg cannot write equality deletes (nor read them), so the table is built by hand
with public pyiceberg pieces: a Parquet file of the deleted ids (with its Iceberg field
id), a delete manifest, a manifest list and a snapshot committed through
``commit_table``. DuckDB, which applies equality deletes, is the oracle for the rows.
"""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.manifest import (
    DataFile,
    DataFileContent,
    FileFormat,
    ManifestContent,
    ManifestEntry,
    ManifestEntryStatus,
    write_manifest_list,
)
from pyiceberg.table import Table
from pyiceberg.table.snapshots import Operation, Snapshot, Summary
from pyiceberg.table.update import AddSnapshotUpdate, AssertRefSnapshotId, SetSnapshotRefUpdate

import memcatalog
from memcatalog import MemCatalog, export_table, import_table
from memcatalog.duckdb import load_extension
from memcatalog.pyiceberg_internals import delete_manifest_writer

SCHEMA = pa.schema([("id", pa.int64()), ("label", pa.string())])
ROWS = pa.table({"id": pa.array([1, 2, 3, 4, 5], pa.int64()), "label": ["a", "b", "c", "d", "e"]})
DELETED = [2, 4]
LEFT = [(1, "a"), (3, "c"), (5, "e")]


def add_equality_deletes(table: Table, ids: list[int]) -> Table:
    """Commit a snapshot that deletes the rows whose ``id`` is in ``ids`` with one equality delete file."""
    md, parent = table.metadata, table.current_snapshot()
    assert parent is not None
    snapshot_id, sequence = uuid.uuid4().int >> 65, md.last_sequence_number + 1
    id_field = pa.field("id", pa.int64(), metadata={"PARQUET:field_id": str(table.schema().find_field("id").field_id)})
    encoded = io.BytesIO()
    pq.write_table(pa.table({"id": pa.array(ids, pa.int64())}, schema=pa.schema([id_field])), encoded)
    path = f"{md.location}/data/eq-deletes-{uuid.uuid4()}.parquet"
    with table.io.new_output(path).create() as out:
        out.write(encoded.getvalue())
    delete_file = DataFile.from_args(
        content=DataFileContent.EQUALITY_DELETES,
        file_path=path,
        file_format=FileFormat.PARQUET,
        partition={},
        record_count=len(ids),
        file_size_in_bytes=len(encoded.getvalue()),
        equality_ids=[table.schema().find_field("id").field_id],
    )
    delete_file.spec_id = table.spec().spec_id
    manifest_path = f"{md.location}/metadata/{uuid.uuid4()}-m0.avro"
    with delete_manifest_writer(2, table.spec(), table.schema(), table.io.new_output(manifest_path), snapshot_id) as w:
        w.add_entry(
            ManifestEntry.from_args(
                status=ManifestEntryStatus.ADDED,
                snapshot_id=snapshot_id,
                sequence_number=sequence,
                file_sequence_number=sequence,
                data_file=delete_file,
            )
        )
    list_path = f"{md.location}/metadata/snap-{snapshot_id}-0-{uuid.uuid4()}.avro"
    output = table.io.new_output(list_path)
    with write_manifest_list(2, output, snapshot_id, parent.snapshot_id, sequence, "deflate") as manifests:
        manifests.add_manifests([*parent.manifests(table.io), w.to_manifest_file()])
    snapshot = Snapshot(
        snapshot_id=snapshot_id,
        parent_snapshot_id=parent.snapshot_id,
        sequence_number=sequence,
        timestamp_ms=int(time.time() * 1000),
        manifest_list=list_path,
        summary=Summary(Operation.DELETE),
        schema_id=table.schema().schema_id,
    )
    table.catalog.commit_table(
        table,
        (AssertRefSnapshotId(ref="main", snapshot_id=parent.snapshot_id),),
        (
            AddSnapshotUpdate(snapshot=snapshot),
            SetSnapshotRefUpdate(ref_name="main", type="branch", snapshot_id=snapshot_id),
        ),
    )
    return table.catalog.load_table(table.name())


def duckdb_rows(metadata_location: str, catalog: MemCatalog | None = None) -> list[tuple[int, str]]:
    if catalog is not None:
        return sorted(memcatalog.duckdb.connect(catalog).execute("SELECT id, label FROM db.t").fetchall())
    con = duckdb.connect()
    load_extension(con, "avro")
    load_extension(con, "iceberg")
    return sorted(con.sql(f"SELECT id, label FROM iceberg_scan('{metadata_location}')").fetchall())


def equality_delete_entries(table: Table) -> list[tuple[int, list[int] | None, int]]:
    snapshot = table.current_snapshot()
    assert snapshot is not None
    return [
        (entry.data_file.content.value, entry.data_file.equality_ids, entry.data_file.record_count)
        for manifest in snapshot.manifests(table.io)
        if manifest.content == ManifestContent.DELETES
        for entry in manifest.fetch_manifest_entry(table.io)
    ]


@pytest.fixture
def source(memcatalog: MemCatalog) -> Iterator[MemCatalog]:
    memcatalog.create_namespace("db")
    table = memcatalog.create_table("db.t", SCHEMA, properties={"format-version": "2"})
    table.append(ROWS)
    add_equality_deletes(memcatalog.load_table("db.t"), DELETED)
    yield memcatalog


EXPECTED_ENTRIES = [(DataFileContent.EQUALITY_DELETES.value, [1], len(DELETED))]


def test_duckdb_applies_the_hand_built_equality_deletes(source: MemCatalog) -> None:
    """The oracle itself: without this the other tests would prove nothing."""
    table = source.load_table("db.t")
    assert duckdb_rows(str(table.metadata_location), source) == LEFT
    assert equality_delete_entries(table) == EXPECTED_ENTRIES


def test_an_exported_table_keeps_its_equality_deletes(source: MemCatalog, tmp_path: Path) -> None:
    target = SqlCatalog("lake", uri=f"sqlite:///{tmp_path}/lake.db", warehouse=f"file://{tmp_path}/warehouse")
    exported = export_table(source, "db.t", target)
    assert equality_delete_entries(exported) == EXPECTED_ENTRIES
    assert duckdb_rows(str(exported.metadata_location)) == LEFT


def test_an_imported_table_keeps_its_equality_deletes(source: MemCatalog, tmp_path: Path) -> None:
    lake = SqlCatalog("lake", uri=f"sqlite:///{tmp_path}/lake.db", warehouse=f"file://{tmp_path}/warehouse")
    exported = export_table(source, "db.t", lake)
    other = MemCatalog(f"eq_import_{uuid.uuid4().hex[:8]}")
    try:
        other.create_namespace("db")
        imported = import_table(other, "db.t", exported)
        assert equality_delete_entries(imported) == EXPECTED_ENTRIES
        assert duckdb_rows(str(imported.metadata_location), other) == LEFT
        assert other.check() == []
    finally:
        memcatalog.drop_pool(other.pool.name)
