"""Check rows against an Iceberg schema before anything is written: the first error rejects the whole batch.

Rows (dicts or tuples), Arrow tables and pandas DataFrames all go through one tree of
checks built from the Iceberg type by one visitor (:func:`_node`). Each node knows its
field's requiredness and children once, and checks both a Python value and an Arrow
array, so the paths cannot disagree about where a null may be or what a field path is.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import struct
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Protocol, TypeAlias, TypeGuard

import pyarrow as pa
import pyarrow.compute as pc
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

from memcatalog.arrow_check import lossless
from memcatalog.errors import SchemaValidationError
from memcatalog.schema import to_arrow

# A list of dicts, a list of tuples in schema order, a pyarrow Table or RecordBatch, or a pandas DataFrame
# (pyarrow carries no types, so mypy cannot tell its tables apart; a DataFrame is an Iterable anyway).
Batch: TypeAlias = Iterable[object] | pa.Table | pa.RecordBatch


class _Series(Protocol):
    """What validation uses of a pandas Series (pandas is optional and ships no types)."""

    @property
    def dtype(self) -> object: ...

    def tolist(self) -> list[object]: ...


class _DataFrame(Protocol):
    """What validation uses of a pandas DataFrame."""

    @property
    def columns(self) -> Iterable[object]: ...

    def __getitem__(self, name: str, /) -> _Series: ...


_INT_RANGE = {IntegerType: 2**31, LongType: 2**63}
_Where = Callable[[int], tuple[int, str]]  # a position in a nested array -> (row, field path)
_PANDAS_INT_HINT = (
    "pandas keeps a missing integer as NaN in a float column: use the nullable integer dtype, "
    "df[column].astype('Int64')"
)


def validate(data: Batch, schema: Schema, *, ignore_unknown_fields: bool = False) -> pa.Table:
    """Validate a batch and return it as an Arrow table in the schema's exact Arrow form.

    Accepts a list of dicts, a list of tuples or lists in schema order, a ``pyarrow.Table``
    or ``RecordBatch``, or a pandas DataFrame.

    Raises:
        SchemaValidationError: at the first value that does not fit, naming the row, the
            field path (``address.zip``, ``tags[3]``, ``scores['math']``), the expected Iceberg
            type and the value.
    """
    target = to_arrow(schema)
    root = _StructNode(schema.as_struct())
    if _is_pandas(data):
        return _validate_arrow(_from_pandas(data, schema, root, ignore_unknown_fields), schema, target, root, True)
    if isinstance(data, pa.RecordBatch):
        data = pa.Table.from_batches([data])
    if isinstance(data, pa.Table):
        return _validate_arrow(data, schema, target, root, ignore_unknown_fields)
    rows: list[object] = list(data)
    for i, row in enumerate(rows):
        root.check_row(row, i, ignore_unknown_fields)
    records = [_as_dict(r, schema) for r in rows]
    if root.has_decimal:  # written at the field's scale: Arrow refuses e.g. Decimal("0E+50") though it is 0
        records = [root.normalize(r) for r in records]
    try:
        return pa.Table.from_pylist(records, schema=target)
    except (pa.ArrowException, ValueError, TypeError, OverflowError) as e:  # a case the checks missed
        raise _fail(None, "<batch>", "rows that Arrow can convert", _Shown(str(e)), type(e).__name__) from e


def _is_pandas(data: object) -> TypeGuard[_DataFrame]:
    return type(data).__module__.startswith("pandas") and hasattr(data, "columns")


def _as_dict(row: object, schema: Schema) -> Mapping[str, object]:
    if isinstance(row, Mapping):
        return row
    assert isinstance(row, Sequence), row  # check_row refused every other row
    return dict(zip([f.name for f in schema.fields], row, strict=False))


def _fail(row: int | None, path: str, expected: IcebergType | str, value: object, why: str) -> SchemaValidationError:
    where = f"row {row}, " if row is not None else ""
    return SchemaValidationError(
        f"{where}field '{path}': expected {expected}, got {value!r} ({why}); nothing of this batch was written",
        row=row,
        field=path,
    )


class _Shown:
    """A value shown in an error the way a user reads it (``repr`` returns the text as is)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _arrow_type(arrow_type: pa.DataType) -> _Shown:
    return _Shown(f"an Arrow {arrow_type} column")


# ---- the tree of checks, one node per Iceberg type --------------------------------------


