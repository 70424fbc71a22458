"""The background server runner shared by the REST catalog and the S3 endpoint."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import threading
import urllib.request
import warnings
from typing import TYPE_CHECKING, Any

import pytest

from memcatalog.serving import BackgroundServer, ServerStartError, check_host, is_loopback
from memcatalog.uvicorn_server import QuickStopServer

if TYPE_CHECKING:
    from starlette.types import ASGIApp


async def _hello(scope: dict[str, object], receive: object, send: object) -> None:
    assert scope["type"] == "http"
    body = json.dumps({"path": scope["path"]}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})  # type: ignore[operator]
    await send({"type": "http.response.body", "body": body})  # type: ignore[operator]


def _get(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


def test_port_zero_serves_on_a_real_port_at_once() -> None:
    with BackgroundServer(_hello) as server:
        assert server.port > 0
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert _get(server.url + "/v1/config") == {"path": "/v1/config"}


def test_stop_closes_the_port_and_is_idempotent() -> None:
    server = BackgroundServer(_hello)
    port = server.port
    server.stop()
    server.stop()
    assert not server.running
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass


def test_two_servers_run_side_by_side() -> None:
    with BackgroundServer(_hello) as one, BackgroundServer(_hello) as two:
        assert one.port != two.port
        assert _get(one.url + "/a") == {"path": "/a"}
        assert _get(two.url + "/b") == {"path": "/b"}


def test_a_taken_port_is_a_clear_error() -> None:
    with BackgroundServer(_hello) as server, pytest.raises(ServerStartError, match=r"cannot listen on 127\.0\.0\.1"):
        BackgroundServer(_hello, port=server.port)


def test_loopback_detection() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("127.3.4.5") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.10") and not is_loopback("example.com")


def test_non_loopback_host_warns() -> None:
    with pytest.warns(UserWarning, match="reachable from other machines"):
        check_host("0.0.0.0", what="the REST catalog")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_host("127.0.0.1", what="the REST catalog")


def _slow_app(entered: threading.Event) -> ASGIApp:
    async def app(scope: dict[str, object], receive: object, send: object) -> None:
        entered.set()
        await asyncio.sleep(0.2)  # still answering when stop() is called
        await send({"type": "http.response.start", "status": 200, "headers": []})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": b"finished"})  # type: ignore[operator]

    return app  # type: ignore[return-value]


def test_a_request_in_flight_is_answered_before_the_server_stops() -> None:
    entered = threading.Event()
    server = BackgroundServer(_slow_app(entered))
    answers: list[bytes] = []
    client = threading.Thread(target=lambda: answers.append(urllib.request.urlopen(server.url, timeout=10).read()))
    client.start()
    assert entered.wait(10)
    server.stop()
    client.join(10)
    assert answers == [b"finished"]
    assert not server.running


def test_an_idle_keep_alive_connection_is_closed_by_the_stop() -> None:
    server = BackgroundServer(_hello)
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.request("GET", "/kept")
    assert json.loads(connection.getresponse().read()) == {"path": "/kept"}  # the socket stays open (HTTP/1.1)
    assert connection.sock is not None
    server.stop()
    assert connection.sock.recv(1) == b""  # closed by the server, not left for the client to time out
    connection.close()


def test_uvicorn_still_runs_both_quick_stop_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    """uvicorn_server.py overrides Server.main_loop and Server.shutdown: a uvicorn release that stops calling
    either (or renames what they use) must fail here, not silently bring back the 0.25 s stops."""
    calls: list[str] = []
    for name in ("main_loop", "shutdown"):
        original = getattr(QuickStopServer, name)

        async def recorded(
            self: QuickStopServer, *args: object, _original: Any = original, _name: str = name, **kwargs: object
        ) -> None:
            calls.append(_name)
            await _original(self, *args, **kwargs)

        monkeypatch.setattr(QuickStopServer, name, recorded)
    with BackgroundServer(_hello) as server:
        assert _get(server.url + "/x") == {"path": "/x"}
        used = server._server
        for attribute in ("should_exit", "force_exit", "servers", "server_state", "lifespan", "on_tick", "config"):
            assert hasattr(used, attribute), f"uvicorn.Server no longer has {attribute!r}: update uvicorn_server.py"
        assert hasattr(used.server_state, "connections") and hasattr(used.server_state, "tasks")
        assert isinstance(used.config.timeout_graceful_shutdown, (int, float))
    assert calls == ["main_loop", "shutdown"]


def test_a_stop_requested_before_the_loop_runs_is_not_missed() -> None:
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = QuickStopServer(uvicorn.Config(_hello, log_level="warning", lifespan="off"))
    server.request_stop()
    runner = threading.Thread(target=server.run, kwargs={"sockets": [sock]})
    runner.start()
    runner.join(10)
    assert not runner.is_alive()
