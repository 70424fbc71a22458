"""S3's error responses: one exception type carrying S3's code and HTTP status, and one mapping from ours.

Handlers raise :class:`S3Error` (or let pool errors through); :func:`from_exception` alone
decides what a client sees, as the XML body S3 clients parse (``<Error><Code>...``).
"""

from __future__ import annotations

import logging
from xml.sax.saxutils import escape

from memcatalog.config import format_size
from memcatalog.errors import MemcatalogError, QuotaExceededError

logger = logging.getLogger("memcatalog.s3")


class S3Error(MemcatalogError, Exception):
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


def quota_error(e: QuotaExceededError, resource: str) -> S3Error:
    """A write over the pool's quota: EntityTooLarge (400, which clients do not retry), saying by how much."""
    short = max(e.needed - max(e.free, 0), 0)
    return S3Error(
        "EntityTooLarge",
        400,
        f"{e.explain('raise the quota of the pool this bucket serves')}; the pool is full: "
        f"{format_size(short)} short (nothing was stored)",
        resource,
    )


def from_exception(e: BaseException, resource: str) -> S3Error:
    """The S3 error a client sees for ``e``; anything unexpected is an InternalError (and logged)."""
    if isinstance(e, S3Error):
        return e
    if isinstance(e, QuotaExceededError):
        return quota_error(e, resource)
    if isinstance(e, (IsADirectoryError, NotADirectoryError, FileExistsError)):
        return S3Error(
            "InvalidRequest", 409, f"{resource}: {e.strerror or e} (a path and a directory collide)", resource
        )
    if isinstance(e, FileNotFoundError):
        return S3Error("NoSuchKey", 404, f"{resource}: not found", resource)
    if isinstance(e, (PermissionError, ValueError)):
        return S3Error.invalid_argument(f"{resource}: {e}", resource)
    logger.exception("S3 request on %s failed", resource)
    return S3Error("InternalError", 500, f"{type(e).__name__}: {e}", resource)
