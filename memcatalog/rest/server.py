"""Serving a catalog: ``create_app`` for embedding, ``serve`` for a background server in this process."""

from __future__ import annotations

import atexit
import importlib
import threading
import warnings
from types import TracebackType
from typing import TYPE_CHECKING

from memcatalog import config, urls
from memcatalog.config import DEFAULT_MAX_REQUEST_BYTES
from memcatalog.rest.call import Context
from memcatalog.rest.planning import Planner
from memcatalog.rest.routes import ROUTES
from memcatalog.serving import LOOPBACK_HOST, BackgroundServer, check_host, is_loopback

if TYPE_CHECKING:
    from pyiceberg.catalog.rest import RestCatalog
    from starlette.applications import Starlette

    from memcatalog.catalog import MemCatalog
    from memcatalog.s3 import S3Server


def advertised_endpoints() -> list[str]:
    """``/v1/config``'s ``endpoints``: every route but config and oauth/tokens, as ``"METHOD /v1/{prefix}/path"``."""
    return [route.endpoint for route in ROUTES if route.prefixed]


def create_app(
    catalog: MemCatalog,
    *,
    token: str | None = None,
    defaults: dict[str, str] | None = None,
    overrides: dict[str, str] | None = None,
    table_config: dict[str, str] | None = None,
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
) -> Starlette:
    """The REST catalog over ``catalog`` as an ASGI app (starlette), to mount or serve yourself.

    Args:
        catalog: the MemCatalog to serve; requests act on this very object (its registry, pool and cache).
        token: when given, every request needs ``Authorization: Bearer <token>``.
        defaults: extra ``/v1/config`` defaults (clients' own properties win over them).
        overrides: ``/v1/config`` overrides (win over clients' properties).
        table_config: extra keys of loadTable's ``config`` (e.g. vended S3 credentials).
        max_request_bytes: larger request bodies are refused with 413.
    """
    from memcatalog.rest.app import build_app

    if not isinstance(max_request_bytes, int) or max_request_bytes <= 0:
        raise ValueError(f"max_request_bytes must be a positive number of bytes, not {max_request_bytes!r}")
    if token is not None and (not isinstance(token, str) or not token.strip()):
        raise ValueError("token must be a non-empty string (or None for no authentication)")
    base = {
        config.PY_IO_IMPL: config.FILE_IO_IMPL,  # an in-process pyiceberg client then reads memcat:// itself
        "namespace-separator": "%1F",
        config.WAREHOUSE: catalog.warehouse,
        "memcatalog.owner": catalog.owner,  # an in-process client's files are the served catalog's (ownership.OWNER)
    }
    if "s3.endpoint" in (defaults or {}):
        # Served over S3, clients in other processes use their own S3 FileIO: pyiceberg refuses to start
        # when a py-io-impl it is told to use cannot be imported there.
        del base[config.PY_IO_IMPL]
    ctx = Context(
        catalog=catalog,
        token=token,
        defaults={**base, **(defaults or {})},
        overrides=dict(overrides or {}),
        table_config={**(table_config or {})},
        endpoints=advertised_endpoints(),
        planner=Planner(),
    )
    return build_app(ctx, ROUTES, max_request_bytes=max_request_bytes)


def _start_s3(s3: bool | S3Server, catalog: MemCatalog, host: str) -> tuple[S3Server | None, dict[str, str]]:
    """The S3 endpoint beside the catalog (started here, or the one given) and the client properties it vends."""
    if s3 is False:
        return None, {}
    if s3 is True:
        try:
            s3_endpoint = importlib.import_module("memcatalog.s3")
        except ImportError as e:
            raise ImportError(f"s3=True needs the S3 endpoint (memcatalog.s3), which cannot be imported: {e}") from e
        server: S3Server = s3_endpoint.serve(host=host, port=0, pools=[catalog.pool.name])
    else:
        server = s3
    return server, dict(server.client_properties())


def _s3_warehouse(catalog: MemCatalog) -> str | None:
    """Point the catalog's new tables at ``s3://<pool>/...``; returns the warehouse it had (None: left alone).

    The same files, named so that every client can reach them: in this process memcatalog's FileIO
    maps the served bucket back to the pool; elsewhere clients go through the S3 endpoint.
    """
    warehouse = catalog.warehouse
    if not urls.is_memcat(warehouse):
        return None
    catalog.properties[config.WAREHOUSE] = _as_s3(warehouse)
    return warehouse


def _as_s3(url: str) -> str:
    """``memcat://pool/key`` -> ``s3://pool/key``: the same file, through the served bucket."""
    return urls.build(*urls.parse(url), scheme="s3")