class _Node:
    """Checks of one Iceberg type, for a Python value and for an Arrow array."""

    def __init__(self, t: IcebergType) -> None:
        self.type = t
        self.has_decimal = isinstance(t, DecimalType)

    def normalize(self, value: object) -> object:
        """A checked non-null value as Arrow converts it exactly (only called where ``has_decimal``).

        ``value`` has passed :meth:`check_value`: each node asserts the shape it checked (dict, list, ...).
        """
        return value

    def check_value(self, value: object, path: str, row: int, ignore_unknown: bool) -> None:
        """Raise at the first problem of a non-null Python value."""
        raise NotImplementedError

    def check_array(self, array: pa.Array, counted: pa.Array, path: str, at: _Where | None = None) -> None:
        """Raise at the first null where a field inside this type is required.

        ``counted`` marks the positions that hold a value (a null struct's children do not count);
        ``at(position) -> (row, path)`` maps a position in ``array`` to the row and path shown.
        """


def _node(t: IcebergType) -> _Node:
    """The visitor: one node class per kind of Iceberg type."""
    if isinstance(t, StructType):
        return _StructNode(t)
    if isinstance(t, ListType):
        return _ListNode(t)
    if isinstance(t, MapType):
        return _MapNode(t)
    return _PrimitiveNode(t)


class _Child:
    """A field inside a nested type: its requiredness, its node, and how its path is written."""

    def __init__(self, field: NestedField) -> None:
        self.field = field
        self.node = _node(field.field_type)

    def normalize(self, value: object) -> object:
        return value if value is None or not self.node.has_decimal else self.node.normalize(value)

    def check_value(self, value: object, path: str, row: int, ignore_unknown: bool) -> None:
        if value is None:
            if self.field.required:
                raise _fail(row, path, self.field.field_type, value, "required field is missing or null")
            return
        self.node.check_value(value, path, row, ignore_unknown)

    def check_array(self, array: pa.Array, counted: pa.Array | None, path: str, at: _Where | None = None) -> None:
        if self.field.required and array.null_count:
            nulls = pc.is_null(array) if counted is None else pc.and_(pc.is_null(array), counted)
            if pc.any(nulls).as_py():
                position = int(pc.index(nulls, True).as_py())
                row, shown = at(position) if at else (position, path)
                raise _fail(row, shown, self.field.field_type, None, "required field is null")
        if isinstance(self.node, _PrimitiveNode):
            return  # nothing inside it can be required
        valid = pc.is_valid(array) if counted is None else pc.and_(pc.is_valid(array), counted)
        self.node.check_array(array, valid, path, at)


class _StructNode(_Node):
    def __init__(self, t: StructType) -> None:
        super().__init__(t)
        self.children = [_Child(f) for f in t.fields]
        self.names = {f.name for f in t.fields}
        self.has_decimal = any(c.node.has_decimal for c in self.children)

    def normalize(self, value: object) -> dict[str, object]:
        assert isinstance(value, Mapping), value  # check_value refused every other value
        return {c.field.name: c.normalize(value.get(c.field.name)) for c in self.children}

    def child(self, name: str) -> _Child | None:
        return next((c for c in self.children if c.field.name == name), None)

    def check_row(self, row: object, i: int, ignore_unknown: bool) -> None:
        if isinstance(row, Mapping):
            self._check_mapping(row, "", i, ignore_unknown)
        elif isinstance(row, Sequence) and not isinstance(row, (str, bytes)):
            if len(row) != len(self.children):
                n = len(self.children)
                raise _fail(i, "<row>", f"{n} values in schema order", row, f"got {len(row)} values")
            named = dict(zip([c.field.name for c in self.children], row, strict=False))
            self._check_mapping(named, "", i, ignore_unknown)
        else:
            raise _fail(i, "<row>", "a dict or a tuple in schema order", row, f"a {type(row).__name__}")

    def check_value(self, value: object, path: str, row: int, ignore_unknown: bool) -> None:
        if not isinstance(value, Mapping):
            raise _fail(row, path, self.type, value, f"a {type(value).__name__}, not a dict")
        self._check_mapping(value, path + ".", row, ignore_unknown)

    def _check_mapping(self, value: Mapping[str, object], prefix: str, row: int, ignore_unknown: bool) -> None:
        if not ignore_unknown:
            for key in value:
                if key not in self.names:
                    why = "unknown field; pass ignore_unknown_fields=True to drop it"
                    raise _fail(row, prefix + str(key), "no such field", value[key], why)
        for child in self.children:
            child.check_value(value.get(child.field.name), prefix + child.field.name, row, ignore_unknown)

    def check_array(self, array: pa.Array, counted: pa.Array, path: str, at: _Where | None = None) -> None:
        for child in self.children:
            inner = _suffixed(at, "." + child.field.name) if at else None
            child.check_array(array.field(child.field.name), counted, f"{path}.{child.field.name}", inner)

    def check_columns(self, table: pa.Table) -> None:
        """Top level: each column is a child of the schema's struct."""
        for child in self.children:
            if child.field.name in table.column_names:
                child.check_array(table.column(child.field.name).combine_chunks(), None, child.field.name)


