"""Running an ASGI app (the REST catalog, the S3 endpoint) in a background thread of this process.

One place decides how memcatalog serves HTTP: uvicorn on a socket bound before the
thread starts (so ``port=0`` yields a real port at once), loopback unless asked
otherwise, and a stop that waits for the thread (milliseconds: memcatalog.uvicorn_server). Importing this module needs the
``serve`` extra (starlette and uvicorn), imported lazily with an install hint.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import warnings
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING

from memcatalog.errors import ServerStartError as ServerStartError  # defined with every other error

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from memcatalog.uvicorn_server import QuickStopServer

logger = logging.getLogger("memcatalog.serving")

LOOPBACK_HOST = "127.0.0.1"
STARTUP_TIMEOUT_SECONDS = 30.0  # a server that has not started by then is reported as failed
INSTALL_HINT = "serving needs starlette and uvicorn: pip install 'memcatalog[serve]'"


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_host(host: str, *, what: str) -> None:
    """Warn when a server is about to listen beyond this machine."""
    if not is_loopback(host):
        warnings.warn(
            f"{what} listens on {host!r}, reachable from other machines: memcatalog serves "
            f"test data with no TLS; bind {LOOPBACK_HOST} unless you mean it",
            stacklevel=3,
        )


def _uvicorn() -> ModuleType:
    try:
        import uvicorn
    except ImportError as e:
        raise ImportError(INSTALL_HINT) from e
    return uvicorn


def _quick_stop_server() -> type[QuickStopServer]:
    _uvicorn()  # the install hint when the serve extra is missing
    from memcatalog.uvicorn_server import QuickStopServer

    return QuickStopServer


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP, and without it
    # every response written as headers + body waits ~40 ms for a delayed ACK (Nagle).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as e:
        sock.close()
        raise ServerStartError(f"cannot listen on {host}:{port}: {e.strerror or e} (choose another port, or 0)") from e
    sock.listen(128)
    sock.set_inheritable(False)
    return sock


class BackgroundServer:
    """An ASGI app served by uvicorn in a daemon thread; a context manager.

    Args:
        app: the ASGI application.
        host: address to listen on (default loopback).
        port: TCP port; 0 picks a free one (see ``.port`` / ``.url``).
        name: thread name and log label.
    """

    def __init__(
        self, app: ASGIApp, host: str = LOOPBACK_HOST, port: int = 0, *, name: str = "memcatalog-server"
    ) -> None:
        uvicorn = _uvicorn()  # imported here: the serve extra is optional
        server_class = _quick_stop_server()
        self.name = name
        self._socket = _bind(host, port)
        self.host = host
        self.port = int(self._socket.getsockname()[1])
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False, timeout_graceful_shutdown=5)
        self._server: QuickStopServer = server_class(config)  # stops in milliseconds (see uvicorn_server.py)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        self._wait_started()

    @property
    def url(self) -> str:
        """``http://host:port`` (IPv6 hosts in brackets), without a trailing slash."""
        host = f"[{self.host.strip('[]')}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def _run(self) -> None:
        try:
            self._server.run(sockets=[self._socket])
        except BaseException as e:  # reported by _wait_started or logged; a thread must not die silently
            self._error = e
            logger.exception("%s stopped with an error", self.name)

    def _wait_started(self) -> None:
        waited = 0.0
        while not self._server.started:
            if self._error is not None or not self._thread.is_alive():
                self._socket.close()
                raise ServerStartError(f"{self.name} failed to start: {self._error!r}") from self._error
            if waited >= STARTUP_TIMEOUT_SECONDS:
                self.stop()
                raise ServerStartError(f"{self.name} did not start within {STARTUP_TIMEOUT_SECONDS:.0f} s")
            self._thread.join(0.005)
            waited += 0.005

    @property
    def running(self) -> bool:
        return self._thread.is_alive() and not self._server.should_exit

    def stop(self) -> None:
        """Stop accepting requests, finish the ones in flight, and wait for the thread. Idempotent."""
        self._server.request_stop()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(STARTUP_TIMEOUT_SECONDS)
        self._socket.close()

    def __enter__(self) -> BackgroundServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<{type(self).__name__} {self.name} {self.url} {state}>"
