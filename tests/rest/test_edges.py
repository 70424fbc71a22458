"""Edges the pyiceberg behaviour suite found through RestCatalog, checked over HTTP and against MemCatalog directly."""

from __future__ import annotations

import httpx
import pytest
from pyiceberg.exceptions import BadRequestError

from memcatalog import MemCatalog
from memcatalog.rest import RestServer


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
