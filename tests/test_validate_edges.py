"""Values the checks passed but Arrow then choked on (a ``<batch>`` error) or altered: each is now right, per row and field."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from pyiceberg.schema import Schema
from pyiceberg.types import (
    DateType,
    DecimalType,
    ListType,
    LongType,
    MapType,
    NestedField,
    StringType,
    StructType,
    TimestampType,
    TimestamptzType,
)

import memcatalog
from memcatalog import SchemaValidationError
from memcatalog.validation import validate

D = decimal.Decimal


def _decimal_schema(t: DecimalType) -> Schema:
    return Schema(
        NestedField(1, "d", t, required=False),
        NestedField(2, "l", ListType(3, t, element_required=False), required=False),
        NestedField(4, "m", MapType(5, StringType(), 6, t, value_required=False), required=False),
        NestedField(7, "s", StructType(NestedField(8, "x", t, required=False)), required=False),
    )


@pytest.mark.parametrize(
    "t,value",
    [
        (DecimalType(9, 2), D("0E+50")),  # zero written with a huge exponent: it is 0
        (DecimalType(9, 2), D("-0E+8")),
        (DecimalType(9, 2), D("1234567.890000000000000000000000000000000000000000")),  # trailing zeros past 38 digits
        (DecimalType(38, 2), D("0E+80")),
        (DecimalType(9, 2), D("15E+5")),
        (DecimalType(9, 0), D("0.000")),
    ],
)
def test_a_decimal_that_fits_is_stored_at_the_fields_scale_wherever_it_is(
    t: DecimalType, value: decimal.Decimal
) -> None:
    schema = _decimal_schema(t)
    row = {"d": value, "l": [value, None], "m": {"k": value}, "s": {"x": value}}
    got = validate([row], schema).to_pylist()[0]
    exact = value.quantize(D(1).scaleb(-t.scale), context=decimal.Context(prec=60))
    # the oracle: Arrow given the value already at the field's scale (and Python's Decimal equality)
    stored = pa.array([exact], pa.decimal128(t.precision, t.scale)).to_pylist()[0]
    assert got == {"d": stored, "l": [stored, None], "m": [("k", stored)], "s": {"x": stored}}
    assert got["d"] == value and str(got["d"]) == str(stored)
    frame = pd.DataFrame({"d": [value, None]})
    assert validate(frame, schema).column("d").to_pylist() == [stored, None]


@pytest.mark.parametrize(
    "value,where,reason",
    [
        (D("1E+10"), "d", "11 digits before the point"),
        (D("0.000000000000000000000000000000000000000000001E+40"), "d", "scale 5 is more than 2"),
    ],
)
def test_a_decimal_that_does_not_fit_is_a_row_and_field_error(value: decimal.Decimal, where: str, reason: str) -> None:
    with pytest.raises(SchemaValidationError) as info:
        validate([{"d": D("1")}, {"d": value}], _decimal_schema(DecimalType(9, 2)))
    assert info.value.row == 1 and info.value.field == where and reason in str(info.value)


def test_a_zero_decimal_with_a_huge_exponent_is_appended_through_the_catalog() -> None:
    cat = memcatalog.MemCatalog(f"dec{uuid.uuid4().hex[:8]}")
    try:
        cat.create_namespace("db")
        cat.create_table("db.t", Schema(NestedField(1, "d", DecimalType(9, 2), required=False)))
        with cat.writer("db.t") as w:
            w.write([{"d": D("0E+50")}, {"d": D("2.5")}])
        assert cat.load_table("db.t").scan().to_arrow().column("d").to_pylist() == [D("0.00"), D("2.50")]
    finally:
        cat.close()
        memcatalog.drop_pool(cat.pool.name)


PANDAS_MISSING: list[Any] = [pd.NaT, pd.NA]


@pytest.mark.parametrize("marker", PANDAS_MISSING, ids=["NaT", "NA"])
@pytest.mark.parametrize("t", [TimestampType(), TimestamptzType(), DateType(), LongType(), DecimalType(9, 2)], ids=str)
def test_a_pandas_missing_marker_in_a_dict_row_names_the_row_and_says_give_none(marker: Any, t: Any) -> None:
    schema = Schema(NestedField(1, "v", t, required=False))
    with pytest.raises(SchemaValidationError) as info:
        validate([{"v": None}, {"v": marker}], schema)
    assert info.value.row == 1 and info.value.field == "v"
    assert "give None for a null" in str(info.value) and str(t) in str(info.value)
    assert validate([{"v": None}], schema).column("v").to_pylist() == [None]


def test_a_pandas_missing_marker_in_a_dataframe_is_still_a_null() -> None:
    schema = Schema(NestedField(1, "v", TimestampType(), required=False))
    frame = pd.DataFrame({"v": pd.Series([dt.datetime(2020, 1, 1), pd.NaT], dtype=object)})
    assert validate(frame, schema).column("v").to_pylist() == [dt.datetime(2020, 1, 1), None]


@pytest.mark.parametrize("t", [TimestampType(), TimestamptzType()], ids=str)
def test_nanoseconds_in_a_row_are_refused_not_truncated(t: Any) -> None:
    tz = "UTC" if isinstance(t, TimestamptzType) else None
    schema = Schema(NestedField(1, "v", t, required=False))
    micro = pd.Timestamp("2020-01-01 00:00:00.000001", tz=tz)
    assert validate([{"v": micro}], schema).column("v").to_pylist() == [micro.to_pydatetime()]
    with pytest.raises(SchemaValidationError) as info:
        validate([{"v": micro}, {"v": pd.Timestamp("2020-01-01 00:00:00.000001001", tz=tz)}], schema)
    assert info.value.row == 1 and info.value.field == "v" and "nanoseconds" in str(info.value)