def _suffixed(at: _Where, suffix: str) -> _Where:
    def where(position: int) -> tuple[int, str]:
        row, shown = at(position)
        return row, shown + suffix

    return where


class _ListNode(_Node):
    def __init__(self, t: ListType) -> None:
        super().__init__(t)
        self.element = _Child(t.element_field)
        self.has_decimal = self.element.node.has_decimal

    def normalize(self, value: object) -> list[object]:
        assert isinstance(value, Sequence), value  # check_value refused every other value
        return [self.element.normalize(v) for v in value]

    def check_value(self, value: object, path: str, row: int, ignore_unknown: bool) -> None:
        if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
            raise _fail(row, path, self.type, value, f"a {type(value).__name__}, not a list")
        for j, item in enumerate(value):
            self.element.check_value(item, f"{path}[{j}]", row, ignore_unknown)

    def check_array(self, array: pa.Array, counted: pa.Array, path: str, at: _Where | None = None) -> None:
        lists = array.filter(counted)  # the lists that hold a value; their positions in ``array``:
        rows = pc.indices_nonzero(counted)
        offsets = lists.offsets

        def where(position: int) -> tuple[int, str]:
            parent, index = _parent(offsets, position)
            row, shown = at(rows[parent].as_py()) if at else (rows[parent].as_py(), path)
            return row, f"{shown}[{index}]"

        self.element.check_array(_values(lists, lists.values), None, path, where)


class _MapNode(_Node):
    def __init__(self, t: MapType) -> None:
        super().__init__(t)
        self.key = _Child(t.key_field)
        self.value = _Child(t.value_field)
        self.has_decimal = self.key.node.has_decimal or self.value.node.has_decimal

    def normalize(self, value: object) -> list[tuple[object, object]]:
        assert isinstance(value, Mapping), value  # check_value refused every other value
        return [(self.key.normalize(k), self.value.normalize(v)) for k, v in value.items()]

    def check_value(self, value: object, path: str, row: int, ignore_unknown: bool) -> None:
        if not isinstance(value, Mapping):
            raise _fail(row, path, self.type, value, f"a {type(value).__name__}, not a dict")
        for k, v in value.items():
            self.key.check_value(k, f"{path}[{k!r}].key", row, ignore_unknown)
            self.value.check_value(v, f"{path}[{k!r}]", row, ignore_unknown)

    def check_array(self, array: pa.Array, counted: pa.Array, path: str, at: _Where | None = None) -> None:
        maps = array.filter(counted)
        rows = pc.indices_nonzero(counted)
        offsets = maps.offsets
        keys, items = _values(maps, maps.keys), _values(maps, maps.items)

        def where(suffix: str) -> _Where:
            def at_position(position: int) -> tuple[int, str]:
                parent, _ = _parent(offsets, position)
                row, shown = at(rows[parent].as_py()) if at else (rows[parent].as_py(), path)
                return row, f"{shown}[{keys[position].as_py()!r}]{suffix}"

            return at_position

        self.key.check_array(keys, None, path, where(".key"))
        self.value.check_array(items, None, path, where(""))


def _values(array: pa.Array, values: pa.Array) -> pa.Array:
    """The child values a list or map array's offsets point at (``.values`` and ``.keys`` ignore slicing)."""
    first, last = array.offsets[0].as_py(), array.offsets[-1].as_py()
    return values.slice(first, last - first)


def _parent(offsets: pa.Array, position: int) -> tuple[int, int]:
    """(list, index in it) of a position in a list array's values, counted from its first offset."""
    starts = offsets.to_numpy()
    target = position + int(starts[0])
    parent = int(starts.searchsorted(target, side="right")) - 1
    return parent, target - int(starts[parent])


