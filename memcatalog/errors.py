"""memcatalog's own errors. They share one base class and the ``Error`` suffix.

Where a caller already catches a built-in error, ours is also that error:
a full pool is an ``OSError`` with ``ENOSPC``, data missing from memory is a
``FileNotFoundError``, bad rows are a ``ValueError``.
"""

from __future__ import annotations

import errno
import threading
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

from memcatalog.config import format_size


class MemCatalogError(Exception):
    """Base class of every error memcatalog raises on its own account."""


MemcatalogError = MemCatalogError  # the earlier spelling; deprecated (``memcatalog.MemcatalogError`` warns)


QUOTA_FIX = "raise the quota: pool.set_quota(...), or the catalog's 'quota' property"


class QuotaExceededError(MemCatalogError, OSError):
    """A write needed more bytes than the pool has free."""

    def __init__(self, path: str, needed: int, free: int, quota: int, pool: str) -> None:
        self.path = path
        self.needed = needed
        self.free = free
        self.quota = quota
        self.pool = pool
        OSError.__init__(self, errno.ENOSPC, self.explain(QUOTA_FIX), path)

    def explain(self, fix: str) -> str:
        """The message with another way to fix it (the CLI names its ``--quota`` option)."""
        return (
            f"quota exceeded writing {self.path}: needs {format_size(self.needed)}, "
            f"{format_size(max(self.free, 0))} free of {format_size(self.quota)} in pool {self.pool!r} ({fix})"
        )

    def __str__(self) -> str:
        return str(self.strerror)


class DataNotInMemoryError(MemCatalogError, FileNotFoundError):
    """The registry names a file that this process's pool does not hold."""

    def __init__(self, message: str, path: str) -> None:
        FileNotFoundError.__init__(self, errno.ENOENT, message, path)

    def __str__(self) -> str:
        return str(self.strerror)


class InvalidMetadataError(MemCatalogError, ValueError):
    """A file given as Iceberg table metadata cannot be parsed."""


class SchemaValidationError(MemCatalogError, ValueError):
    """A batch does not match the table's Iceberg schema; nothing of it was written."""

    def __init__(self, message: str, *, row: int | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.row = row
        self.field = field


class ExtensionNotAvailableError(MemCatalogError, ImportError):
    """A DuckDB extension could not be loaded without the network."""


class SaveFormatError(MemCatalogError, ValueError):
    """A path given to restore() is not a memcatalog save."""


class WriteAbortedError(MemCatalogError, OSError):
    """A data file was started after its write was aborted."""


class QuotaConflictError(MemCatalogError, ValueError):
    """A catalog asked for a quota other than the one its pool already has while other catalogs use the pool."""


class ReservedPropertyError(MemCatalogError, ValueError):
    """A table property that memcatalog reserves (``memcatalog.owner``) was set on a table."""


class ServerStartError(MemCatalogError, RuntimeError):
    """A background server could not start (port taken, app failed at startup)."""


class RestRequestError(MemCatalogError, ValueError):
    """A request the REST server cannot act on; carries its HTTP status and the spec's error type."""

    def __init__(self, message: str, status: int = 400, error_type: str = "BadRequestException") -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type


class NoSuchPlanError(MemCatalogError, LookupError):
    """A scan plan id the REST server does not know (never issued, cancelled, or already fetched)."""


class S3Error(MemCatalogError, Exception):
    """A request the S3 endpoint refuses; ``code`` is S3's error code, ``status`` the HTTP status."""

    def __init__(self, code: str, status: int, message: str, resource: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message
        self.resource = resource

    @classmethod
    def access_denied(cls, message: str) -> S3Error:
        return cls("AccessDenied", 403, message)

    @classmethod
    def no_such_bucket(cls, bucket: str) -> S3Error:
        return cls(
            "NoSuchBucket",
            404,
            f"no bucket {bucket!r}: a bucket is a memcatalog pool, and this process has no pool of that name",
            f"/{bucket}",
        )

    @classmethod
    def no_such_key(cls, bucket: str, key: str) -> S3Error:
        return cls("NoSuchKey", 404, f"no object {key!r} in bucket {bucket!r}", f"/{bucket}/{key}")

    @classmethod
    def invalid_argument(cls, message: str, resource: str = "") -> S3Error:
        return cls("InvalidArgument", 400, message, resource)

    def to_xml(self, request_id: str = "") -> bytes:
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{escape(self.code)}</Code><Message>{escape(self.message)}</Message>"
            f"<Resource>{escape(self.resource)}</Resource><RequestId>{escape(request_id)}</RequestId></Error>"
        ).encode()


# EmptyNamespaceError is also pyiceberg's NoSuchNamespaceError; it is built on first use so that
# importing memcatalog (the pool and memcat:// for fsspec users) does not import pyiceberg.
if TYPE_CHECKING:
    from pyiceberg.exceptions import NoSuchNamespaceError

    class EmptyNamespaceError(MemCatalogError, NoSuchNamespaceError, ValueError):
        """A namespace, or one level of it, is empty or blank."""


_LAZY_LOCK = threading.Lock()


def __getattr__(name: str) -> type:
    if name != "EmptyNamespaceError":
        raise AttributeError(f"module 'memcatalog.errors' has no attribute {name!r}")
    with _LAZY_LOCK:
        if "EmptyNamespaceError" not in globals():
            from pyiceberg.exceptions import NoSuchNamespaceError

            class EmptyNamespaceError(MemCatalogError, NoSuchNamespaceError, ValueError):
                """A namespace, or one level of it, is empty or blank.

                pyiceberg's ``NoSuchNamespaceError``, as SqlCatalog raises, and a ``ValueError`` like
                every other invalid name.
                """

            EmptyNamespaceError.__module__ = __name__
            globals()["EmptyNamespaceError"] = EmptyNamespaceError
        found: type = globals()["EmptyNamespaceError"]
        return found
