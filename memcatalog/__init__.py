"""memcatalog: Iceberg tables in memory, through pyiceberg, fsspec and DuckDB."""

from __future__ import annotations

from typing import TYPE_CHECKING

from memcatalog.config import parse_size
from memcatalog.errors import (
    DataNotInMemoryError,
    ExtensionNotAvailableError,
    InvalidMetadataError,
    MemCatalogError,
    NoSuchPlanError,
    QuotaConflictError,
    QuotaExceededError,
    ReservedPropertyError,
    RestRequestError,
    S3Error,
    SaveFormatError,
    SchemaValidationError,
    ServerStartError,
    WriteAbortedError,
)
from memcatalog.filesystem import PoolFileSystem
from memcatalog.pool import Pool, PoolStats, PressureAlert, Usage, drop_pool, get_pool, list_pools

if TYPE_CHECKING:  # the lazily loaded names below, for type checkers
    from memcatalog.archive import restore, save
    from memcatalog.catalog import MemCatalog
    from memcatalog.errors import EmptyNamespaceError
    from memcatalog.maintenance import ReclaimResult, TableUsage
    from memcatalog.tablecopy import export_table, import_table
    from memcatalog.validation import validate
    from memcatalog.writer import TableWriter

__version__ = "0.1.0"

__all__ = [
    "DataNotInMemoryError",
    "EmptyNamespaceError",
    "ExtensionNotAvailableError",
    "InvalidMetadataError",
    "MemCatalog",
    "MemCatalogError",
    "NoSuchPlanError",
    "Pool",
    "PoolFileSystem",
    "PoolStats",
    "PressureAlert",
    "QuotaConflictError",
    "QuotaExceededError",
    "ReclaimResult",
    "ReservedPropertyError",
    "RestRequestError",
    "S3Error",
    "SaveFormatError",
    "SchemaValidationError",
    "ServerStartError",
    "TableUsage",
    "TableWriter",
    "Usage",
    "WriteAbortedError",
    "__version__",
    "drop_pool",
    "export_table",
    "get_pool",
    "import_table",
    "list_pools",
    "parse_size",
    "restore",
    "save",
    "validate",
]


# Names whose modules pull in pyiceberg and SQLAlchemy: fsspec users who only want
# memcat:// URLs should not pay for them, so these load on first use.
_LAZY = {
    "EmptyNamespaceError": "memcatalog.errors",  # also pyiceberg's NoSuchNamespaceError
    "MemCatalog": "memcatalog.catalog",
    "TableUsage": "memcatalog.maintenance",
    "ReclaimResult": "memcatalog.maintenance",
    "TableWriter": "memcatalog.writer",
    "save": "memcatalog.archive",
    "restore": "memcatalog.archive",
    "import_table": "memcatalog.tablecopy",
    "export_table": "memcatalog.tablecopy",
    "validate": "memcatalog.validation",
}


# Old names, for one release: they resolve, with a DeprecationWarning naming the new one.
_DEPRECATED = {"MemcatalogError": "MemCatalogError", "MemCatalogFileSystem": "PoolFileSystem"}


def __getattr__(name: str) -> object:
    if name in _DEPRECATED:
        import warnings

        new = _DEPRECATED[name]
        warnings.warn(
            f"memcatalog.{name} is deprecated and goes away in the next release: use memcatalog.{new}",
            DeprecationWarning,
            stacklevel=2,
        )
        return globals()[new]
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'memcatalog' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