class _PrimitiveNode(_Node):
    def normalize(self, value: object) -> int | decimal.Decimal:
        assert isinstance(self.type, DecimalType)
        if isinstance(value, int):
            return value
        assert isinstance(value, decimal.Decimal), value  # check_value refused every other value
        exact = decimal.Context(prec=self.type.precision + 1, traps=[decimal.Inexact])
        return value.quantize(decimal.Decimal(1).scaleb(-self.type.scale), context=exact)

    def check_value(self, value: object, path: str, row: int, ignore_unknown: bool) -> None:
        problem = _primitive_problem(value, self.type)
        if problem:
            raise _fail(row, path, self.type, value, problem)


# ---- primitive values --------------------------------------------------------------------


def _primitive_problem(value: object, t: IcebergType) -> str | None:
    kind = type(value).__name__
    if kind in ("NaTType", "NAType"):
        return f"pandas' missing-value marker {kind[:-4]}, not a value: give None for a null"
    if isinstance(t, BooleanType):
        return None if isinstance(value, bool) else f"a {kind}, not a bool"
    if isinstance(t, (IntegerType, LongType)):
        if isinstance(value, bool) or not isinstance(value, int):
            return f"a {kind}, not an integer"
        limit = _INT_RANGE[type(t)]
        return None if -limit <= value < limit else f"out of range for {t}"
    if isinstance(t, (FloatType, DoubleType)):
        return _float_problem(value, t)
    if isinstance(t, DecimalType):
        if isinstance(value, (bool, float)) or not isinstance(value, (int, decimal.Decimal)):
            return f"a {kind}: use decimal.Decimal (a float would lose digits)"
        return _decimal_problem(decimal.Decimal(value), t)
    if isinstance(t, StringType):
        return _string_problem(value)
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
    return _temporal_problem(value, t)


def _float_problem(value: object, t: FloatType | DoubleType) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"a {type(value).__name__}, not a number"
    if isinstance(t, DoubleType):
        if isinstance(value, int) and (abs(value) >= 2**1024 or int(float(value)) != value):
            return "an integer a double cannot hold exactly; pass a float to accept the rounding"
        return None
    try:
        stored = struct.unpack("f", struct.pack("f", value))[0]
    except OverflowError:
        stored = math.inf
    if math.isinf(stored) and not math.isinf(value):
        return "too large for float (at most about 3.4e38); use a double column"
    if isinstance(value, int) and stored != value:
        return "an integer a float cannot hold exactly; pass a float to accept the rounding"
    return None


def _string_problem(value: object) -> str | None:
    if not isinstance(value, str):
        return f"a {type(value).__name__}, not a str"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as e:
            return f"not valid Unicode: a lone surrogate {value[e.start]!r} at position {e.start}"
    return None


def _temporal_problem(value: object, t: IcebergType) -> str | None:
    kind = type(value).__name__
    if isinstance(t, DateType):
        return None if isinstance(value, dt.date) and not isinstance(value, dt.datetime) else f"a {kind}, not a date"
    if isinstance(t, TimeType):
        return None if isinstance(value, dt.time) else f"a {kind}, not a time"
    nanoseconds: int = getattr(value, "nanosecond", 0)  # a pandas Timestamp's, which Arrow would drop
    if isinstance(t, (TimestampType, TimestamptzType)) and nanoseconds:
        return f"{nanoseconds} nanoseconds: {t} holds microseconds; round the value first"
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
    # Exact arithmetic whatever the caller's decimal context: the default 28 digits cannot hold decimal(38, s).
    context = decimal.Context(prec=max(len(value.as_tuple().digits), t.precision) + t.scale + 2)
    exponent = int(value.as_tuple().exponent)
    if -exponent > t.scale and value != value.quantize(decimal.Decimal(1).scaleb(-t.scale), context=context):
        return f"scale {-exponent} is more than {t.scale}"
    integer_digits = value.adjusted() + 1 if value != 0 and value.adjusted() >= 0 else 0
    if integer_digits > t.precision - t.scale:
        return (
            f"{integer_digits} digits before the point, more than precision {t.precision} with scale {t.scale} allows"
        )
    return None


# ---- Arrow and pandas --------------------------------------------------------------------


