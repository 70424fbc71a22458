"""memcatalog.duckdb.load_extension: dependencies first, and never a download."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

import memcatalog.duckdb
from memcatalog.errors import ExtensionNotAvailableError


class _Recorder(http.server.BaseHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self) -> None:
        self.requests.append(self.path)
        self.send_error(404)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def repository() -> Iterator[tuple[str, list[str]]]:
    """A local extension repository that records every download DuckDB tries."""
    requests: list[str] = []
    handler = type("Handler", (_Recorder,), {"requests": requests})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    # shutdown() waits for serve_forever to notice, which polls every poll_interval (0.5 s by default).
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _loaded(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.sql("SELECT extension_name FROM duckdb_extensions() WHERE loaded").fetchall()}


def test_iceberg_loads_avro_first_and_downloads_nothing(tmp_path: Path, repository: tuple[str, list[str]]) -> None:
    url, requests = repository
    # DuckDB's defaults (autoinstall on), an empty extension directory and a repository that records requests.
    con = duckdb.connect(config={"allow_unsigned_extensions": "true"})
    con.execute(f"SET extension_directory = '{tmp_path}'")
    con.execute(f"SET custom_extension_repository = '{url}'")
    memcatalog.duckdb.load_extension(con, "iceberg")
    assert {"avro", "iceberg"} <= _loaded(con)
    assert requests == []
    memcatalog.duckdb.load_extension(con, "iceberg")  # loaded already: nothing to do
    assert requests == []


def test_the_recording_repository_sees_duckdbs_own_download(tmp_path: Path, repository: tuple[str, list[str]]) -> None:
    url, requests = repository
    con = duckdb.connect()
    con.execute(f"SET extension_directory = '{tmp_path}'")
    con.execute(f"SET custom_extension_repository = '{url}'")
    with pytest.raises(duckdb.Error):
        con.execute("LOAD iceberg")  # what load_extension must not do: it tries the repository
    assert any("iceberg" in r for r in requests)


def test_a_bad_extension_name_is_refused() -> None:
    con = duckdb.connect()
    with pytest.raises(ValueError, match="not a DuckDB extension name"):
        memcatalog.duckdb.load_extension(con, "iceberg; DROP TABLE x")


def test_an_extension_without_package_names_the_package(tmp_path: Path) -> None:
    con = duckdb.connect()
    con.execute(f"SET extension_directory = '{tmp_path}'")
    with pytest.raises(ExtensionNotAvailableError, match=r"pip install .*duckdb-extension-spatial==\d"):
        memcatalog.duckdb.load_extension(con, "spatial")
