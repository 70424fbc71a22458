"""Schema conversion round trips and batch validation: the first error rejects the whole batch."""

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
    BinaryType,
    BooleanType,
    DateType,
    DecimalType,
    DoubleType,
    FixedType,
    FloatType,
    IcebergType,
    IntegerType,
    ListType,
    LongType,
    MapType,
    NestedField,
    StringType,
    StructType,
    TimestampType,
    TimestamptzType,
    TimeType,
    UUIDType,
)

from memcatalog import SchemaValidationError, validate
from memcatalog.schema import from_arrow, to_arrow

UTC = dt.timezone.utc

# (type, a valid value, an invalid value, the reason shown for it)
CASES: list[tuple[IcebergType, Any, Any, str]] = [
    (BooleanType(), True, 1, "not a bool"),
    (IntegerType(), 2**31 - 1, 2**31, "out of range for int"),
    (LongType(), -(2**63), 2**63, "out of range for long"),
    (LongType(), 5, 3.7, "a float, not an integer"),
    (LongType(), 5, "12", "a str, not an integer"),
    (FloatType(), 1.5, "1.5", "not a number"),
    (DoubleType(), 2, True, "not a number"),
    (DecimalType(5, 2), decimal.Decimal("123.45"), decimal.Decimal("1234.5"), "digits before the point"),
    (DecimalType(5, 2), decimal.Decimal("1.2"), decimal.Decimal("1.234"), "scale 3 is more than 2"),
    (DecimalType(5, 2), decimal.Decimal("1.00"), 1.0, "use decimal.Decimal"),
    (DateType(), dt.date(2026, 1, 2), dt.datetime(2026, 1, 2), "not a date"),
    (TimeType(), dt.time(1, 2, 3), "01:02:03", "not a time"),
    (TimestampType(), dt.datetime(2026, 1, 2, 3), dt.datetime(2026, 1, 2, tzinfo=UTC), "with a time zone"),
    (TimestamptzType(), dt.datetime(2026, 1, 2, tzinfo=UTC), dt.datetime(2026, 1, 2), "a naive datetime"),
    (StringType(), "text", b"bytes", "not a str"),
    (UUIDType(), uuid.UUID(int=7), "not-a-uuid", "not a uuid.UUID"),
    (FixedType(3), b"abc", b"abcd", "4 bytes, not 3"),
    (BinaryType(), b"\x00\x01", "text", "not bytes"),
]


