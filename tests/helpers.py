"""Data and checks shared by test modules (import them from here, never from another test module)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
from pyiceberg.schema import Schema
from pyiceberg.types import LongType, NestedField, StringType, TimestamptzType

SCHEMA = Schema(
    NestedField(1, "id", LongType(), required=False),
    NestedField(2, "name", StringType(), required=False),
    NestedField(3, "ts", TimestamptzType(), required=False),
)


def rows(n: int, start: int = 0) -> pa.Table:
    """``n`` rows of SCHEMA with ids ``start`` .. ``start + n - 1``."""
    base = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    return pa.table(
        {
            "id": pa.array(range(start, start + n), pa.int64()),
            "name": pa.array([f"name-{i}" for i in range(start, start + n)], pa.string()),
            "ts": pa.array([base + dt.timedelta(hours=i) for i in range(start, start + n)], pa.timestamp("us", "UTC")),
        }
    )


def ids(table: pa.Table) -> list[int]:
    """The table's ids, sorted."""
    return sorted(table.column("id").to_pylist())


def set_property_change(identifier: str, uuid: str, value: str) -> dict[str, Any]:
    """A REST table change (``namespace.table``) that sets property ``k`` to ``value``, asserting the table's uuid."""
    ns, name = identifier.split(".")
    return {
        "identifier": {"namespace": [ns], "name": name},
        "requirements": [{"type": "assert-table-uuid", "uuid": uuid}],
        "updates": [{"action": "set-properties", "updates": {"k": value}}],
    }
