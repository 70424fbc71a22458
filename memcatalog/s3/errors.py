"""S3's error responses: one exception type carrying S3's code and HTTP status, and one mapping from ours.

Handlers raise :class:`S3Error` (or let pool errors through); :func:`from_exception` alone
decides what a client sees, as the XML body S3 clients parse (``<Error><Code>...``).
"""

from __future__ import annotations

import logging

from memcatalog.config import format_size
from memcatalog.errors import QuotaExceededError
from memcatalog.errors import S3Error as S3Error  # defined with every other error

logger = logging.getLogger("memcatalog.s3")


def quota_error(e: QuotaExceededError, resource: str, *, partial: bool = False) -> S3Error:
    """A write over the pool's quota: EntityTooLarge (400, which clients do not retry), saying by how much.

    ``partial``: the body's length was not declared, and it did not fit while still arriving.
    """
    short = max(e.needed - max(e.free, 0), 0)
    amount = (
        f"at least {format_size(short)} short (the body was still arriving)"
        if partial
        else f"{format_size(short)} short"
    )
    return S3Error(
        "EntityTooLarge",
        400,
        f"{e.explain('raise the quota of the pool this bucket serves')}; the pool is full: {amount} (nothing was stored)",
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
