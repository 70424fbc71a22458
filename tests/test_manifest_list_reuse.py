"""Manifest lists written by reusing the parent's encoded entries read exactly like pyiceberg's own.

memcatalog/pyiceberg_internals.py (section "manifest lists that reuse their parent's
encoding") writes a memcat:// table's manifest lists from its parent's blocks and reads
them from a kept tuple. The oracles: pyiceberg's own writer (the same operations on a
twin table while the section is uninstalled), pyiceberg's own reader (``read_manifest_list``,
no cache), and DuckDB's iceberg extension.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import fsspec
import pyarrow as pa
import pytest
from pyiceberg.avro.file import AvroFile
from pyiceberg.expressions import EqualTo, LessThan
from pyiceberg.manifest import ManifestFile, read_manifest_list
from pyiceberg.table import Table

import memcatalog.duckdb
from memcatalog import MemCatalog, drop_pool
from memcatalog import pyiceberg_internals as internals


@pytest.fixture
def catalog() -> Iterator[MemCatalog]:
    cat = MemCatalog(f"mlr_{uuid.uuid4().hex[:8]}")
    cat.create_namespace("db")
    yield cat
    assert cat.check() == []
    drop_pool(cat.pool.name)


@pytest.fixture
def pyicebergs_path() -> Iterator[Callable[[], Any]]:
    """A context in which manifest lists are read and written by pyiceberg's own code."""
    import contextlib

    @contextlib.contextmanager
    def use() -> Iterator[None]:
        internals.uninstall_manifest_lists()
        try:
            yield
        finally:
            internals.install_manifest_lists()

    yield use
    internals.install_manifest_lists()


def _batch(start: int, n: int = 3) -> pa.Table:
    return pa.table({"id": pa.array(range(start, start + n), pa.int64()), "k": pa.array(["a", "b", "c"][:n])})


def _listed(table: Table, location: str) -> list[ManifestFile]:
    """A manifest list as pyiceberg's own reader reads the stored file (no cache)."""
    return list(read_manifest_list(table.io.new_input(location)))


def _header(table: Table, location: str) -> dict[str, str]:
    with AvroFile[ManifestFile](table.io.new_input(location)) as f:
        return dict(f.header.meta)


def _names(table: Table) -> tuple[dict[int, int], dict[str, tuple[int, int]]]:
    """Each snapshot's position, and each manifest's name: the first snapshot (by position) that lists it."""
    index = {s.snapshot_id: i for i, s in enumerate(table.snapshots())}
    paths: dict[str, tuple[int, int]] = {}
    for s in table.snapshots():
        for m in _listed(table, s.manifest_list):
            paths.setdefault(m.manifest_path, (index[s.snapshot_id], len(paths)))
    return index, paths


def _normal(
    names: tuple[dict[int, int], dict[str, tuple[int, int]]], manifests: list[ManifestFile]
) -> list[tuple[Any, ...]]:
    """Each entry with its random parts (path, snapshot id) replaced by what they name (``_names``)."""
    index, paths = names
    return [
        (
            paths[m.manifest_path],
            index.get(m.added_snapshot_id),
            m.manifest_length > 0,
            *(v for i, v in enumerate(m._data) if i not in (0, 1, 6)),  # path, length, added_snapshot_id
        )
        for m in manifests
    ]


def _operations(table: Table, appends: int) -> None:
    for i in range(appends):
        table.append(_batch(i * 10))
    table.overwrite(_batch(1000), overwrite_filter=LessThan("id", 30))
    table.delete(EqualTo("k", "b"))
    table.manage_snapshots().create_branch(table.metadata.current_snapshot_id, "side").commit()  # type: ignore[arg-type]
    table.append(_batch(2000), branch="side")
    table.append(_batch(3000))
    table.append(_batch(3100), branch="side")
    table.append(_batch(3200))


def _assert_same_lists(ours: Table, theirs: Table) -> None:
    assert len(ours.snapshots()) == len(theirs.snapshots())
    names_ours, names_theirs = _names(ours), _names(theirs)
    for a, b in zip(ours.snapshots(), theirs.snapshots(), strict=True):
        read_a, read_b = _listed(ours, a.manifest_list), _listed(theirs, b.manifest_list)
        assert _normal(names_ours, read_a) == _normal(names_theirs, read_b)
        header_a, header_b = _header(ours, a.manifest_list), _header(theirs, b.manifest_list)
        assert header_a["snapshot-id"] == str(a.snapshot_id)
        assert header_a["parent-snapshot-id"] == (str(a.parent_snapshot_id) if a.parent_snapshot_id else "null")
        drop = ("snapshot-id", "parent-snapshot-id")
        assert {k: v for k, v in header_a.items() if k not in drop} == {
            k: v for k, v in header_b.items() if k not in drop
        }
        # what a scan plans from (the kept tuple) is what the stored file says
        assert list(a.manifests(ours.io)) == read_a