class RestServer:
    """A REST catalog served from a background thread of this process; a context manager.

    Attributes:
        url: ``http://127.0.0.1:<port>``, what clients take as ``uri`` / ``ENDPOINT``.
        catalog: the MemCatalog served.
        token: the bearer token clients must send, or None.
        s3: the S3 endpoint started with ``s3=True``, else None; ``s3_url`` its URL.
    """

    def __init__(
        self,
        catalog: MemCatalog,
        http: BackgroundServer,
        token: str | None,
        s3: S3Server | None = None,
        warehouse_before: str | None = None,
    ) -> None:
        self.catalog = catalog
        self.token = token
        self.s3 = s3
        self._http = http
        self._warehouse_before = warehouse_before

    @property
    def url(self) -> str:
        return self._http.url

    @property
    def port(self) -> int:
        return self._http.port

    @property
    def s3_url(self) -> str | None:
        return str(self.s3.url) if self.s3 is not None else None

    @property
    def running(self) -> bool:
        return self._http.running

    def client_properties(self) -> dict[str, str]:
        """What a pyiceberg ``RestCatalog`` needs: ``uri`` (and ``token`` when the server has one)."""
        props = {"uri": self.url}
        if self.token is not None:
            props["token"] = self.token
        return props

    def rest_catalog(self, name: str | None = None, **properties: str) -> RestCatalog:
        """A pyiceberg ``RestCatalog`` pointed at this server."""
        from pyiceberg.catalog.rest import RestCatalog

        return RestCatalog(name or f"{self.catalog.name}-rest", **{**self.client_properties(), **properties})

    def stop(self) -> None:
        """Stop serving (requests in flight finish first) and the S3 endpoint with it. Idempotent."""
        self._http.stop()
        if self.s3 is not None:
            self.s3.stop()
        if self._warehouse_before is not None:  # new tables go back to memcat://; s3:// ones stay readable here
            served = _as_s3(self._warehouse_before)
            if self.catalog.properties.get(config.WAREHOUSE) == served:
                self.catalog.properties[config.WAREHOUSE] = self._warehouse_before

    def __enter__(self) -> RestServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<RestServer {self.catalog.name!r} {self.url} {'running' if self.running else 'stopped'}>"


def serve(
    catalog: MemCatalog,
    host: str = LOOPBACK_HOST,
    port: int = 0,
    *,
    token: str | None = None,
    s3: bool | S3Server = False,
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
    defaults: dict[str, str] | None = None,
) -> RestServer:
    """Serve ``catalog`` over the Iceberg REST protocol from a background thread; returns the running server.

    Args:
        catalog: the MemCatalog to serve (the server acts on this very object).
        host: address to listen on; anything but loopback must be asked for, warns, and needs ``token``.
        port: TCP port; 0 (default) picks a free one, see ``.url``.
        token: require ``Authorization: Bearer <token>`` on every request.
        s3: also serve the data: True starts an S3 endpoint over the catalog's pool (``memcatalog.s3``),
            or pass a running :class:`memcatalog.s3.S3Server`. Its URL and credentials are vended to
            clients (``/v1/config`` defaults and loadTable's ``config``), new tables go to
            ``s3://<pool>/...`` while served, and stopping this server stops it.
        max_request_bytes: larger request bodies are refused with 413.
        defaults: extra ``/v1/config`` defaults.

    Raises:
        ValueError: a non-loopback host without a token.
        ServerStartError: the port is taken.
    """
    from memcatalog.catalog import MemCatalog

    if not isinstance(catalog, MemCatalog):
        raise TypeError(f"serve() takes a MemCatalog, not {type(catalog).__name__}")
    if not is_loopback(host) and token is None:
        raise ValueError(
            f"serving on {host!r} makes the catalog reachable from other machines: give token=... "
            f"(clients then send it as a bearer token), or serve on {LOOPBACK_HOST}"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        check_host(host, what="the REST catalog")
    s3_server, vended = _start_s3(s3, catalog, host)
    warehouse_before = _s3_warehouse(catalog) if s3_server is not None else None
    try:
        app = create_app(
            catalog,
            token=token,
            defaults={**vended, **(defaults or {})},
            table_config=vended,
            max_request_bytes=max_request_bytes,
        )
        http = BackgroundServer(app, host, port, name=f"memcatalog-rest-{catalog.name}")
    except BaseException:
        if s3_server is not None:
            s3_server.stop()
        if warehouse_before is not None:
            catalog.properties[config.WAREHOUSE] = warehouse_before
        raise
    return RestServer(catalog, http, token, s3_server, warehouse_before)


_SHARED: dict[int, RestServer] = {}
_SHARED_LOCK = threading.Lock()


def shared_server(catalog: MemCatalog) -> RestServer:
    """The one loopback server this process keeps for ``catalog`` (started on first use), e.g. for DuckDB ATTACH.

    It runs until :func:`stop_shared` or the end of the process.
    """
    with _SHARED_LOCK:
        server = _SHARED.get(id(catalog))
        if server is None or server.catalog is not catalog or not server.running:
            server = serve(catalog)
            _SHARED[id(catalog)] = server
        return server


def stop_shared(catalog: MemCatalog | None = None) -> None:
    """Stop the shared server of ``catalog``, or of every catalog."""
    with _SHARED_LOCK:
        keys = [id(catalog)] if catalog is not None else list(_SHARED)
        servers = [_SHARED.pop(k) for k in keys if k in _SHARED]
    for server in servers:
        server.stop()


atexit.register(stop_shared)
