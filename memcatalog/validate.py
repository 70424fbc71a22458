"""Check rows against an Iceberg schema before anything is written: the first error rejects the whole batch."""

from __future__ import annotations

import datetime as dt
import decimal
import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa
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

from memcatalog.arrow_check import first_null, lossless
from memcatalog.errors import SchemaValidationError
from memcatalog.schema import to_arrow

# A list of dicts, a list of tuples in schema order, a pyarrow Table or RecordBatch, or a pandas DataFrame.
Batch = Any

_INT_RANGE = {IntegerType: 2**31, LongType: 2**63}


def validate(data: Batch, schema: Schema, *, ignore_unknown_fields: bool = False) -> pa.Table:
    """Validate a batch and return it as an Arrow table in the schema's exact Arrow form.

    Accepts a list of dicts, a list of tuples or lists in schema order, a ``pyarrow.Table``
    or ``RecordBatch``, or a pandas DataFrame.

    Raises:
        SchemaValidationError: at the first value that does not fit, naming the row, the
            field path (``address.zip``, ``tags[3]``), the expected Iceberg type and the value.
    """
    target = to_arrow(schema)
    if _is_pandas(data):
        data = pa.Table.from_pandas(data, preserve_index=False)
    if isinstance(data, pa.RecordBatch):
        data = pa.Table.from_batches([data])
    if isinstance(data, pa.Table):
        return _validate_arrow(data, schema, target, ignore_unknown_fields)
    rows: list[Any] = list(data)
    for i, row in enumerate(rows):
        _check_row(row, schema, i, ignore_unknown_fields)
    records = [_as_dict(r, schema) for r in rows]
    return pa.Table.from_pylist(records, schema=target)


def _is_pandas(data: Any) -> bool:
    return type(data).__module__.startswith("pandas") and hasattr(data, "columns")


def _as_dict(row: Any, schema: Schema) -> Mapping[str, Any]:
    if isinstance(row, Mapping):
        return row
    return dict(zip([f.name for f in schema.fields], row, strict=False))


def _fail(row: int | None, path: str, expected: IcebergType | str, value: Any, why: str) -> SchemaValidationError:
    where = f"row {row}, " if row is not None else ""
    return SchemaValidationError(
        f"{where}field '{path}': expected {expected}, got {value!r} ({why}); nothing of this batch was written",
        row=row,
        field=path,
    )


def _check_row(row: Any, schema: Schema, i: int, ignore_unknown: bool) -> None:
    if isinstance(row, Mapping):
        _check_struct(row, schema.as_struct(), "", i, ignore_unknown)
    elif isinstance(row, Sequence) and not isinstance(row, (str, bytes)):
        if len(row) != len(schema.fields):
            raise _fail(i, "<row>", f"{len(schema.fields)} values in schema order", row, f"got {len(row)} values")
        _check_struct(
            dict(zip([f.name for f in schema.fields], row, strict=False)), schema.as_struct(), "", i, ignore_unknown
        )
    else:
        raise _fail(i, "<row>", "a dict or a tuple in schema order", row, f"a {type(row).__name__}")


def _check_struct(value: Mapping[str, Any], struct: StructType, prefix: str, row: int, ignore_unknown: bool) -> None:
    names = {f.name for f in struct.fields}
    if not ignore_unknown:
        for key in value:
            if key not in names:
                raise _fail(
                    row,
                    prefix + str(key),
                    "no such field",
                    value[key],
                    "unknown field; pass ignore_unknown_fields=True to drop it",
                )
    for field in struct.fields:
        _check_value(value.get(field.name), field, prefix + field.name, row, ignore_unknown)


def _check_value(value: Any, field: NestedField, path: str, row: int, ignore_unknown: bool) -> None:
    if value is None:
        if field.required:
            raise _fail(row, path, field.field_type, value, "required field is missing or null")
        return
    _check_type(value, field.field_type, path, row, ignore_unknown)


def _check_type(value: Any, t: IcebergType, path: str, row: int, ignore_unknown: bool) -> None:
    if isinstance(t, StructType):
        if not isinstance(value, Mapping):
            raise _fail(row, path, t, value, f"a {type(value).__name__}, not a dict")
        _check_struct(value, t, path + ".", row, ignore_unknown)
    elif isinstance(t, ListType):
        if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
            raise _fail(row, path, t, value, f"a {type(value).__name__}, not a list")
        for j, item in enumerate(value):
            _check_value(item, t.element_field, f"{path}[{j}]", row, ignore_unknown)
    elif isinstance(t, MapType):
        if not isinstance(value, Mapping):
            raise _fail(row, path, t, value, f"a {type(value).__name__}, not a dict")
        for k, v in value.items():
            _check_value(k, t.key_field, f"{path}[{k!r}].key", row, ignore_unknown)
            _check_value(v, t.value_field, f"{path}[{k!r}]", row, ignore_unknown)
    else:
        problem = _primitive_problem(value, t)
        if problem:
            raise _fail(row, path, t, value, problem)


