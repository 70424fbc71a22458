"""Iceberg <-> Arrow schema conversion (pyiceberg's, keeping field ids, required flags and docs)."""

from __future__ import annotations

import pyarrow as pa
from pyiceberg.io.pyarrow import pyarrow_to_schema, schema_to_pyarrow
from pyiceberg.schema import Schema


def to_arrow(schema: Schema) -> pa.Schema:
    """The Arrow schema of an Iceberg schema: ``PARQUET:field_id`` and ``doc`` on every field, nullability from required."""
    return schema_to_pyarrow(schema, include_field_ids=True)


def from_arrow(schema: pa.Schema, format_version: int = 2) -> Schema:
    """The Iceberg schema of an Arrow schema that carries ``PARQUET:field_id`` metadata."""
    return pyarrow_to_schema(schema, format_version=format_version)  # type: ignore[arg-type]