@pytest.mark.parametrize("iceberg_type,good,bad,reason", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_every_type_valid_and_invalid(iceberg_type: IcebergType, good: Any, bad: Any, reason: str) -> None:
    schema = Schema(NestedField(1, "id", LongType(), required=True), NestedField(2, "v", iceberg_type, required=False))
    table = validate([{"id": 1, "v": good}, {"id": 2, "v": None}], schema)
    assert table.num_rows == 2
    with pytest.raises(SchemaValidationError) as info:
        validate([{"id": 1, "v": good}, {"id": 2, "v": bad}], schema)
    message = str(info.value)
    assert message.startswith("row 1, field 'v': expected ") and reason in message and repr(bad) in message
    assert info.value.row == 1 and info.value.field == "v"


NESTED = Schema(
    NestedField(1, "id", LongType(), required=True),
    NestedField(
        2,
        "address",
        StructType(NestedField(3, "street", StringType()), NestedField(4, "zip", StringType(), required=True)),
        required=False,
    ),
    NestedField(5, "tags", ListType(6, StringType(), element_required=True), required=False),
    NestedField(
        7,
        "scores",
        MapType(8, StringType(), 9, ListType(10, DoubleType(), element_required=False), value_required=False),
        required=False,
    ),
)


@pytest.mark.parametrize(
    "row,path,reason",
    [
        ({"id": 1, "address": {"street": "x"}}, "address.zip", "required field is missing"),
        ({"id": 1, "address": {"zip": 12345}}, "address.zip", "not a str"),
        ({"id": 1, "address": {"zip": "1", "planet": "earth"}}, "address.planet", "unknown field"),
        ({"id": 1, "tags": ["a", "b", "c", 4]}, "tags[3]", "not a str"),
        ({"id": 1, "tags": ["a", None]}, "tags[1]", "required field is missing or null"),
        ({"id": 1, "tags": "abc"}, "tags", "not a list"),
        ({"id": 1, "scores": {"math": [1.0, "x"]}}, "scores['math'][1]", "not a number"),
        ({"id": 1, "scores": {3: [1.0]}}, "scores[3].key", "not a str"),
        ({"address": None}, "id", "required field is missing"),
    ],
)
def test_nested_error_paths(row: dict[str, Any], path: str, reason: str) -> None:
    with pytest.raises(SchemaValidationError) as info:
        validate([{"id": 0}, row], NESTED)
    assert info.value.field == path and info.value.row == 1
    assert reason in str(info.value) and "nothing of this batch was written" in str(info.value)


def test_tuples_in_schema_order_and_unknown_fields_option() -> None:
    schema = Schema(NestedField(1, "a", LongType()), NestedField(2, "b", StringType()))
    assert validate([(1, "x"), [2, None]], schema).to_pylist() == [{"a": 1, "b": "x"}, {"a": 2, "b": None}]
    with pytest.raises(SchemaValidationError, match="2 values in schema order"):
        validate([(1,)], schema)
    assert validate([{"a": 1, "zz": 9}], schema, ignore_unknown_fields=True).to_pylist() == [{"a": 1, "b": None}]


SMALL = Schema(NestedField(1, "a", LongType(), required=True), NestedField(2, "b", StringType()))
TIMESTAMPS = Schema(NestedField(1, "t", TimestampType()))


def test_an_arrow_table_is_accepted() -> None:
    table = pa.table({"a": pa.array([1, 2], pa.int64()), "b": ["x", "y"]})
    assert validate(table, SMALL).column("a").to_pylist() == [1, 2]


def test_a_record_batch_is_accepted() -> None:
    table = pa.table({"a": pa.array([1, 2], pa.int64()), "b": ["x", "y"]})
    assert validate(table.to_batches()[0], SMALL).num_rows == 2


def test_a_pandas_dataframe_is_accepted() -> None:
    assert validate(pd.DataFrame({"a": [3], "b": ["z"]}), SMALL).to_pylist() == [{"a": 3, "b": "z"}]


def test_a_missing_optional_column_becomes_nulls() -> None:
    assert validate(pa.table({"a": pa.array([1], pa.int64())}), SMALL).column("b").null_count == 1


def test_a_null_in_a_required_field_names_the_row_and_field() -> None:
    with pytest.raises(SchemaValidationError, match=r"row 1, field .a..*required field is null"):
        validate(pa.table({"a": pa.array([1, None], pa.int64())}), SMALL)


def test_an_unknown_column_is_refused() -> None:
    with pytest.raises(SchemaValidationError, match=r"field .c..*unknown column"):
        validate(pa.table({"a": pa.array([1], pa.int64()), "c": [1]}), SMALL)


def test_a_missing_required_column_is_refused() -> None:
    with pytest.raises(SchemaValidationError, match="required column is missing"):
        validate(pa.table({"b": ["1"]}), SMALL)


def test_a_string_column_for_a_long_field_is_refused_as_lossy() -> None:
    with pytest.raises(
        SchemaValidationError, match=r"expected long, got an Arrow string column .it does not convert without loss"
    ):
        validate(pa.table({"a": pa.array(["1"])}), SMALL)


def test_a_double_column_for_a_long_field_is_refused() -> None:
    with pytest.raises(SchemaValidationError, match="got an Arrow double column"):
        validate(pa.table({"a": pa.array([1.5])}), SMALL)


def test_an_int32_column_is_widened_to_long_without_loss() -> None:
    widened = validate(pa.table({"a": pa.array([7], pa.int32())}), SMALL)
    assert widened.schema.field("a").type == pa.int64() and widened.column("a").to_pylist() == [7]


def test_pandas_nanosecond_timestamps_with_whole_microseconds_are_kept() -> None:
    exact = pd.DataFrame({"t": pd.to_datetime(["2026-01-01 00:00:00.000001"])})  # pandas uses ns
    assert validate(exact, TIMESTAMPS).column("t").to_pylist() == [dt.datetime(2026, 1, 1, 0, 0, 0, 1)]


def test_pandas_timestamps_with_nanoseconds_are_refused_not_truncated() -> None:
    with pytest.raises(SchemaValidationError, match="does not convert without loss"):
        validate(pd.DataFrame({"t": pd.to_datetime(["2026-01-01 00:00:00.000000001"])}), TIMESTAMPS)


ROUND_TRIP = Schema(
    NestedField(1, "b", BooleanType(), required=True, doc="a flag"),
    NestedField(2, "i", IntegerType()),
    NestedField(3, "l", LongType()),
    NestedField(4, "f", FloatType()),
    NestedField(5, "d", DoubleType()),
    NestedField(6, "dec", DecimalType(38, 10)),
    NestedField(7, "date", DateType()),
    NestedField(8, "time", TimeType()),
    NestedField(9, "ts", TimestampType()),
    NestedField(10, "tstz", TimestamptzType()),
    NestedField(11, "s", StringType(), doc="some text"),
    NestedField(12, "u", UUIDType()),
    NestedField(13, "fx", FixedType(16)),
    NestedField(14, "bin", BinaryType()),
    NestedField(
        15,
        "deep",
        StructType(
            NestedField(
                16, "inner", ListType(17, MapType(18, StringType(), 19, StructType(NestedField(20, "x", LongType()))))
            )
        ),
        required=True,
    ),
)


def test_schema_round_trip_keeps_ids_required_and_docs() -> None:
    arrow = to_arrow(ROUND_TRIP)
    assert arrow.field("b").metadata[b"PARQUET:field_id"] == b"1"
    assert not arrow.field("b").nullable and arrow.field("i").nullable
    back = from_arrow(arrow)
    assert back == ROUND_TRIP
    assert back.find_field("s").doc == "some text"


def test_arrow_nested_required_fields() -> None:
    """Arrow columns may be declared nullable; what counts is whether a required field holds a null."""
    address = pa.struct([("street", pa.string()), ("zip", pa.string())])
    fine = pa.table(
        {
            "id": pa.array([1, 2, 3], pa.int64()),
            "address": pa.array([{"street": None, "zip": "1"}, None, {"street": "s", "zip": "3"}], address),
            "tags": pa.array([["a"], None, []], pa.list_(pa.string())),
        }
    )
    assert validate(fine, NESTED).num_rows == 3  # a null struct's children do not count
    bad_zip = fine.set_column(
        1,
        "address",
        pa.array([{"zip": "1"}, None, {"zip": None}], pa.struct([("street", pa.string()), ("zip", pa.string())])),
    )
    with pytest.raises(SchemaValidationError, match=r"row 2, field 'address\.zip': expected string"):
        validate(bad_zip, NESTED)
    bad_tag = fine.set_column(2, "tags", pa.array([["a"], None, ["b", "c", None]], pa.list_(pa.string())))
    with pytest.raises(SchemaValidationError, match=r"row 2, field 'tags\[2\]': expected string"):
        validate(bad_tag, NESTED)


# --- edges: every path rejects with SchemaValidationError, and rows, Arrow and pandas agree ---

MAPS = Schema(
    NestedField(1, "id", LongType(), required=True),
    NestedField(2, "m", MapType(3, StringType(), 4, LongType(), value_required=True), required=False),
    NestedField(
        5,
        "s",
        StructType(NestedField(6, "tags", ListType(7, StringType(), element_required=True), required=False)),
        required=False,
    ),
)
MAPS_ARROW = to_arrow(MAPS)


def _as_arrow(rows: list[dict[str, Any]], schema: Schema) -> pa.Table:
    """The rows as an Arrow table whose columns all say nullable, as most producers write them."""
    loose = pa.schema([f.with_nullable(True) for f in to_arrow(schema)])
    return pa.Table.from_pylist(rows, schema=loose)


@pytest.mark.parametrize(
    "bad,path",
    [
        ({"id": 3, "m": {"a": 1, "b": None}}, "m['b']"),
        ({"id": 3, "s": {"tags": ["x", None]}}, "s.tags[1]"),
    ],
)
def test_a_null_where_required_fails_alike_for_rows_arrow_and_pandas(bad: dict[str, Any], path: str) -> None:
    rows = [{"id": 1, "m": {"a": 1}, "s": None}, {"id": 2, "m": None, "s": {"tags": ["y"]}}, bad]
    errors = []
    for data in (rows, _as_arrow(rows, MAPS), pd.DataFrame(rows)):
        with pytest.raises(SchemaValidationError) as info:
            validate(data, MAPS)
        errors.append((info.value.row, info.value.field))
        assert "required field" in str(info.value)
    assert errors == [(2, path)] * 3


def test_valid_nested_nulls_pass_alike_for_rows_arrow_and_pandas() -> None:
    rows = [{"id": 1, "m": {"a": 1}, "s": None}, {"id": 2, "m": None, "s": {"tags": None}}]
    expected = pa.Table.from_pylist(rows, schema=MAPS_ARROW)
    for data in (rows, _as_arrow(rows, MAPS), pd.DataFrame(rows)):
        assert validate(data, MAPS).equals(expected)


@pytest.mark.parametrize(
    "iceberg_type,good,bad,reason",
    [
        (DoubleType(), 2**53, 2**53 + 1, "a double cannot hold exactly"),
        (DoubleType(), 1.5, 10**400, "a double cannot hold exactly"),
        (FloatType(), 1.5, 1e300, "too large for float"),
        (FloatType(), 2**24, 2**24 + 1, "a float cannot hold exactly"),
        (DecimalType(9, 2), decimal.Decimal("1E+6"), decimal.Decimal("1E+10"), "11 digits before the point"),
        (DecimalType(38, 2), decimal.Decimal("9" * 27 + ".25"), decimal.Decimal("9" * 37), "37 digits before"),
        (DecimalType(38, 2), decimal.Decimal("1" * 29 + ".500"), decimal.Decimal("1.255"), "scale 3 is more than 2"),
        (StringType(), "caf\u00e9 \U0001f600", "bad \ud800 half", "lone surrogate"),
    ],
)
def test_values_arrow_would_alter_or_choke_on_are_rejected(
    iceberg_type: IcebergType, good: Any, bad: Any, reason: str
) -> None:
    schema = Schema(NestedField(1, "v", iceberg_type))
    assert validate([{"v": good}], schema).column("v").to_pylist() == [good]
    with pytest.raises(SchemaValidationError) as info:
        validate([{"v": good}, {"v": bad}], schema)
    assert info.value.row == 1 and info.value.field == "v" and reason in str(info.value)
    assert str(iceberg_type) in str(info.value)


def test_a_pandas_object_column_of_mixed_types_names_the_row() -> None:
    schema = Schema(NestedField(1, "s", StringType()))
    with pytest.raises(SchemaValidationError) as info:
        validate(pd.DataFrame({"s": ["a", "b", 3]}), schema)
    assert (
        info.value.row == 2
        and info.value.field == "s"
        and "an int, not a str" in str(info.value).replace("a int", "an int")
    )


def test_a_pandas_null_in_an_int_column_hints_at_nullable_int64() -> None:
    schema = Schema(NestedField(1, "n", LongType()))
    with pytest.raises(SchemaValidationError, match=r"astype\('Int64'\)") as info:
        validate(pd.DataFrame({"n": [1, None, 3]}), schema)
    assert info.value.row == 1 and info.value.field == "n"
    fixed = pd.DataFrame({"n": [1, None, 3]}).astype("Int64")
    assert validate(fixed, schema).column("n").to_pylist() == [1, None, 3]
