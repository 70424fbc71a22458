"""One mapping from exceptions to HTTP status and the spec's error body (``ErrorModel``).

Handlers raise pyiceberg's and memcatalog's own exceptions; this module alone
decides what a client sees. The ``type`` strings are the Java exception names
the spec's examples use, so Java, DuckDB and pyiceberg clients map them back.
"""

from __future__ import annotations

import json
import logging

import pydantic
from pyiceberg.exceptions import (
    BadRequestError,
    CommitFailedException,
    CommitStateUnknownException,
    ForbiddenError,
    NamespaceAlreadyExistsError,
    NamespaceNotEmptyError,
    NoSuchIdentifierError,
    NoSuchNamespaceError,
    NoSuchPlanTaskError,
    NoSuchTableError,
    NoSuchViewError,
    TableAlreadyExistsError,
    UnauthorizedError,
    ValidationError,
    ViewAlreadyExistsError,
)
from starlette.responses import JSONResponse

from memcatalog.errors import EmptyNamespaceError, InvalidMetadataError, QuotaExceededError
from memcatalog.errors import NoSuchPlanError as NoSuchPlanError  # defined with every other error
from memcatalog.errors import RestRequestError as RestRequestError

logger = logging.getLogger("memcatalog.rest")


# (exception class, HTTP status, spec error type); the first match wins, so subclasses come first.
_MAPPING: tuple[tuple[type[BaseException], int, str], ...] = (
    # An empty or blank namespace level is a malformed name (400), though a NoSuchNamespaceError to Python callers.
    (EmptyNamespaceError, 400, "BadRequestException"),
    (NoSuchTableError, 404, "NoSuchTableException"),
    (NoSuchViewError, 404, "NoSuchViewException"),
    (NoSuchNamespaceError, 404, "NoSuchNamespaceException"),
    (NoSuchIdentifierError, 404, "NoSuchIdentifierException"),
    (NoSuchPlanTaskError, 404, "NoSuchPlanTaskException"),
    (NoSuchPlanError, 404, "NoSuchPlanIdException"),
    (NamespaceAlreadyExistsError, 409, "AlreadyExistsException"),
    (TableAlreadyExistsError, 409, "AlreadyExistsException"),
    (ViewAlreadyExistsError, 409, "AlreadyExistsException"),
    (NamespaceNotEmptyError, 409, "NamespaceNotEmptyException"),
    (CommitFailedException, 409, "CommitFailedException"),
    (CommitStateUnknownException, 500, "CommitStateUnknownException"),
    (UnauthorizedError, 401, "NotAuthorizedException"),
    (ForbiddenError, 403, "ForbiddenException"),
    (QuotaExceededError, 507, "InsufficientStorageException"),
    (NotImplementedError, 406, "UnsupportedOperationException"),
    (BadRequestError, 400, "BadRequestException"),
    (ValidationError, 400, "ValidationException"),
    (pydantic.ValidationError, 400, "BadRequestException"),
    (json.JSONDecodeError, 400, "BadRequestException"),
    (FileNotFoundError, 400, "BadRequestException"),
    (ValueError, 400, "BadRequestException"),
)


def describe_validation_error(e: pydantic.ValidationError, what: str) -> str:
    """``invalid <what>: field 'updates.0.action': ...``: every problem, with the field path it is at."""
    problems = []
    for err in e.errors()[:10]:
        where = ".".join(str(p) for p in err.get("loc", ())) or "(body)"
        problems.append(f"field {where!r}: {err.get('msg', 'invalid')}")
    more = f" (and {len(e.errors()) - 10} more)" if len(e.errors()) > 10 else ""
    return f"invalid {what}: " + "; ".join(problems) + more


def status_of(exc: BaseException) -> tuple[int, str]:
    """HTTP status and spec error type for an exception; anything unforeseen is a 500 and is logged."""
    if isinstance(exc, RestRequestError):
        return exc.status, exc.error_type
    for cls, status, error_type in _MAPPING:
        if isinstance(exc, cls):
            return status, error_type
    return 500, "InternalServerError"


def error_response(exc: BaseException) -> JSONResponse:
    status, error_type = status_of(exc)
    if status == 500:
        logger.error("REST request failed: %s: %s", type(exc).__name__, exc, exc_info=exc)
    message = str(exc) or type(exc).__name__
    if isinstance(exc, InvalidMetadataError):
        message = _without_parser_detail(exc, message)
    return error_body(status, error_type, message)


def _without_parser_detail(exc: InvalidMetadataError, message: str) -> str:
    """The message without the parser's own error, which quotes the file (a register of any path would read it out).

    The server's log keeps the detail.
    """
    cause = exc.__cause__
    if cause is None:
        return message
    logger.warning("REST request: %s", message)
    for detail in (f" ({type(cause).__name__}: {cause})", f" ({cause})"):
        message = message.replace(detail, "")
    return message + " (what the parser said is in the server's log, not sent to clients)"


def error_body(status: int, error_type: str, message: str) -> JSONResponse:
    """The spec's ``IcebergErrorResponse``: ``{"error": {"message", "type", "code"}}``."""
    return JSONResponse({"error": {"message": message, "type": error_type, "code": status}}, status_code=status)
