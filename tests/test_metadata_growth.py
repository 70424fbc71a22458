"""Metadata that grows with history, and what bounds it: previous-versions-max, snapshot expiry, reclaim.

Public API only (MemCatalog.reclaim's internals belong to the ownership rules of issue 13).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timezone

import fsspec
import pyarrow as pa
import pytest

from memcatalog import MemCatalog, drop_pool


@pytest.fixture
def catalog() -> Iterator[MemCatalog]:
    cat = MemCatalog(f"growth_{uuid.uuid4().hex[:8]}")
    cat.create_namespace("db")
    yield cat
    assert cat.check() == []
    drop_pool(cat.pool.name)


def _batch(start: int, n: int = 5) -> pa.Table:
    return pa.table({"id": pa.array(range(start, start + n), pa.int64())})


def _files(catalog: MemCatalog, table_dir: str, suffix: str) -> list[str]:
    fs = fsspec.filesystem("memcat")
    return sorted(p for p in fs.find(f"memcat://{catalog.pool.name}/db/{table_dir}") if p.endswith(suffix))


def test_previous_versions_max_bounds_the_metadata_log_and_the_metadata_files(catalog: MemCatalog) -> None:
    table = catalog.create_table("db.t", _batch(0).schema, properties={"write.metadata.previous-versions-max": "3"})
    for i in range(10):
        table.transaction().set_properties(step=str(i)).commit_transaction()
    assert len(table.metadata.metadata_log) == 3
    # memcatalog deletes the files that leave the log (write.metadata.delete-after-commit.enabled defaults to true)
    metadata_files = _files(catalog, "t", ".metadata.json")
    assert len(metadata_files) == 4
    kept = {log.metadata_file for log in table.metadata.metadata_log} | {table.metadata_location}
    assert {f.split("/")[-1] for f in metadata_files} == {k.split("/")[-1] for k in kept}


def test_without_delete_after_commit_old_metadata_files_stay_until_reclaim(catalog: MemCatalog) -> None:
    props = {"write.metadata.previous-versions-max": "2", "write.metadata.delete-after-commit.enabled": "false"}
    table = catalog.create_table("db.t", _batch(0).schema, properties=props)
    for i in range(6):
        table.transaction().set_properties(step=str(i)).commit_transaction()
    assert len(table.metadata.metadata_log) == 2
    assert len(_files(catalog, "t", ".metadata.json")) == 7
    result = catalog.reclaim()
    assert result.files_deleted == 4 and all(p.endswith(".metadata.json") for p in result.deleted)
    assert len(_files(catalog, "t", ".metadata.json")) == 3


def test_pyiceberg_expire_snapshots_then_reclaim_frees_what_only_old_snapshots_used(catalog: MemCatalog) -> None:
    table = catalog.create_table("db.t", _batch(0).schema)
    for i in range(6):
        table.overwrite(_batch(i * 10))  # each overwrite leaves the previous data file to history only
    before_json = len(table.io.new_input(table.metadata_location).open().read())
    assert len(_files(catalog, "t", ".parquet")) == 6
    cutoff = table.current_snapshot().timestamp_ms  # type: ignore[union-attr]
    table.maintenance.expire_snapshots().older_than(datetime.fromtimestamp(cutoff / 1000, tz=timezone.utc)).commit()
    assert len(table.snapshots()) < 12 and table.scan().to_arrow().column("id").to_pylist() == list(range(50, 55))
    after_json = len(table.io.new_input(table.metadata_location).open().read())
    assert after_json < before_json  # the metadata file lists only the snapshots left
    used_before = catalog.pool.stats().used
    result = catalog.reclaim()
    assert result.snapshots_expired == 0  # pyiceberg expired them; reclaim only deletes
    assert len(_files(catalog, "t", ".parquet")) == 1
    assert sum(p.endswith(".parquet") for p in result.deleted) == 5
    assert any("snap-" in p for p in result.deleted)  # the expired snapshots' manifest lists
    assert result.bytes_freed == used_before - catalog.pool.stats().used > 0
    assert catalog.load_table("db.t").scan().to_arrow().num_rows == 5


def test_reclaim_retain_last_expires_through_the_catalog(catalog: MemCatalog) -> None:
    table = catalog.create_table("db.t", _batch(0).schema)
    for i in range(8):
        table.append(_batch(i * 10))
    table.manage_snapshots().create_tag(table.snapshots()[1].snapshot_id, "keep").commit()
    result = catalog.reclaim(retain_last=3)
    table = catalog.load_table("db.t")
    assert result.snapshots_expired == 4  # 8 - 3 newest - 1 tagged
    assert len(table.snapshots()) == 4
    assert table.scan().to_arrow().num_rows == 40  # appends: every data file is still live
    tag = table.metadata.refs["keep"].snapshot_id
    assert table.scan(snapshot_id=tag).to_arrow().num_rows == 10
    # the expired snapshots' manifest lists were freed; their manifests and data files are still referenced
    assert sum("snap-" in p for p in result.deleted) == 4
    assert not any(p.endswith(".parquet") for p in result.deleted)


def test_reclaim_older_than_expires_everything_but_what_is_protected(catalog: MemCatalog) -> None:
    table = catalog.create_table("db.t", _batch(0).schema)
    for i in range(5):
        table.overwrite(_batch(i * 10))
    result = catalog.reclaim(older_than=datetime.now(timezone.utc))
    table = catalog.load_table("db.t")
    assert [s.snapshot_id for s in table.snapshots()] == [table.metadata.current_snapshot_id]
    assert result.snapshots_expired == 8  # 5 overwrites: 1 append + 4 (delete, append) pairs, minus the current
    assert sum(p.endswith(".parquet") for p in result.deleted) == 4
    assert table.scan().to_arrow().column("id").to_pylist() == list(range(40, 45))
