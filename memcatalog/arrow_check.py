"""Checking Arrow types against a table's Arrow schema: which conversions are lossless.

A string column must never be parsed into a long field (no silent coercion). Nulls in
required fields are checked by memcatalog.validation, over the Iceberg type.
"""

from __future__ import annotations

import pyarrow as pa
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
