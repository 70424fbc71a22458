"""Differential test: the same random operations on a MemCatalog table and on a pyiceberg SqlCatalog table.

MemCatalog's tables take a different path through pyiceberg (flat-cost transactions and
commits, memcatalog/pyiceberg_internals.py). Applied to both catalogs, one seeded random
sequence of appends, overwrites, deletes, upserts, schema and partition evolution, branch
and tag operations must leave identical metadata (snapshots, summaries, refs, schemas,
specs, manifests' contents; paths, uuids, ids and timestamps aside) and identical scans.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from pyiceberg.catalog import Catalog
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.expressions import EqualTo, GreaterThanOrEqual, LessThan
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.table.snapshots import Snapshot
from pyiceberg.transforms import BucketTransform, IdentityTransform
from pyiceberg.types import DoubleType, LongType, NestedField, StringType

from memcatalog import MemCatalog, drop_pool

SCHEMA = Schema(
    NestedField(1, "id", LongType(), required=True),
    NestedField(2, "grp", StringType(), required=False),
    NestedField(3, "val", DoubleType(), required=False),
    identifier_field_ids=[1],
)


@dataclass
class Pair:
    mem: Table
    sql: Table
    columns: list[str]
    branches: list[str]
    tags: list[str]

    def both(self, fn: Callable[[Table], Any]) -> str:
        """Apply ``fn`` to both tables; an error must be the same error on both (pyiceberg's own, e.g. its upsert
        after a column was added), and then both tables must be left alike."""
        outcomes = []
        for table in (self.mem, self.sql):
            try:
                fn(table)
                outcomes.append("")
            except Exception as e:
                outcomes.append(f"{type(e).__name__}: {e}")
        assert outcomes[0] == outcomes[1], f"MemCatalog: {outcomes[0] or 'ok'}; SqlCatalog: {outcomes[1] or 'ok'}"
        return f" (both raised {outcomes[0][:60]})" if outcomes[0] else ""


@pytest.fixture
def catalogs(tmp_path: Path) -> Iterator[tuple[Catalog, Catalog]]:
    mem = MemCatalog(f"diff_{uuid.uuid4().hex[:8]}")
    sql = SqlCatalog("diff", uri=f"sqlite:///{tmp_path}/registry.db", warehouse=f"file://{tmp_path}/wh")
    for cat in (mem, sql):
        cat.create_namespace("db")
    yield mem, sql
    sql.close()
    drop_pool(mem.pool.name)


def _rows(rng: random.Random, pair: Pair, n: int) -> pa.Table:
    ids = rng.sample(range(60), n)
    data: dict[str, Any] = {
        "id": pa.array(ids, pa.int64()),
        "grp": pa.array([rng.choice(["a", "b", "c", None]) for _ in ids], pa.string()),
        "val": pa.array([rng.choice([None, rng.random() * 100]) for _ in ids], pa.float64()),
    }
    for extra in pair.columns[3:]:
        data[extra] = pa.array([rng.randrange(1000) for _ in ids], pa.int64())
    schema = pa.schema(
        [pa.field("id", pa.int64(), nullable=False), pa.field("grp", pa.string()), pa.field("val", pa.float64())]
        + [pa.field(c, pa.int64()) for c in pair.columns[3:]]
    )
    return pa.table(data, schema=schema)


def _op(rng: random.Random, pair: Pair) -> str:
    """Apply one random operation to both tables; returns its description (for failure messages)."""
    choice = rng.choices(
        [
            "append",
            "overwrite",
            "overwrite_filter",
            "delete",
            "upsert",
            "add_column",
            "add_partition",
            "branch",
            "tag",
            "append_branch",
            "remove_tag",
            "property",
        ],
        weights=[6, 1, 2, 3, 3, 1, 1, 1, 1, 2, 1, 1],
    )[0]
    has_snapshot = pair.mem.current_snapshot() is not None
    if choice == "append":
        data = _rows(rng, pair, rng.randint(1, 8))
        choice += pair.both(lambda t: t.append(data))
    elif choice == "overwrite":
        data = _rows(rng, pair, rng.randint(1, 5))
        choice += pair.both(lambda t: t.overwrite(data))
    elif choice == "overwrite_filter":
        data = _rows(rng, pair, rng.randint(1, 5))
        cut = rng.randrange(60)
        choice += pair.both(lambda t: t.overwrite(data, overwrite_filter=GreaterThanOrEqual("id", cut)))
    elif choice == "delete":
        expr = rng.choice([LessThan("id", rng.randrange(60)), EqualTo("grp", rng.choice("abc"))])
        choice += pair.both(lambda t: t.delete(expr))
    elif choice == "upsert":
        data = _rows(rng, pair, rng.randint(1, 6))
        choice += pair.both(lambda t: t.upsert(data))
    elif choice == "add_column":
        name = f"x{len(pair.columns)}"
        pair.columns.append(name)
        pair.both(lambda t: t.update_schema().add_column(name, LongType()).commit())
    elif choice == "add_partition":
        spec_fields = {f.name for f in pair.mem.spec().fields}
        options = [("grp", IdentityTransform(), "grp_part"), ("id", BucketTransform(4), "id_bucket")]
        options = [o for o in options if o[2] not in spec_fields]
        if not options:
            return "add_partition (none left)"
        source, transform, name = rng.choice(options)
        pair.both(lambda t: t.update_spec().add_field(source, transform, name).commit())
        choice = f"add_partition {name}"
    elif choice in ("branch", "tag") and has_snapshot:
        names = pair.branches if choice == "branch" else pair.tags
        name = f"{choice}{len(names)}"
        names.append(name)
        back = rng.randrange(len(pair.mem.snapshots()))
        mem_id, sql_id = pair.mem.snapshots()[back].snapshot_id, pair.sql.snapshots()[back].snapshot_id
        if choice == "branch":
            ids = {id(pair.mem): mem_id, id(pair.sql): sql_id}
            pair.both(lambda t: t.manage_snapshots().create_branch(ids[id(t)], name).commit())
        else:
            ids = {id(pair.mem): mem_id, id(pair.sql): sql_id}
            pair.both(lambda t: t.manage_snapshots().create_tag(ids[id(t)], name).commit())
        choice = f"{choice} {name} at snapshot #{back}"
    elif choice == "append_branch" and pair.branches:
        branch = rng.choice(pair.branches)
        data = _rows(rng, pair, rng.randint(1, 4))
        pair.both(lambda t: t.append(data, branch=branch))
        choice = f"append to {branch}"
    elif choice == "remove_tag" and pair.tags:
        tag = pair.tags.pop(rng.randrange(len(pair.tags)))
        pair.both(lambda t: t.manage_snapshots().remove_tag(tag).commit())
        choice = f"remove tag {tag}"
    elif choice == "property":
        value = str(rng.randrange(100))
        pair.both(lambda t: t.transaction().set_properties(note=value).commit_transaction())
    else:
        return f"{choice} (skipped)"
    return choice


# ---- what must be equal -------------------------------------------------------------------------------------------


def _snapshot_index(table: Table) -> dict[int, int]:
    return {s.snapshot_id: i for i, s in enumerate(table.snapshots())}


def _plain(mapping: Any) -> list[tuple[Any, Any]] | None:
    # pyiceberg reads these maps as LazyDicts, which compare (and print) by identity
    return sorted(dict(mapping).items()) if mapping is not None else None


def _entries(table: Table, snapshot: Snapshot, index: dict[int, int]) -> list[Any]:
    out = []
    for manifest in snapshot.manifests(table.io):
        entries = []
        for e in manifest.fetch_manifest_entry(table.io, discard_deleted=False):
            f = e.data_file
            entries.append(
                (
                    int(e.status),
                    index.get(e.snapshot_id) if e.snapshot_id is not None else None,
                    e.sequence_number,
                    e.file_sequence_number,
                    int(f.content),
                    f.file_format,
                    tuple(f.partition),
                    f.record_count,
                    f.file_size_in_bytes,
                    _plain(f.column_sizes),
                    _plain(f.value_counts),
                    _plain(f.null_value_counts),
                    _plain(f.nan_value_counts),
                    _plain(f.lower_bounds),
                    _plain(f.upper_bounds),
                    f.spec_id,
                )
            )
        out.append(
            (
                int(manifest.content),
                manifest.partition_spec_id,
                manifest.sequence_number,
                manifest.min_sequence_number,
                index.get(manifest.added_snapshot_id),
                manifest.added_files_count,
                manifest.existing_files_count,
                manifest.deleted_files_count,
                manifest.added_rows_count,
                manifest.existing_rows_count,
                manifest.deleted_rows_count,
                sorted(entries, key=repr),
            )
        )
    return sorted(out, key=repr)


def _summary(table: Table) -> dict[str, Any]:
    metadata = table.metadata
    index = _snapshot_index(table)
    snapshots = [
        {
            "parent": index.get(s.parent_snapshot_id) if s.parent_snapshot_id is not None else None,
            "sequence_number": s.sequence_number,
            "schema_id": s.schema_id,
            "summary": s.summary.model_dump() if s.summary else None,
            "manifests": _entries(table, s, index),
        }
        for s in metadata.snapshots
    ]
    return {
        "format_version": metadata.format_version,
        "snapshots": snapshots,
        "current": index.get(metadata.current_snapshot_id) if metadata.current_snapshot_id else None,
        "refs": {name: (ref.snapshot_ref_type, index[ref.snapshot_id]) for name, ref in metadata.refs.items()},
        "snapshot_log": [index.get(e.snapshot_id) for e in metadata.snapshot_log],
        "schemas": [s.model_dump() for s in metadata.schemas],
        "current_schema_id": metadata.current_schema_id,
        "specs": [s.model_dump() for s in metadata.partition_specs],
        "default_spec_id": metadata.default_spec_id,
        "sort_orders": [s.model_dump() for s in metadata.sort_orders],
        "last_column_id": metadata.last_column_id,
        "last_partition_id": metadata.last_partition_id,
        "last_sequence_number": metadata.last_sequence_number,
        "properties": metadata.properties,
        "metadata_log_length": len(metadata.metadata_log),
    }


def _scan(table: Table, **kwargs: Any) -> list[dict[str, Any]]:
    rows = table.scan(**kwargs).to_arrow().to_pylist()
    return sorted(rows, key=lambda r: (r["id"], repr(r)))


def _assert_same(pair: Pair, history: list[str]) -> None:
    mem, sql = _summary(pair.mem), _summary(pair.sql)
    for key in mem:
        assert mem[key] == sql[key], f"{key} differs after: {history}"
    assert _scan(pair.mem) == _scan(pair.sql), f"scan differs after: {history}"
    for ref in pair.mem.metadata.refs:
        mem_id, sql_id = pair.mem.metadata.refs[ref].snapshot_id, pair.sql.metadata.refs[ref].snapshot_id
        assert _scan(pair.mem, snapshot_id=mem_id) == _scan(pair.sql, snapshot_id=sql_id), f"ref {ref}: {history}"


def _run(catalogs: tuple[Catalog, Catalog], seed: int, operations: int, check_every: int) -> None:
    rng = random.Random(seed)
    mem_cat, sql_cat = catalogs
    name = f"db.t{seed}"
    props = {"commit.manifest-merge.enabled": rng.choice(["true", "false"]), "commit.manifest.min-count-to-merge": "3"}
    pair = Pair(
        mem_cat.create_table(name, SCHEMA, properties=props),
        sql_cat.create_table(name, SCHEMA, properties=props),
        ["id", "grp", "val"],
        [],
        [],
    )
    history: list[str] = [f"seed {seed}, {props}"]
    for i in range(operations):
        history.append(_op(rng, pair))
        if (i + 1) % check_every == 0:
            _assert_same(pair, history)
    # both handles were updated by their own commits; what each catalog serves must be the same too
    pair.mem, pair.sql = mem_cat.load_table(name), sql_cat.load_table(name)
    _assert_same(pair, history)
    expire = [s.snapshot_id for s in pair.mem.snapshots()[:-1]]
    if expire:
        protected = {r.snapshot_id for r in pair.mem.metadata.refs.values()}
        index = _snapshot_index(pair.mem)
        keep = [i for i in (index[s] for s in expire) if pair.mem.snapshots()[i].snapshot_id not in protected]
        mem_ids = [pair.mem.snapshots()[i].snapshot_id for i in keep]
        sql_ids = [pair.sql.snapshots()[i].snapshot_id for i in keep]
        if mem_ids:
            pair.mem.maintenance.expire_snapshots().by_ids(mem_ids).commit()
            pair.sql.maintenance.expire_snapshots().by_ids(sql_ids).commit()
            history.append(f"expire {len(mem_ids)} snapshots")
            _assert_same(pair, history)


@pytest.mark.parametrize("seed", [1])
def test_same_operations_same_tables(catalogs: tuple[Catalog, Catalog], seed: int) -> None:
    _run(catalogs, seed, operations=14, check_every=7)


@pytest.mark.slow
# seeds 2 and 3 ran in the default run with 14 operations; their first 14 operations are the same here
@pytest.mark.parametrize("seed", [2, 3, *range(10, 22)])
def test_same_operations_same_tables_long(catalogs: tuple[Catalog, Catalog], seed: int) -> None:
    _run(catalogs, seed, operations=60, check_every=5)
