"""memcatalog: Iceberg tables in memory, through pyiceberg, fsspec and DuckDB."""

from __future__ import annotations

from memcatalog.config import parse_size
from memcatalog.errors import (
    DataNotInMemoryError,
    EmptyNamespaceError,
    ExtensionNotAvailableError,
    InvalidMetadataError,
    MemcatalogError,
    QuotaExceededError,
    SaveFormatError,
    SchemaValidationError,
    WriteAbortedError,
)
from memcatalog.filesystem import MemCatalogFileSystem
from memcatalog.pool import Pool, PoolStats, PressureAlert, drop_pool, get_pool, list_pools

__version__ = "0.1.0"

__all__ = [
    "DataNotInMemoryError",
    "EmptyNamespaceError",
    "ExtensionNotAvailableError",
    "InvalidMetadataError",
    "MemCatalog",
    "MemCatalogFileSystem",
    "MemcatalogError",
    "Pool",
    "PoolStats",
    "PressureAlert",
    "QuotaExceededError",
    "SaveFormatError",
    "SchemaValidationError",
    "WriteAbortedError",
    "__version__",
    "drop_pool",
    "get_pool",
    "list_pools",
    "parse_size",
]


def __getattr__(name: str) -> object:
    # The catalog pulls in pyiceberg and SQLAlchemy; fsspec users who only want
    # memcat:// URLs should not pay for them.
    if name == "MemCatalog":
        from memcatalog.catalog import MemCatalog

        return MemCatalog
    raise AttributeError(f"module 'memcatalog' has no attribute {name!r}")