# 9 appends: the kept blocks merge at 1, 2, 4 and 8 entries; 37 (slow) merges up to 32
@pytest.mark.parametrize(
    ("format_version", "appends"),
    [("1", 9), ("2", 9), pytest.param("1", 37, marks=pytest.mark.slow), pytest.param("2", 37, marks=pytest.mark.slow)],
)
def test_manifest_lists_read_entry_for_entry_as_pyicebergs_own(
    catalog: MemCatalog, pyicebergs_path: Callable[[], Any], format_version: str, appends: int
) -> None:
    # a dict each: pyiceberg's create_table pops format-version out of the dict it is given
    ours = catalog.create_table("db.ours", _batch(0).schema, properties={"format-version": format_version})
    theirs = catalog.create_table("db.theirs", _batch(0).schema, properties={"format-version": format_version})
    assert ours.format_version == theirs.format_version == int(format_version)
    _operations(ours, appends=appends)
    with pyicebergs_path():
        _operations(theirs, appends=appends)
    _assert_same_lists(catalog.load_table("db.ours"), catalog.load_table("db.theirs"))
    for ref in ("main", "side"):
        got = ours.scan(snapshot_id=ours.metadata.refs[ref].snapshot_id).to_arrow().sort_by("id")
        expected = theirs.scan(snapshot_id=theirs.metadata.refs[ref].snapshot_id).to_arrow().sort_by("id")
        assert got.equals(expected) and got.num_rows > 0


# 17 appends: the kept blocks merge up to 16 entries; 50 (slow) up to 32
@pytest.mark.parametrize("appends", [17, pytest.param(50, marks=pytest.mark.slow)])
def test_duckdb_reads_a_table_after_many_appends(catalog: MemCatalog, appends: int) -> None:
    table = catalog.create_table("db.t", _batch(0).schema)
    for i in range(appends):
        table.append(_batch(i * 10))
    middle = table.snapshots()[appends // 2 - 1]
    con = memcatalog.duckdb.connect(catalog)
    rows = 3 * appends
    assert con.sql("SELECT count(*), sum(id), count(DISTINCT id) FROM db.t").fetchall() == [
        (rows, sum(range(0, 10 * appends, 10)) * 3 + rows, rows)
    ]
    assert con.at_snapshot("db.t", snapshot_id=middle.snapshot_id).to_arrow_table().num_rows == 3 * (appends // 2)
    assert sorted(con.sql("SELECT id FROM db.t").fetchall()) == sorted(
        (r,) for r in table.scan().to_arrow().column("id").to_pylist()
    )


def test_a_manifest_list_written_by_pyiceberg_is_read_and_extended_correctly(
    catalog: MemCatalog, pyicebergs_path: Callable[[], Any]
) -> None:
    table = catalog.create_table("db.t", _batch(0).schema)
    with pyicebergs_path():
        for i in range(5):
            table.append(_batch(i * 10))
    internals.clear_manifest_list_cache()  # as in a process that did not write them
    for i in range(5, 9):
        table.append(_batch(i * 10))
    table = catalog.load_table("db.t")
    assert table.scan().to_arrow().num_rows == 27
    for snapshot in table.snapshots():
        assert list(snapshot.manifests(table.io)) == _listed(table, snapshot.manifest_list)
    assert len(_listed(table, table.snapshots()[-1].manifest_list)) == 9


def test_a_replaced_manifest_list_file_is_read_again(catalog: MemCatalog) -> None:
    table = catalog.create_table("db.t", _batch(0).schema)
    for i in range(4):
        table.append(_batch(i * 10))
    first, last = table.snapshots()[0], table.snapshots()[-1]
    assert len(last.manifests(table.io)) == 4  # kept
    fs = fsspec.filesystem("memcat")
    original = fs.cat_file(last.manifest_list)
    fs.pipe_file(last.manifest_list, fs.cat_file(first.manifest_list))  # another writer replaces the file
    try:
        assert list(last.manifests(table.io)) == _listed(table, first.manifest_list)
    finally:
        fs.pipe_file(last.manifest_list, original)
    assert len(last.manifests(table.io)) == 4


def test_a_failed_manifest_list_write_leaves_no_file(catalog: MemCatalog) -> None:
    table = catalog.create_table("db.t", _batch(0).schema)
    location = f"{table.metadata.location}/metadata/snap-failed.avro"
    writer = internals.write_manifest_list(2, table.io.new_output(location), 1, None, 1, "gzip")
    with pytest.raises(RuntimeError, match="interrupted"), writer:
        raise RuntimeError("interrupted")
    assert not table.io.new_input(location).exists()
    assert catalog.check() == []


def test_appends_from_several_threads_lose_nothing(catalog: MemCatalog) -> None:
    import threading

    catalog.create_table("db.t", _batch(0).schema)
    errors: list[BaseException] = []

    def work(offset: int) -> None:
        try:
            table = catalog.load_table("db.t")
            for i in range(6):
                for _ in range(20):
                    try:
                        table.append(_batch(offset + i * 10))
                        break
                    except Exception as e:  # a commit conflict: reload and retry, as a user would
                        if "CommitFailed" not in type(e).__name__:
                            raise
                        table = catalog.load_table("db.t")
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n * 1000,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    table = catalog.load_table("db.t")
    assert table.scan().to_arrow().num_rows == 54
    for snapshot in table.snapshots():
        assert list(snapshot.manifests(table.io)) == _listed(table, snapshot.manifest_list)