def _from_pandas(df: _DataFrame, schema: Schema, root: _StructNode, ignore_unknown: bool) -> pa.Table:
    """A DataFrame as Arrow, column by column.

    A column of Python objects is checked value by value, like rows, then converted to the
    field's Arrow type; a typed column (numbers, datetimes, pandas' extension types) is
    converted as it is and checked like any Arrow column.
    """
    target = to_arrow(schema)
    arrays, names = [], []
    for name in (str(n) for n in df.columns):
        series = df[name]
        child = root.child(name)
        if child is None:
            if ignore_unknown:
                continue
            why = "unknown column; pass ignore_unknown_fields=True to drop it"
            raise _fail(None, name, "no such field", _Shown(f"a pandas {series.dtype} column"), why)
        field = child.field
        objects = series.dtype == object
        arrow_type = target.field(name).type if objects else None
        array = _strict_objects(series, field, arrow_type) if objects else None
        if objects and array is None:
            values = [None if _is_missing(v) else v for v in series.tolist()]
            for i, value in enumerate(values):
                child.check_value(value, name, i, ignore_unknown)
            if child.node.has_decimal:  # at the field's scale, as for rows
                array = pa.array([child.normalize(v) for v in values], type=arrow_type)
        try:
            array = array if array is not None else pa.Array.from_pandas(series, type=arrow_type)
        except (pa.ArrowException, ValueError, TypeError, OverflowError) as e:
            why = f"Arrow cannot convert it: {e}"
            raise _fail(None, name, field.field_type, _Shown(f"a pandas {series.dtype} column"), why) from e
        # pandas keeps a missing integer as NaN, which makes the whole column floats.
        ints = isinstance(field.field_type, (IntegerType, LongType))
        if ints and pa.types.is_floating(array.type) and array.null_count:
            row = int(pc.index(pc.is_null(array), True).as_py())
            raise _fail(row, name, field.field_type, _Shown("NaN"), _PANDAS_INT_HINT)
        arrays.append(array)
        names.append(name)
    return pa.Table.from_arrays(arrays, names=names)


# Python types that Arrow converts into these Iceberg types exactly or not at all (it refuses an
# int out of range, a string with a lone surrogate): a column holding only these skips the
# value-by-value check. Floats, decimals and datetimes are always checked value by value.
_STRICT_ARROW: dict[type[IcebergType], frozenset[type]] = {
    StringType: frozenset({str}),
    BinaryType: frozenset({bytes}),
    LongType: frozenset({int}),
    IntegerType: frozenset({int}),
    BooleanType: frozenset({bool}),
    DateType: frozenset({dt.date}),
}


def _strict_objects(series: _Series, field: NestedField, arrow_type: pa.DataType | None) -> pa.Array | None:
    """The column converted at once where only strictly converted Python types are in it, else None."""
    allowed = _STRICT_ARROW.get(type(field.field_type))
    if allowed is None or not set(map(type, series.tolist())) - {type(None)} <= allowed:
        return None
    try:
        return pa.Array.from_pandas(series, type=arrow_type)
    except (pa.ArrowException, ValueError, TypeError, OverflowError):
        return None  # the value-by-value check finds the row


def _is_missing(value: object) -> bool:
    return (
        value is None or (isinstance(value, float) and value != value) or type(value).__name__ in ("NAType", "NaTType")
    )


def _validate_arrow(
    data: pa.Table, schema: Schema, target: pa.Schema, root: _StructNode, ignore_unknown: bool
) -> pa.Table:
    names = set(target.names)
    extra = [n for n in data.column_names if n not in names]
    if extra and not ignore_unknown:
        why = "unknown column; pass ignore_unknown_fields=True to drop it"
        raise _fail(None, extra[0], "no such field", _arrow_type(data.schema.field(extra[0]).type), why)
    for field in target:
        iceberg_field = schema.find_field(field.name)
        if field.name not in data.column_names:
            if iceberg_field.required:
                raise _fail(None, field.name, iceberg_field.field_type, None, "required column is missing")
            continue
        column = data.column(field.name)
        if not lossless(column.type, field.type):
            why = "it does not convert without loss"
            raise _fail(None, field.name, iceberg_field.field_type, _arrow_type(column.type), why)
    root.check_columns(data)
    columns = []
    for field in target:
        if field.name not in data.column_names:
            columns.append(pa.nulls(data.num_rows, field.type))
            continue
        column = data.column(field.name)
        expected = schema.find_field(field.name).field_type
        columns.append(column if column.type == field.type else _cast(column, field, expected))
    return pa.Table.from_arrays(columns, schema=target)


def _cast(column: pa.ChunkedArray, field: pa.Field, expected: IcebergType) -> pa.ChunkedArray:
    try:
        return column.cast(field.type, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
        why = f"it does not convert without loss: {e}"
        raise _fail(None, field.name, expected, _arrow_type(column.type), why) from e
