"""Checking Arrow data against a table's Arrow schema: lossless types, and no null where a field is required.

Arrow tables carry their own types and nullability; a column may be declared nullable
and still hold no null, which is fine for a required field, while a string column must
never be parsed into a long field (no silent coercion).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.types as pt


def lossless(source: pa.DataType, target: pa.DataType) -> bool:
    """Whether every value of ``source`` converts to ``target`` exactly (nullability aside)."""
    if source == target or pt.is_null(source):  # a column of nulls only (required ones are caught apart)
        return True
    if pt.is_integer(source) and pt.is_integer(target):
        return bool(
            pt.is_signed_integer(target)
            and source.bit_width <= target.bit_width
            and (pt.is_signed_integer(source) or source.bit_width < target.bit_width)
        )
    if pt.is_floating(source) and pt.is_floating(target):
        return bool(source.bit_width <= target.bit_width)
    if (_is_string(source) and _is_string(target)) or (_is_binary(source) and _is_binary(target)):
        return True
    if pt.is_decimal(source) and pt.is_decimal(target):
        return bool(source.scale == target.scale and source.precision <= target.precision)
    if pt.is_timestamp(source) and pt.is_timestamp(target):
        # A finer unit (pandas' ns) is fine when every value is whole in the target unit; the
        # caller's safe cast refuses any value that would be truncated.
        return bool((source.tz is None) == (target.tz is None))
    if (pt.is_date(source) and pt.is_date(target)) or (pt.is_time(source) and pt.is_time(target)):
        return True
    if pt.is_struct(source) and pt.is_struct(target):
        return _struct_lossless(source, target)
    if _is_list(source) and _is_list(target):
        return lossless(source.value_type, target.value_type)
    if pt.is_map(source) and pt.is_map(target):
        return lossless(source.key_type, target.key_type) and lossless(source.item_type, target.item_type)
    return False


def _struct_lossless(source: pa.StructType, target: pa.StructType) -> bool:
    names = [source.field(i).name for i in range(source.num_fields)]
    if names != [target.field(i).name for i in range(target.num_fields)]:
        return False
    return all(lossless(source.field(i).type, target.field(i).type) for i in range(source.num_fields))


def _is_string(t: pa.DataType) -> bool:
    return bool(pt.is_string(t) or pt.is_large_string(t) or pt.is_string_view(t))


def _is_binary(t: pa.DataType) -> bool:
    return bool(pt.is_binary(t) or pt.is_large_binary(t) or pt.is_binary_view(t))


def _is_list(t: pa.DataType) -> bool:
    return bool(pt.is_list(t) or pt.is_large_list(t) or pt.is_fixed_size_list(t) or pt.is_list_view(t))


def first_null(
    array: pa.Array | pa.ChunkedArray, target: pa.Field, path: str, counted: pa.Array | None = None
) -> tuple[int, str] | None:
    """(row, field path) of the first null where ``target``, or a field inside it, is required.

    ``counted`` marks the rows that matter (a null struct makes its children's values moot).
    """
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    nulls = pc.is_null(array)
    if counted is not None:
        nulls = pc.and_(nulls, counted)
    if not target.nullable and pc.any(nulls).as_py():
        return int(pc.index(nulls, True).as_py()), path
    kind = target.type
    valid = pc.is_valid(array) if counted is None else pc.and_(pc.is_valid(array), counted)
    if pt.is_struct(kind):
        for i in range(kind.num_fields):
            child = kind.field(i)
            found = first_null(array.field(i), child, f"{path}.{child.name}", valid)
            if found:
                return found
    elif (pt.is_list(kind) or pt.is_large_list(kind)) and len(array):
        values = array.flatten()  # values of the non-null lists only
        found = first_null(values, kind.value_field, "")
        if found:
            position, inner = found
            parents = pc.list_parent_indices(array)
            row = parents[position].as_py()
            index = position - pc.index(parents, row).as_py()
            return row, f"{path}[{index}]{inner}"
    return None
