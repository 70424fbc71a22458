"""Edges the pyiceberg behaviour suite found through RestCatalog, checked over HTTP and against MemCatalog directly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pyarrow as pa
import pytest
from pyiceberg.exceptions import BadRequestError

import memcatalog.rest
from memcatalog import MemCatalog
from memcatalog.rest import RestServer
from memcatalog.serving import ServerStartError


@pytest.mark.parametrize("namespace", [[" "], ["db", "  "], [""]])
def test_a_blank_namespace_level_is_a_bad_request_not_a_missing_namespace(
    http: httpx.Client, served: MemCatalog, namespace: list[str]
) -> None:
    r = http.post("/namespaces", json={"namespace": namespace})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["type"] == "BadRequestException" and "namespace" in r.json()["error"]["message"]
    assert served.list_namespaces() == []


def test_blank_namespace_in_a_path_is_a_bad_request(http: httpx.Client) -> None:
    assert http.get("/namespaces/%20").status_code == 400


@pytest.mark.parametrize("value", [None, {"nested": "x"}, ["a"]])
def test_a_property_value_that_is_not_a_string_is_refused_naming_the_key(
    http: httpx.Client, served: MemCatalog, value: object
) -> None:
    r = http.post("/namespaces", json={"namespace": ["db"], "properties": {"owner": value}})
    assert r.status_code == 400, r.text
    assert "'owner'" in r.json()["error"]["message"]
    assert not served.namespace_exists("db")
    served.create_namespace("db")
    r = http.post("/namespaces/db/properties", json={"updates": {"owner": value}})
    assert r.status_code == 400 and "'owner'" in r.json()["error"]["message"]
    assert served.load_namespace_properties("db") == {"exists": "true"}


def test_numbers_and_booleans_become_the_strings_json_writes(http: httpx.Client, served: MemCatalog) -> None:
    r = http.post("/namespaces", json={"namespace": ["db"], "properties": {"n": 2, "b": True, "f": 1.5}})
    assert r.status_code == 200, r.text
    assert served.load_namespace_properties("db") == {"n": "2", "b": "true", "f": "1.5"}


def test_rest_catalog_with_a_null_property_value_gets_a_bad_request(server: RestServer, served: MemCatalog) -> None:
    rest = server.rest_catalog()
    with pytest.raises(BadRequestError, match="'key' is null"):
        rest.create_namespace("db", properties={"key": None})  # type: ignore[dict-item]
    assert not served.namespace_exists("db")


@pytest.mark.parametrize("delegation", ["vended-credentials", "remote-signing", "vended-credentials,remote-signing"])
def test_load_table_answers_an_access_delegation_header_and_never_fails_on_it(
    http: httpx.Client, served: MemCatalog, delegation: str
) -> None:
    served.create_namespace("db")
    served.create_table("db.t", pa.schema([("n", pa.int64())]))
    r = http.get("/namespaces/db/tables/t", headers={"X-Iceberg-Access-Delegation": delegation})
    assert r.status_code == 200, r.text
    assert r.json()["metadata-location"] == served.load_table("db.t").metadata_location
    assert isinstance(r.json().get("config", {}), dict)
    created = http.post(
        "/namespaces/db/tables",
        json={"name": "u", "schema": {"type": "struct", "fields": []}},
        headers={"X-Iceberg-Access-Delegation": delegation},
    )
    assert created.status_code == 200, created.text
    assert served.table_exists("db.u")


def test_serving_beyond_loopback_warns_even_with_a_token(served: MemCatalog) -> None:
    """192.0.2.1 (TEST-NET-1) is no address of this machine: the warning comes first, then binding fails; nothing listens."""
    with pytest.warns(UserWarning, match="reachable from other machines"), pytest.raises(ServerStartError):
        memcatalog.rest.serve(served, host="192.0.2.1", token="t0ken")
    with pytest.raises(ValueError, match="token"):
        memcatalog.rest.serve(served, host="192.0.2.1")


def test_the_endpoint_table_in_docs_names_exactly_the_routes_served() -> None:
    """docs/rest.md's table of the spec's endpoints says "yes" for every route served and for nothing else."""
    from pathlib import Path

    from memcatalog.rest.routes import ROUTES

    text = (Path(__file__).resolve().parents[2] / "docs" / "rest.md").read_text()
    table = text[text.index("| operation (spec) |") :].split("\n\n", 1)[0].splitlines()[2:]
    supported: set[str] = set()
    unsupported: set[str] = set()
    for line in table:
        cells = [c.strip() for c in line.strip("|").split(" | ")]
        names = {n.strip() for n in cells[0].split(",")}
        (supported if cells[2] == "yes" else unsupported).update(names)
    assert supported == {r.operation for r in ROUTES}
    assert unsupported and not unsupported & supported


def test_a_streamed_body_over_the_limit_is_413_not_500(served: MemCatalog) -> None:
    """Without Content-Length (chunked), the limit is enforced while the body arrives."""

    def chunks() -> Iterator[bytes]:
        yield b'{"namespace": ["x"], "properties": {"k": "'
        for _ in range(10):
            yield b"v" * 500
        yield b'"}}'

    with memcatalog.rest.serve(served, max_request_bytes=1000) as server:
        r = httpx.post(server.url + "/v1/namespaces", content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 413, r.text
        assert r.json()["error"]["type"] == "RequestEntityTooLargeException" and "1000 bytes" in r.text
        small = httpx.post(server.url + "/v1/namespaces", content=iter([b'{"namespace": ', b'["y"]}']))
        assert small.status_code == 200, small.text
    assert not served.namespace_exists("x") and served.namespace_exists("y")


def test_registering_a_file_that_is_not_metadata_does_not_send_its_content(
    http: httpx.Client, served: MemCatalog, tmp_path: Path
) -> None:
    secret = tmp_path / "not-metadata.json"
    secret.write_text("SECRET-CONTENT-1234")
    served.create_namespace("db")
    for route, body in (
        ("/namespaces/db/register", {"name": "r", "metadata-location": str(secret)}),
        ("/namespaces/db/register-view", {"name": "v", "metadata-location": str(secret)}),
    ):
        r = http.post(route, json=body)
        assert r.status_code == 400, r.text
        assert "not a readable Iceberg" in r.json()["error"]["message"] and "SECRET" not in r.text
    assert served.list_tables("db") == [] and served.list_views("db") == []
