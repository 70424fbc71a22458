"""The background server runner shared by the REST catalog and the S3 endpoint."""

from __future__ import annotations

import json
import socket
import urllib.request
import warnings

import pytest

from memcatalog.serving import BackgroundServer, ServerStartError, check_host, is_loopback


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
