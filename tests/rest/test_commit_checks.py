"""updateTable over HTTP: every requirement type and every update type, with pyiceberg's own semantics as the oracle.

Each requirement is sent right and wrong; the server's answer (200, or 409 changing nothing)
must be what pyiceberg's ``requirement.validate(metadata)`` says. The update types are sent as
raw JSON in one commit, and the table MemCatalog then loads must equal what pyiceberg's
``update_table_metadata`` makes of the same updates.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from typing import Any

import httpx
import pyarrow as pa
import pytest
from pydantic import TypeAdapter
from pyiceberg.exceptions import CommitFailedException
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.table.update import TableRequirement, TableUpdate, update_table_metadata
from pyiceberg.types import IntegerType

from memcatalog import MemCatalog

Requirement = Callable[[TableMetadata], dict[str, Any]]

REQUIREMENTS: dict[str, Requirement] = {
    "create": lambda m: {"type": "assert-create"},
    "uuid-right": lambda m: {"type": "assert-table-uuid", "uuid": str(m.table_uuid)},
    "uuid-wrong": lambda m: {"type": "assert-table-uuid", "uuid": "00000000-0000-0000-0000-000000000001"},
    "ref-right": lambda m: {"type": "assert-ref-snapshot-id", "ref": "main", "snapshot-id": m.current_snapshot_id},
    "ref-wrong": lambda m: {"type": "assert-ref-snapshot-id", "ref": "main", "snapshot-id": 12345},
    "ref-absent-but-exists": lambda m: {"type": "assert-ref-snapshot-id", "ref": "main", "snapshot-id": None},
    "ref-absent": lambda m: {"type": "assert-ref-snapshot-id", "ref": "nope", "snapshot-id": None},
    "field-id-right": lambda m: {"type": "assert-last-assigned-field-id", "last-assigned-field-id": m.last_column_id},
    "field-id-wrong": lambda m: {"type": "assert-last-assigned-field-id", "last-assigned-field-id": 99},
    "schema-right": lambda m: {"type": "assert-current-schema-id", "current-schema-id": m.current_schema_id},
    "schema-wrong": lambda m: {"type": "assert-current-schema-id", "current-schema-id": 7},
    "partition-id-right": lambda m: {
        "type": "assert-last-assigned-partition-id",
        "last-assigned-partition-id": m.last_partition_id,
    },
    "partition-id-wrong": lambda m: {"type": "assert-last-assigned-partition-id", "last-assigned-partition-id": 5000},
    "spec-right": lambda m: {"type": "assert-default-spec-id", "default-spec-id": m.default_spec_id},
    "spec-wrong": lambda m: {"type": "assert-default-spec-id", "default-spec-id": 3},
    "sort-right": lambda m: {"type": "assert-default-sort-order-id", "default-sort-order-id": m.default_sort_order_id},
    "sort-wrong": lambda m: {"type": "assert-default-sort-order-id", "default-sort-order-id": 9},
}


@pytest.fixture
def table(served: MemCatalog) -> MemCatalog:
    served.create_namespace("db")
    t = served.create_table("db.t", pa.schema([("id", pa.int64()), ("name", pa.string())]))
    t.append(pa.table({"id": [1, 2], "name": ["a", "b"]}))
    return served


def _pyiceberg_says(requirement: dict[str, Any], metadata: TableMetadata) -> int:
    parsed = TypeAdapter(TableRequirement).validate_python(requirement)
    try:
        parsed.validate(metadata)
    except CommitFailedException:
        return 409
    return 200


def test_every_requirement_type_is_checked_as_pyiceberg_checks_it(http: httpx.Client, table: MemCatalog) -> None:
    """One table, every case in turn: a failed requirement changes nothing, a held one commits."""
    outcomes = set()
    for case in sorted(REQUIREMENTS):
        before = table.load_table("db.t")
        requirement = REQUIREMENTS[case](before.metadata)
        expected = _pyiceberg_says(requirement, before.metadata)
        outcomes.add(expected)
        commit = {"requirements": [requirement], "updates": [{"action": "set-properties", "updates": {"k": case}}]}
        r = http.post("/namespaces/db/tables/t", json=commit)
        assert r.status_code == expected, (case, r.text)
        after = table.load_table("db.t")
        if expected == 409:
            assert r.json()["error"]["type"] == "CommitFailedException", case
            assert after.metadata_location == before.metadata_location, case
            assert after.properties.get("k") == before.properties.get("k"), case
        else:
            assert after.properties["k"] == case
    assert outcomes == {200, 409}


def test_the_cases_cover_every_requirement_type_pyiceberg_models() -> None:
    sent = {REQUIREMENTS[c](_ANY_METADATA)["type"] for c in REQUIREMENTS}
    modelled = {c.model_fields["type"].default for c in typing.get_args(typing.get_args(TableRequirement)[0])}
    assert sent == modelled


class _AnyMetadata:
    table_uuid = "00000000-0000-0000-0000-000000000000"
    current_snapshot_id = last_column_id = current_schema_id = last_partition_id = 0
    default_spec_id = default_sort_order_id = 0


_ANY_METADATA: Any = _AnyMetadata()


def _every_update(table_uuid: str, snapshot: int) -> list[dict[str, Any]]:
    schema = {
        "type": "struct",
        "schema-id": 1,
        "fields": [
            {"id": 1, "name": "id", "type": "long", "required": False},
            {"id": 2, "name": "name", "type": "string", "required": False},
            {"id": 3, "name": "extra", "type": "int", "required": False, "doc": "added"},
        ],
    }
    return [
        {"action": "assign-uuid", "uuid": table_uuid},
        {"action": "upgrade-format-version", "format-version": 2},
        {"action": "add-schema", "schema": schema, "last-column-id": 3},
        {"action": "set-current-schema", "schema-id": -1},
        {
            "action": "add-spec",
            "spec": {
                "spec-id": 1,
                "fields": [{"source-id": 1, "field-id": 1000, "transform": "bucket[4]", "name": "b"}],
            },
        },
        {"action": "set-default-spec", "spec-id": -1},
        {
            "action": "add-sort-order",
            "sort-order": {
                "order-id": 1,
                "fields": [{"source-id": 2, "transform": "identity", "direction": "desc", "null-order": "nulls-last"}],
            },
        },
        {"action": "set-default-sort-order", "sort-order-id": -1},
        {"action": "set-snapshot-ref", "ref-name": "v1", "type": "tag", "snapshot-id": snapshot},
        {"action": "set-snapshot-ref", "ref-name": "dev", "type": "branch", "snapshot-id": snapshot},
        {"action": "remove-snapshot-ref", "ref-name": "dev"},
        {"action": "set-properties", "updates": {"a": "1", "b": "2"}},
        {"action": "remove-properties", "removals": ["b"]},
    ]


def test_every_update_type_gives_the_metadata_pyiceberg_computes(http: httpx.Client, table: MemCatalog) -> None:
    before = table.load_table("db.t")
    snapshot = before.metadata.current_snapshot_id
    assert snapshot is not None
    updates = _every_update(str(before.metadata.table_uuid), snapshot)
    r = http.post("/namespaces/db/tables/t", json={"updates": updates})
    assert r.status_code == 200, r.text
    parsed = tuple(TypeAdapter(TableUpdate).validate_python(u) for u in updates)
    oracle = update_table_metadata(before.metadata, parsed)
    got = table.load_table("db.t").metadata
    for field in (
        "format_version",
        "table_uuid",
        "schemas",
        "current_schema_id",
        "last_column_id",
        "partition_specs",
        "default_spec_id",
        "last_partition_id",
        "sort_orders",
        "default_sort_order_id",
        "refs",
        "snapshots",
        "properties",
        "location",
    ):
        assert getattr(got, field) == getattr(oracle, field), field
    assert r.json()["metadata"]["current-schema-id"] == 1


def _removal_updates(snapshot: int, location: str) -> list[dict[str, Any]]:
    return [
        {"action": "remove-snapshots", "snapshot-ids": [snapshot]},
        {"action": "set-location", "location": location},
    ]


def test_remove_snapshots_and_set_location_as_pyiceberg_computes(http: httpx.Client, table: MemCatalog) -> None:
    table.load_table("db.t").append(pa.table({"id": [3], "name": ["c"]}))
    before = table.load_table("db.t")
    first = before.metadata.snapshots[0].snapshot_id
    updates = _removal_updates(first, before.metadata.location)
    r = http.post("/namespaces/db/tables/t", json={"updates": updates})
    assert r.status_code == 200, r.text
    oracle = update_table_metadata(before.metadata, tuple(TypeAdapter(TableUpdate).validate_python(u) for u in updates))
    got = table.load_table("db.t").metadata
    assert got.snapshots == oracle.snapshots and first not in {s.snapshot_id for s in got.snapshots}
    assert got.location == oracle.location
    assert sorted(table.load_table("db.t").scan().to_arrow().column("id").to_pylist()) == [1, 2, 3]


def _statistics_steps(snapshot: int, stats_path: str, part_path: str) -> list[list[dict[str, Any]]]:
    statistics = {
        "snapshot-id": snapshot,
        "statistics-path": stats_path,
        "file-size-in-bytes": 23,
        "file-footer-size-in-bytes": 8,
        "blob-metadata": [
            {"type": "apache-datasketches-theta-v1", "snapshot-id": snapshot, "sequence-number": 1, "fields": [1]}
        ],
    }
    partition_statistics = {"snapshot-id": snapshot, "statistics-path": part_path, "file-size-in-bytes": 23}
    return [
        [
            {"action": "set-statistics", "statistics": statistics},
            {"action": "set-partition-statistics", "partition-statistics": partition_statistics},
            {"action": "remove-schemas", "schema-ids": [0]},
            {"action": "remove-partition-specs", "spec-ids": [0]},
        ],
        [
            {"action": "remove-statistics", "snapshot-id": snapshot},
            {"action": "remove-partition-statistics", "snapshot-id": snapshot},
        ],
    ]


def test_statistics_and_removals_of_schemas_and_specs_as_pyiceberg_computes(
    http: httpx.Client, table: MemCatalog
) -> None:
    t = table.load_table("db.t")
    with t.update_schema() as update:
        update.add_column("extra", IntegerType())
    with t.update_spec() as spec:
        spec.add_identity("name")
    before = table.load_table("db.t")
    snapshot = before.metadata.current_snapshot_id
    stats_path = f"{before.metadata.location}/metadata/stats.puffin"
    part_path = f"{before.metadata.location}/metadata/partition-stats.parquet"
    for path in (stats_path, part_path):
        with before.io.new_output(path).create() as out:
            out.write(b"not read by the catalog")
    steps = _statistics_steps(snapshot, stats_path, part_path)
    for updates in steps:
        base = table.load_table("db.t").metadata
        r = http.post("/namespaces/db/tables/t", json={"updates": updates})
        assert r.status_code == 200, r.text
        oracle = update_table_metadata(base, tuple(TypeAdapter(TableUpdate).validate_python(u) for u in updates))
        got = table.load_table("db.t").metadata
        for field in ("statistics", "partition_statistics", "schemas", "partition_specs", "current_schema_id"):
            assert getattr(got, field) == getattr(oracle, field), field
    assert table.load_table("db.t").metadata.statistics == []


def test_the_update_tests_cover_every_update_type_pyiceberg_models() -> None:
    sent = {"add-snapshot"}  # every append through RestCatalog (test_protocol.py, the pyiceberg suites)
    for updates in (_every_update("u", 1), _removal_updates(1, "l"), *_statistics_steps(1, "s", "p")):
        sent.update(u["action"] for u in updates)
    modelled = {c.model_fields["action"].default for c in typing.get_args(typing.get_args(TableUpdate)[0])}
    assert modelled == sent


def test_server_commits_never_take_pyiceberg_s_whole_history_copy(
    http: httpx.Client, table: MemCatalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """updateTable and commitTransaction apply updates without pyiceberg's ``update_table_metadata``.

    That function ends in a deep copy of the whole metadata (every snapshot), so a server
    using it would commit in time that grows with table history (issue 16, the commit-cost issue).
    """
    import pyiceberg.catalog
    import pyiceberg.table.update

    import memcatalog.pyiceberg_internals

    def whole_history_copy(*args: object, **kwargs: object) -> None:
        raise AssertionError("the server used pyiceberg's update_table_metadata (a whole-history deep copy)")

    for module in (pyiceberg.catalog, pyiceberg.table.update, memcatalog.pyiceberg_internals):
        if hasattr(module, "update_table_metadata"):
            monkeypatch.setattr(module, "update_table_metadata", whole_history_copy)
    one = http.post("/namespaces/db/tables/t", json={"updates": [{"action": "set-properties", "updates": {"a": "1"}}]})
    assert one.status_code == 200, one.text
    change = {
        "identifier": {"namespace": ["db"], "name": "t"},
        "updates": [{"action": "set-properties", "updates": {"b": "2"}}],
    }
    both = http.post("/transactions/commit", json={"table-changes": [change]})
    assert both.status_code == 204, both.text
    assert {"a": "1", "b": "2"}.items() <= table.load_table("db.t").properties.items()