def _primitive_problem(value: Any, t: IcebergType) -> str | None:
    kind = type(value).__name__
    if isinstance(t, BooleanType):
        return None if isinstance(value, bool) else f"a {kind}, not a bool"
    if isinstance(t, (IntegerType, LongType)):
        if isinstance(value, bool) or not isinstance(value, int):
            return f"a {kind}, not an integer"
        limit = _INT_RANGE[type(t)]
        return None if -limit <= value < limit else f"out of range for {t}"
    if isinstance(t, (FloatType, DoubleType)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"a {kind}, not a number"
        return None
    if isinstance(t, DecimalType):
        if isinstance(value, (bool, float)) or not isinstance(value, (int, decimal.Decimal)):
            return f"a {kind}: use decimal.Decimal (a float would lose digits)"
        return _decimal_problem(decimal.Decimal(value), t)
    if isinstance(t, StringType):
        return None if isinstance(value, str) else f"a {kind}, not a str"
    if isinstance(t, UUIDType):
        if isinstance(value, uuid.UUID):
            return None
        return None if isinstance(value, bytes) and len(value) == 16 else f"a {kind}, not a uuid.UUID"
    if isinstance(t, FixedType):
        if not isinstance(value, (bytes, bytearray)):
            return f"a {kind}, not bytes"
        return None if len(value) == len(t) else f"{len(value)} bytes, not {len(t)}"
    if isinstance(t, BinaryType):
        return None if isinstance(value, (bytes, bytearray)) else f"a {kind}, not bytes"
    if isinstance(t, DateType):
        return None if isinstance(value, dt.date) and not isinstance(value, dt.datetime) else f"a {kind}, not a date"
    if isinstance(t, TimeType):
        return None if isinstance(value, dt.time) else f"a {kind}, not a time"
    if isinstance(t, TimestamptzType):
        if not isinstance(value, dt.datetime):
            return f"a {kind}, not a datetime"
        return None if value.tzinfo is not None else "a naive datetime; timestamptz needs a time zone"
    if isinstance(t, TimestampType):
        if not isinstance(value, dt.datetime):
            return f"a {kind}, not a datetime"
        return None if value.tzinfo is None else "a datetime with a time zone; timestamp is without one"
    return f"type {t} is not supported by memcatalog's validation"


def _decimal_problem(value: decimal.Decimal, t: DecimalType) -> str | None:
    if not value.is_finite():
        return "not a finite number"
    _sign, digits, exponent = value.as_tuple()
    scale = -int(exponent)
    if scale > t.scale and value != value.quantize(decimal.Decimal(1).scaleb(-t.scale)):
        return f"scale {scale} is more than {t.scale}"
    integer_digits = len(digits) - max(scale, 0) if len(digits) > scale else 0
    if integer_digits > t.precision - t.scale:
        return (
            f"{integer_digits} digits before the point, more than precision {t.precision} with scale {t.scale} allows"
        )
    return None


def _validate_arrow(data: pa.Table, schema: Schema, target: pa.Schema, ignore_unknown: bool) -> pa.Table:
    names = set(target.names)
    extra = [n for n in data.column_names if n not in names]
    if extra and not ignore_unknown:
        raise _fail(
            None,
            extra[0],
            "no such field",
            data.schema.field(extra[0]).type,
            "unknown column; pass ignore_unknown_fields=True to drop it",
        )
    columns = []
    for field in target:
        iceberg_field = schema.find_field(field.name)
        if field.name not in data.column_names:
            if iceberg_field.required:
                raise _fail(None, field.name, iceberg_field.field_type, None, "required column is missing")
            columns.append(pa.nulls(data.num_rows, field.type))
            continue
        column = data.column(field.name)
        if not lossless(column.type, field.type):
            raise _fail(
                None, field.name, iceberg_field.field_type, _ArrowType(column.type), "it does not convert without loss"
            )
        found = first_null(column, field, field.name)
        if found:
            row, path = found
            raise _fail(row, path, _type_at(schema, path), None, "required field is null")
        columns.append(column if column.type == field.type else _cast(column, field, iceberg_field.field_type))
    return pa.Table.from_arrays(columns, schema=target)


def _cast(column: pa.ChunkedArray, field: pa.Field, expected: IcebergType) -> pa.ChunkedArray:
    try:
        return column.cast(field.type, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
        raise _fail(
            None, field.name, expected, _ArrowType(column.type), f"it does not convert without loss: {e}"
        ) from e


class _ArrowType:
    """Shows an Arrow column's type in an error the way a user reads it."""

    def __init__(self, arrow_type: pa.DataType) -> None:
        self.arrow_type = arrow_type

    def __repr__(self) -> str:
        return f"an Arrow {self.arrow_type} column"


def _type_at(schema: Schema, path: str) -> IcebergType | str:
    """The Iceberg type at a field path such as ``address.zip`` or ``tags[3]``."""
    try:
        return schema.find_type(re.sub(r"\[\d+\]", ".element", path))
    except ValueError:
        return "a value"
