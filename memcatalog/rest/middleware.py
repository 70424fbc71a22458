"""Authentication and request size limits: ASGI middleware, not code inside handlers."""

from __future__ import annotations

import hmac
import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from memcatalog.config import DEFAULT_MAX_REQUEST_BYTES
from memcatalog.errors import RestRequestError

PUBLIC_PATHS = ("/v1/oauth/tokens",)  # where a client gets its token
_TOO_LARGE = "RequestEntityTooLargeException"


async def _reply(send: Send, status: int, error_type: str, message: str, headers: list[tuple[bytes, bytes]]) -> None:
    body = json.dumps({"error": {"message": message, "type": error_type, "code": status}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BearerTokenMiddleware:
    """Every request but the token endpoint must carry ``Authorization: Bearer <token>``."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].endswith(PUBLIC_PATHS):  # also when mounted under a prefix
            await self.app(scope, receive, send)
            return
        offered = dict(scope["headers"]).get(b"authorization", b"")
        if not hmac.compare_digest(offered, self.expected):
            what = "no Authorization header" if not offered else "the bearer token is not this server's"
            await _reply(
                send,
                401,
                "NotAuthorizedException",
                f"{what}: send 'Authorization: Bearer <token>' (pyiceberg: token=..., DuckDB: a SECRET with TOKEN)",
                [(b"www-authenticate", b"Bearer")],
            )
            return
        await self.app(scope, receive, send)


class RequestSizeLimitMiddleware:
    """Refuse bodies over ``max_bytes`` with 413, by Content-Length and while streaming."""

    def __init__(self, app: ASGIApp, max_bytes: int = DEFAULT_MAX_REQUEST_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self, size: int | str) -> str:
        return (
            f"request body of {size} bytes exceeds this server's limit of {self.max_bytes} bytes (max_request_bytes=)"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _reply(send, 413, _TOO_LARGE, self._too_large(int(declared)), [])
            return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    # A 413 wherever it surfaces: a route reading the body answers it like any request error.
                    raise RestRequestError(self._too_large(f"more than {seen}"), 413, _TOO_LARGE)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except RestRequestError as e:  # raised where no route's error handling saw it
            if e.error_type != _TOO_LARGE:
                raise
            if not started:
                await _reply(send, e.status, e.error_type, str(e), [])
