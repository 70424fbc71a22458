"""The S3 endpoint as an ASGI app: one route table, authentication first, errors mapped in one place.

S3 names its operations by method, path shape (service, bucket, object) and a few query
flags (``?uploads``, ``?uploadId=``, ``?delete``, ``?location``); :data:`ROUTES` lists them
in that form. Only path-style addressing (``/bucket/key``) is served.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from memcatalog.s3 import listing, objects, sigv4
from memcatalog.s3.call import Call, Endpoint
from memcatalog.s3.errors import S3Error, from_exception

logger = logging.getLogger("memcatalog.s3")

Handler = Callable[[Call], Awaitable[Response]]


@dataclass(frozen=True)
class Route:
    """An S3 operation: the method, what the path names, the query flag that selects it, and its handler."""

    operation: str
    method: str
    target: str  # "service", "bucket" or "object"
    flag: str | None
    handler: Handler


async def _head_object(call: Call) -> Response:
    return await objects.get_object(call, head=True)


ROUTES: tuple[Route, ...] = (
    Route("ListBuckets", "GET", "service", None, listing.list_buckets),
    Route("GetBucketLocation", "GET", "bucket", "location", listing.bucket_location),
    Route("ListMultipartUploads", "GET", "bucket", "uploads", objects.list_uploads),
    Route("ListObjects", "GET", "bucket", None, listing.list_objects),
    Route("HeadBucket", "HEAD", "bucket", None, listing.head_bucket),
    Route("CreateBucket", "PUT", "bucket", None, listing.create_bucket),
    Route("DeleteObjects", "POST", "bucket", "delete", objects.delete_objects),
    Route("HeadObject", "HEAD", "object", None, _head_object),
    Route("ListParts", "GET", "object", "uploadId", objects.list_parts),
    Route("GetObject", "GET", "object", None, objects.get_object),
    Route("UploadPart", "PUT", "object", "uploadId", objects.upload_part),
    Route("PutObject", "PUT", "object", None, objects.put_object),  # CopyObject too (x-amz-copy-source)
    Route("CreateMultipartUpload", "POST", "object", "uploads", objects.create_upload),
    Route("CompleteMultipartUpload", "POST", "object", "uploadId", objects.complete_upload),
    Route("AbortMultipartUpload", "DELETE", "object", "uploadId", objects.abort_upload),
    Route("DeleteObject", "DELETE", "object", None, objects.delete_object),
)
_FLAGS = {r.flag for r in ROUTES if r.flag is not None}


def find_route(method: str, target: str, query: dict[str, str]) -> Route | None:
    flags = _FLAGS & set(query)
    for route in ROUTES:
        if route.method == method and route.target == target and (route.flag in flags if route.flag else not flags):
            return route
    return None


def _raw_query(scope: Scope) -> list[tuple[str, str]]:
    """The query string's pairs, percent-decoded but with ``+`` kept (S3 clients encode spaces as %20)."""
    raw = scope.get("query_string", b"").decode("latin-1")
    pairs = []
    for part in raw.split("&"):
        if part:
            name, _, value = part.partition("=")
            pairs.append((unquote(name), unquote(value)))
    return pairs


class S3App:
    """The ASGI application over an :class:`~memcatalog.s3.call.Endpoint`."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        request_id = secrets.token_hex(8)
        resource = scope["path"]
        try:
            response = await self._handle(request, scope)
        except BaseException as e:
            if not isinstance(e, Exception):
                raise
            error = from_exception(e, resource)
            body = b"" if request.method == "HEAD" or error.status == 304 else error.to_xml(request_id)
            headers = {"x-amz-error-code": error.code} if request.method == "HEAD" else {}
            if request.method in ("PUT", "POST"):
                # The body may be unread (refused before it came): the connection cannot carry another request.
                headers["connection"] = "close"
            response = Response(body, status_code=error.status, media_type="application/xml", headers=headers)
        response.headers["x-amz-request-id"] = request_id
        await response(scope, receive, send)

    async def _handle(self, request: Request, scope: Scope) -> Response:
        path = scope["path"]
        pairs = _raw_query(scope)
        headers = {k.lower(): v for k, v in request.headers.items()}
        signed = sigv4.verify(request.method, path, pairs, headers, self.endpoint.credentials)
        bucket, _, key = path.lstrip("/").partition("/")
        target = "service" if not bucket else "bucket" if not key else "object"
        query = dict(pairs)
        route = find_route(request.method, target, query)
        if route is None:
            raise S3Error("NotImplemented", 501, f"{request.method} on {path} with {sorted(query)} is not supported")
        call = Call(self.endpoint, request, request.method, bucket, key, query, headers, signed)
        return await route.handler(call)
