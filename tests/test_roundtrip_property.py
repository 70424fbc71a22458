"""Property: whatever valid rows go in through validate() and the writer come back unchanged (pyiceberg and DuckDB)."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings
from pyiceberg.schema import Schema
from pyiceberg.types import DateType, DecimalType, DoubleType, ListType, LongType, NestedField, StringType, StructType

import memcatalog
import memcatalog.duckdb
from memcatalog import MemCatalog

SCHEMA = Schema(
    NestedField(1, "id", LongType(), required=True),
    NestedField(2, "name", StringType(), required=False),
    NestedField(3, "score", DoubleType(), required=False),
    NestedField(4, "day", DateType(), required=False),
    NestedField(5, "amount", DecimalType(10, 2), required=False),
    NestedField(6, "tags", ListType(7, StringType(), element_required=True), required=False),
    NestedField(8, "point", StructType(NestedField(9, "x", LongType(), required=True)), required=False),
)


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


ROW = st.fixed_dictionaries(
    {
        "name": optional(st.text(max_size=20)),
        "score": optional(st.floats(allow_nan=False, allow_infinity=False, width=64)),
        "day": optional(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2200, 1, 1))),
        "amount": optional(
            st.decimals(min_value=-(10**7), max_value=10**7, places=2, allow_nan=False, allow_infinity=False)
        ),
        "tags": optional(st.lists(st.text(max_size=5), max_size=4)),
        "point": optional(st.fixed_dictionaries({"x": st.integers(-(2**63), 2**63 - 1)})),
    }
)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(ROW, min_size=0, max_size=30))
def test_rows_round_trip(rows: list[dict[str, Any]]) -> None:
    _round_trip(rows)


@pytest.mark.slow
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(ROW, min_size=0, max_size=30))
def test_rows_round_trip_many_examples(rows: list[dict[str, Any]]) -> None:
    _round_trip(rows)


def _round_trip(rows: list[dict[str, Any]]) -> None:
    """Rows written through the writer read back the same from pyiceberg and from DuckDB."""
    rows = [{"id": i, **r} for i, r in enumerate(rows)]
    cat = MemCatalog(f"prop{uuid.uuid4().hex[:8]}")
    try:
        cat.create_namespace("db")
        cat.create_table("db.t", SCHEMA)
        with cat.writer("db.t") as w:
            w.write(rows)
        back = cat.load_table("db.t").scan().to_arrow().sort_by("id").to_pylist()
        assert back == rows
        duck = memcatalog.duckdb.connect(cat).sql("SELECT * FROM db.t ORDER BY id").to_arrow_table().to_pylist()
        assert [_plain(r) for r in duck] == [_plain(r) for r in rows]
        assert cat.check() == []
    finally:
        memcatalog.drop_pool(cat.pool.name)


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """DuckDB returns decimals with their scale; compare numerically."""
    out = dict(row)
    if isinstance(out.get("amount"), decimal.Decimal):
        out["amount"] = out["amount"].normalize()
    return out
