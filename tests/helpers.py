"""Data and checks shared by test modules (import them from here, never from another test module)."""

from __future__ import annotations

import datetime as dt

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
