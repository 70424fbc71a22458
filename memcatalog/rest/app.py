"""The ASGI application: the route table turned into starlette routes, plus middleware.

Each route's endpoint parses the request (path, query, JSON body validated by the
route's model), runs the handler in a worker thread (catalog calls block), and
turns whatever it raised into the spec's error body in one place.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from urllib.parse import parse_qsl

import pydantic
from pyiceberg.exceptions import CommitStateUnknownException
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute
from starlette.routing import Route as StarletteRoute

from memcatalog.config import DEFAULT_MAX_REQUEST_BYTES
from memcatalog.rest.call import Call, Context, Route
from memcatalog.rest.errors import RestRequestError, describe_validation_error, error_body, error_response, status_of
from memcatalog.rest.middleware import BearerTokenMiddleware, RequestSizeLimitMiddleware
from memcatalog.rest.models import Body


def _parse_body(route: Route, raw: bytes) -> Body:
    assert route.body is not None
    if not raw.strip():
        raise RestRequestError(f"{route.operation} needs a JSON request body")
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RestRequestError(f"{route.operation}: the request body is not JSON ({e})") from e
    if not isinstance(data, dict):
        raise RestRequestError(f"{route.operation}: the request body must be a JSON object, not {type(data).__name__}")
    try:
        return route.body.model_validate(data)
    except pydantic.ValidationError as e:
        raise RestRequestError(describe_validation_error(e, f"{route.operation} request")) from e


def _respond(result: Response | Mapping[str, object] | None) -> Response:
    if result is None:
        return Response(status_code=204)
    if isinstance(result, Response):
        return result
    return JSONResponse(result)


def _endpoint(route: Route, ctx: Context) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            call = Call(ctx, request.path_params, request.query_params, request.headers)
            if route.form:
                call.form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
            elif route.body is not None:
                call.body = _parse_body(route, await request.body())
            result = await run_in_threadpool(route.handler, call)
        except Exception as e:
            if route.commit and status_of(e)[0] == 500 and not isinstance(e, CommitStateUnknownException):
                unknown = CommitStateUnknownException(f"commit state unknown: {type(e).__name__}: {e}")
                unknown.__cause__ = e
                return error_response(unknown)
            return error_response(e)
        return _respond(result)

    endpoint.__name__ = route.operation
    return endpoint


async def _not_found(request: Request, exc: Exception) -> Response:
    return error_body(404, "NotFoundException", f"no route for {request.method} {request.url.path}")


async def _not_allowed(request: Request, exc: Exception) -> Response:
    return error_body(405, "MethodNotAllowedException", f"{request.method} is not supported on {request.url.path}")


def build_app(
    ctx: Context, routes: tuple[Route, ...], *, max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
) -> Starlette:
    """A starlette app serving ``routes`` over ``ctx``; the advertised endpoints are ``ctx.endpoints``."""
    starlette_routes: list[BaseRoute] = [
        StarletteRoute(
            f"/v1{route.path}",
            _endpoint(route, ctx),
            methods=[route.method],
            name=route.operation,
            include_in_schema=False,
        )
        for route in routes
    ]
    middleware = [Middleware(RequestSizeLimitMiddleware, max_bytes=max_request_bytes)]
    if ctx.token is not None:
        middleware.append(Middleware(BearerTokenMiddleware, token=ctx.token))
    return Starlette(
        routes=starlette_routes,
        middleware=middleware,
        exception_handlers={404: _not_found, 405: _not_allowed},
    )
