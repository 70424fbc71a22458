"""The REST protocol as the spec defines it, checked with a plain HTTP client and against MemCatalog directly."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pyarrow as pa
import pytest
from pyiceberg.catalog.rest import RestCatalog
from pyiceberg.schema import Schema
from pyiceberg.types import LongType, NestedField, StringType

import memcatalog.rest
from memcatalog import MemCatalog, registry
from memcatalog.rest import RestServer
from memcatalog.rest.routes import ROUTES

SCHEMA = Schema(NestedField(1, "id", LongType(), required=False), NestedField(2, "name", StringType(), required=False))
SCHEMA_JSON = json.loads(SCHEMA.model_dump_json())


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == status and error["type"] and error["message"]
    return error


def create_table(http: httpx.Client, ns: str, name: str, **extra: Any) -> httpx.Response:
    return http.post(f"/namespaces/{ns}/tables", json={"name": name, "schema": SCHEMA_JSON, **extra})


# --- config and tokens -----------------------------------------------------------------


def test_config_lists_every_route_and_vends_the_file_io(http: httpx.Client, served: MemCatalog) -> None:
    body = http.get("/config").json()
    assert body["defaults"]["py-io-impl"] == "memcatalog.fileio.MemFileIO"
    assert body["defaults"]["warehouse"] == served.warehouse
    advertised = set(body["endpoints"])
    assert "POST /v1/{prefix}/transactions/commit" in advertised
    assert "HEAD /v1/{prefix}/namespaces/{namespace}/tables/{table}" in advertised
    assert advertised == {r.endpoint for r in ROUTES if r.prefixed}


def test_rest_catalog_needs_only_uri_and_round_trips(server: RestServer, served: MemCatalog) -> None:
    rest = RestCatalog("client", uri=server.url)
    rest.create_namespace("db")
    rest.create_table("db.t", SCHEMA).append(pa.table({"id": [1, 2], "name": ["a", "b"]}))
    assert served.load_table("db.t").scan().to_arrow().column("id").to_pylist() == [1, 2]
    served.load_table("db.t").append(pa.table({"id": [3], "name": ["c"]}))
    assert sorted(rest.load_table("db.t").scan().to_arrow().column("id").to_pylist()) == [1, 2, 3]


def test_oauth_tokens_without_a_server_token_hands_out_one(http: httpx.Client) -> None:
    r = http.post("/oauth/tokens", data={"grant_type": "client_credentials", "client_id": "a", "client_secret": "b"})
    assert r.status_code == 200 and r.json()["token_type"] == "bearer" and r.json()["access_token"]


def test_bearer_token_is_required_when_set(served: MemCatalog) -> None:
    with memcatalog.rest.serve(served, token="s3cret") as server:
        url = server.url + "/v1"
        assert error_of(httpx.get(url + "/config"), 401)["type"] == "NotAuthorizedException"
        assert httpx.get(url + "/config", headers={"Authorization": "Bearer wrong"}).status_code == 401
        bad = httpx.post(url + "/oauth/tokens", data={"grant_type": "client_credentials", "client_secret": "x"})
        assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
        good = httpx.post(url + "/oauth/tokens", data={"grant_type": "client_credentials", "client_secret": "s3cret"})
        assert good.json()["access_token"] == "s3cret"
        basic = httpx.post(url + "/oauth/tokens", data={"grant_type": "client_credentials"}, auth=("me", "s3cret"))
        assert basic.json()["access_token"] == "s3cret"  # DuckDB sends CLIENT_ID/CLIENT_SECRET this way
        assert httpx.post(url + "/oauth/tokens", data={}, auth=("me", "nope")).status_code == 401
        with pytest.warns(DeprecationWarning):  # pyiceberg warns about the spec's deprecated endpoint
            legacy = RestCatalog("legacy", uri=server.url, credential="me:s3cret")
        assert legacy.list_namespaces() == []
        rest = server.rest_catalog()  # sends the token
        rest.create_namespace("db")
        assert served.namespace_exists("db")
        with pytest.raises(Exception, match="NotAuthorized"):
            RestCatalog("anon", uri=server.url)


# --- namespaces ----------------------------------------------------------------------


def test_namespaces_listing_with_parent_and_pages(http: httpx.Client, served: MemCatalog) -> None:
    for ns in ("a", "b", "c", "a.x", "a.y"):
        served.create_namespace(ns)
    assert http.get("/namespaces").json()["namespaces"] == [["a"], ["b"], ["c"]]
    assert http.get("/namespaces", params={"parent": "a"}).json()["namespaces"] == [["a", "x"], ["a", "y"]]
    pages, token = [], None
    while True:
        params = {"pageSize": "2", **({"pageToken": token} if token else {})}
        body = http.get("/namespaces", params=params).json()
        pages.append(body["namespaces"])
        token = body.get("next-page-token")
        if not token:
            break
    assert pages == [[["a"], ["b"]], [["c"]]]
    error_of(http.get("/namespaces", params={"pageSize": "zero"}), 400)
    error_of(http.get("/namespaces", params={"parent": "nope"}), 404)


def test_namespace_create_load_head_update_drop(http: httpx.Client, served: MemCatalog) -> None:
    r = http.post("/namespaces", json={"namespace": ["n", "m"], "properties": {"owner": "me"}})
    assert r.json() == {"namespace": ["n", "m"], "properties": {"owner": "me"}}
    assert served.load_namespace_properties("n.m")["owner"] == "me"
    assert http.head("/namespaces/n%1Fm").status_code == 204
    assert http.head("/namespaces/zz").status_code == 404
    assert http.get("/namespaces/n%1Fm").json()["properties"]["owner"] == "me"
    r = http.post("/namespaces/n%1Fm/properties", json={"removals": ["owner", "gone"], "updates": {"k": "v"}})
    assert r.json() == {"updated": ["k"], "removed": ["owner"], "missing": ["gone"]}
    assert served.load_namespace_properties("n.m") == {"k": "v"}
    assert error_of(http.post("/namespaces", json={"namespace": ["n", "m"]}), 409)["type"] == "AlreadyExistsException"
    assert http.delete("/namespaces/n%1Fm").status_code == 204
    assert not served.namespace_exists("n.m")
    assert error_of(http.delete("/namespaces/n%1Fm"), 404)["type"] == "NoSuchNamespaceException"


def test_dropping_a_namespace_with_tables_is_a_conflict(http: httpx.Client, served: MemCatalog) -> None:
    served.create_namespace("full")
    served.create_table("full.t", SCHEMA)
    assert error_of(http.delete("/namespaces/full"), 409)["type"] == "NamespaceNotEmptyException"


def test_identifiers_are_validated_as_in_the_catalog(http: httpx.Client, served: MemCatalog) -> None:
    assert "invalid namespace" in error_of(http.post("/namespaces", json={"namespace": [".."]}), 400)["message"]
    served.create_namespace("db")
    assert "table name" in error_of(create_table(http, "db", "a\nb"), 400)["message"]
    assert served.list_tables("db") == []


# --- tables --------------------------------------------------------------------------


def test_table_create_load_head_list_with_pages(http: httpx.Client, served: MemCatalog) -> None:
    served.create_namespace("db")
    for name in ("t1", "t2", "t3"):
        assert create_table(http, "db", name, properties={"p": 1}).status_code == 200
    assert served.load_table("db.t2").properties["p"] == "1"
    body = http.get("/namespaces/db/tables", params={"pageSize": "2"}).json()
    assert [i["name"] for i in body["identifiers"]] == ["t1", "t2"] and body["next-page-token"]
    rest = http.get("/namespaces/db/tables", params={"pageSize": "2", "pageToken": body["next-page-token"]}).json()
    assert [i["name"] for i in rest["identifiers"]] == ["t3"] and rest.get("next-page-token") is None
    loaded = http.get("/namespaces/db/tables/t1").json()
    assert loaded["metadata-location"] == served.load_table("db.t1").metadata_location
    assert http.head("/namespaces/db/tables/t1").status_code == 204
    assert http.head("/namespaces/db/tables/nope").status_code == 404
    assert error_of(create_table(http, "db", "t1"), 409)["type"] == "AlreadyExistsException"
    assert error_of(create_table(http, "nowhere", "t"), 404)["type"] == "NoSuchNamespaceException"
    assert error_of(http.get("/namespaces/db/tables/nope"), 404)["type"] == "NoSuchTableException"


def test_load_with_snapshots_refs_leaves_out_unreferenced_snapshots(http: httpx.Client, served: MemCatalog) -> None:
    served.create_namespace("db")
    t = served.create_table("db.t", SCHEMA)
    for i in range(3):
        t.append(pa.table({"id": [i], "name": ["x"]}))
    full = http.get("/namespaces/db/tables/t", params={"snapshots": "all"}).json()["metadata"]
    refs = http.get("/namespaces/db/tables/t", params={"snapshots": "refs"}).json()["metadata"]
    assert len(full["snapshots"]) == 3
    assert [s["snapshot-id"] for s in refs["snapshots"]] == [full["current-snapshot-id"]]
    error_of(http.get("/namespaces/db/tables/t", params={"snapshots": "some"}), 400)


def test_stage_create_writes_nothing_until_the_commit(http: httpx.Client, served: MemCatalog) -> None:
    served.create_namespace("db")
    staged = create_table(http, "db", "s", **{"stage-create": True})
    assert staged.status_code == 200 and "metadata-location" not in staged.json()
    assert not served.table_exists("db.s")
    metadata = staged.json()["metadata"]
    commit = {
        "requirements": [{"type": "assert-create"}],
        "updates": [
            {"action": "assign-uuid", "uuid": metadata["table-uuid"]},
            {"action": "upgrade-format-version", "format-version": 2},
            {"action": "add-schema", "schema": metadata["schemas"][0]},
            {"action": "set-current-schema", "schema-id": -1},
            {"action": "add-spec", "spec": metadata["partition-specs"][0]},
            {"action": "set-default-spec", "spec-id": -1},
            {"action": "add-sort-order", "sort-order": metadata["sort-orders"][0]},
            {"action": "set-default-sort-order", "sort-order-id": -1},
            {"action": "set-location", "location": metadata["location"]},
        ],
    }
    r = http.post("/namespaces/db/tables/s", json=commit)
    assert r.status_code == 200, r.text
    assert served.load_table("db.s").metadata.table_uuid.hex == metadata["table-uuid"].replace("-", "")
    again = http.post("/namespaces/db/tables/s", json=commit)
    assert error_of(again, 409)["type"] == "CommitFailedException"


def test_register_rename_and_drop_with_purge(http: httpx.Client, served: MemCatalog) -> None:
    served.create_namespace("db")
    served.create_namespace("other")
    t = served.create_table("db.t", SCHEMA)
    t.append(pa.table({"id": [1], "name": ["x"]}))
    location = served.load_table("db.t").metadata_location
    r = http.post("/namespaces/db/register", json={"name": "copy", "metadata-location": location})
    assert r.status_code == 200 and served.load_table("db.copy").metadata_location == location
    assert http.delete("/namespaces/db/tables/copy").status_code == 204  # shares files: drop, never purge
    r = http.post(
        "/tables/rename",
        json={"source": {"namespace": ["db"], "name": "t"}, "destination": {"namespace": ["other"], "name": "u"}},
    )
    assert r.status_code == 204 and served.table_exists("other.u") and not served.table_exists("db.t")
    missing = {"source": {"namespace": ["db"], "name": "t"}, "destination": {"namespace": ["other"], "name": "v"}}
    assert error_of(http.post("/tables/rename", json=missing), 404)["type"] == "NoSuchTableException"
    data_location = served.load_table("other.u").metadata.location
    assert http.delete("/namespaces/other/tables/u", params={"purgeRequested": "true"}).status_code == 204
    assert not served.table_exists("other.u")
    assert served.pool.usage(data_location.removeprefix(f"memcat://{served.pool.name}/"))[1] == 0


def test_unregister_keeps_the_files_for_a_register(http: httpx.Client, served: MemCatalog) -> None:
    served.create_namespace("db")
    served.create_table("db.t", SCHEMA).append(pa.table({"id": [1, 2], "name": ["a", "b"]}))
    location = served.load_table("db.t").metadata_location
    r = http.post("/namespaces/db/tables/t/unregister")
    assert r.status_code == 200 and r.json()["metadata-location"] == location
    assert not served.table_exists("db.t")
    served.register_table("db.back", location)
    assert served.load_table("db.back").scan().to_arrow().num_rows == 2
    assert error_of(http.post("/namespaces/db/tables/t/unregister"), 404)["type"] == "NoSuchTableException"


def test_metrics_reports_are_accepted(http: httpx.Client, served: MemCatalog) -> None:
    served.create_namespace("db")
    served.create_table("db.t", SCHEMA)
    r = http.post("/namespaces/db/tables/t/metrics", json={"report-type": "scan-report", "table-name": "db.t"})
    assert r.status_code == 204


# --- commits and errors ----------------------------------------------------------------


def test_malformed_requests_are_400_naming_what_was_wrong(http: httpx.Client, served: MemCatalog) -> None:
    served.create_namespace("db")
    served.create_table("db.t", SCHEMA)
    before = served.load_table("db.t").metadata_location
    bad_json = http.post("/namespaces/db/tables/t", content=b"{not json", headers={"content-type": "application/json"})
    assert "not JSON" in error_of(bad_json, 400)["message"]
    unknown = http.post("/namespaces/db/tables/t", json={"updates": [{"action": "make-it-fast"}]})
    assert "updates.0" in error_of(unknown, 400)["message"]
    assert "make-it-fast" in unknown.json()["error"]["message"]
    no_schema = http.post("/namespaces/db/tables", json={"name": "u"})
    assert "'schema'" in error_of(no_schema, 400)["message"]
    not_object = http.post("/namespaces", json=["db"])
    assert "JSON object" in error_of(not_object, 400)["message"]
    assert served.load_table("db.t").metadata_location == before
    assert not served.table_exists("db.u")


def test_failed_requirement_is_409_and_changes_nothing(http: httpx.Client, served: MemCatalog) -> None:
    served.create_namespace("db")
    served.create_table("db.t", SCHEMA)
    before = served.load_table("db.t").metadata_location
    commit = {
        "requirements": [{"type": "assert-table-uuid", "uuid": "00000000-0000-0000-0000-000000000000"}],
        "updates": [{"action": "set-properties", "updates": {"k": "v"}}],
    }
    error = error_of(http.post("/namespaces/db/tables/t", json=commit), 409)
    assert error["type"] == "CommitFailedException"
    assert served.load_table("db.t").metadata_location == before
    assert served.check() == []  # no metadata file left behind


def test_commit_applies_updates_and_answers_the_new_metadata(http: httpx.Client, served: MemCatalog) -> None:
    served.create_namespace("db")
    served.create_table("db.t", SCHEMA)
    uuid = str(served.load_table("db.t").metadata.table_uuid)
    commit = {
        "requirements": [
            {"type": "assert-table-uuid", "uuid": uuid},
            {"type": "assert-current-schema-id", "current-schema-id": 0},
        ],
        "updates": [
            {"action": "set-properties", "updates": {"k": "v"}},
            {"action": "remove-properties", "removals": []},
        ],
    }
    r = http.post("/namespaces/db/tables/t", json=commit)
    assert r.status_code == 200
    assert r.json()["metadata-location"] == served.load_table("db.t").metadata_location
    assert served.load_table("db.t").properties["k"] == "v"


def _set_property(identifier: str, uuid: str, value: str) -> dict[str, Any]:
    ns, name = identifier.split(".")
    return {
        "identifier": {"namespace": [ns], "name": name},
        "requirements": [{"type": "assert-table-uuid", "uuid": uuid}],
        "updates": [{"action": "set-properties", "updates": {"k": value}}],
    }


def test_transaction_commits_all_tables_or_none(http: httpx.Client, served: MemCatalog) -> None:
    served.create_namespace("db")
    a, b = served.create_table("db.a", SCHEMA), served.create_table("db.b", SCHEMA)
    ua, ub = str(a.metadata.table_uuid), str(b.metadata.table_uuid)
    ok = http.post(
        "/transactions/commit", json={"table-changes": [_set_property("db.a", ua, "1"), _set_property("db.b", ub, "1")]}
    )
    assert ok.status_code == 204, ok.text
    assert served.load_table("db.a").properties["k"] == served.load_table("db.b").properties["k"] == "1"
    before = (served.load_table("db.a").metadata_location, served.load_table("db.b").metadata_location)
    wrong = "00000000-0000-0000-0000-000000000000"
    failed = http.post(
        "/transactions/commit",
        json={"table-changes": [_set_property("db.a", ua, "2"), _set_property("db.b", wrong, "2")]},
    )
    assert error_of(failed, 409)["type"] == "CommitFailedException"
    assert (served.load_table("db.a").metadata_location, served.load_table("db.b").metadata_location) == before
    assert served.load_table("db.a").properties["k"] == "1"
    assert served.check() == []  # the staged metadata file of db.a was removed
    twice = http.post("/transactions/commit", json={"table-changes": [_set_property("db.a", ua, "3")] * 2})
    assert "once" in error_of(twice, 400)["message"]


def test_transaction_that_loses_a_race_changes_nothing(served: MemCatalog) -> None:
    """The registry half of a transaction: one lost compare-and-swap and no pointer moves."""
    served.create_namespace("db")
    a, b = served.create_table("db.a", SCHEMA), served.create_table("db.b", SCHEMA)
    stale_b = b.metadata_location
    b.transaction().set_properties(k="other").commit_transaction()  # another writer got in first
    swaps = [("db", "a", a.metadata_location, "memcat://x/a.json"), ("db", "b", stale_b, "memcat://x/b.json")]
    assert registry.swap_locations(served.engine, served.name, swaps, []) == "db.b"
    assert served.load_table("db.a").metadata_location == a.metadata_location
    assert served.load_table("db.b").metadata_location != stale_b


# --- the server ------------------------------------------------------------------------


def test_request_size_limit(served: MemCatalog) -> None:
    with memcatalog.rest.serve(served, max_request_bytes=1000) as server:
        r = httpx.post(server.url + "/v1/namespaces", json={"namespace": ["x"], "properties": {"k": "v" * 2000}})
        assert error_of(r, 413)["type"] == "RequestEntityTooLargeException"
    assert not served.namespace_exists("x")


def test_non_loopback_needs_a_token(served: MemCatalog) -> None:
    with pytest.raises(ValueError, match="token"):
        memcatalog.rest.serve(served, host="0.0.0.0")


def test_several_catalogs_served_at_once(served: MemCatalog) -> None:
    other = MemCatalog(served.name + "b")
    with memcatalog.rest.serve(served) as s1, memcatalog.rest.serve(other) as s2:
        s1.rest_catalog().create_namespace("one")
        s2.rest_catalog().create_namespace("two")
        assert served.list_namespaces() == [("one",)] and other.list_namespaces() == [("two",)]
        assert s1.url != s2.url
    memcatalog.drop_pool(other.pool.name)


def test_unknown_route_is_404_in_the_spec_shape(http: httpx.Client) -> None:
    assert error_of(http.get("/nothing/here"), 404)["type"] == "NotFoundException"


def test_listening_socket_is_tcp_so_responses_are_not_held_back_by_nagle() -> None:
    """asyncio sets TCP_NODELAY on accepted sockets only when the socket says IPPROTO_TCP (else ~40 ms per answer)."""
    import socket

    from memcatalog import serving

    sock = serving._bind("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()


def test_update_types_through_rest_are_applied(server: RestServer, served: MemCatalog) -> None:
    """Sort orders, tags, snapshot expiry, property removal, format upgrade: each as pyiceberg sends it."""
    from pyiceberg.transforms import IdentityTransform

    rest = server.rest_catalog()
    rest.create_namespace("db")
    t = rest.create_table("db.u", SCHEMA, properties={"format-version": "1", "gone": "x"})
    for i in range(3):
        t.append(pa.table({"id": [i], "name": ["n"]}))
    first, second = (s.snapshot_id for s in t.snapshots()[:2])
    t.update_sort_order().asc("id", IdentityTransform()).commit()
    t.manage_snapshots().create_tag(second, "v2").commit()
    t.maintenance.expire_snapshots().by_id(first).commit()
    with t.transaction() as tx:
        tx.upgrade_table_version(format_version=2)
        tx.remove_properties("gone")
    direct = served.load_table("db.u")
    assert direct.sort_order().fields[0].source_id == 1
    assert direct.metadata.refs["v2"].snapshot_id == second
    assert first not in {s.snapshot_id for s in direct.snapshots()}
    assert direct.format_version == 2 and "gone" not in direct.properties
    t.manage_snapshots().remove_tag("v2").commit()
    assert "v2" not in served.load_table("db.u").metadata.refs


def test_unknown_requirement_type_is_400(http: httpx.Client, served: MemCatalog) -> None:
    served.create_namespace("db")
    served.create_table("db.t", SCHEMA)
    r = http.post("/namespaces/db/tables/t", json={"requirements": [{"type": "assert-moon-phase"}], "updates": []})
    assert "requirements.0" in error_of(r, 400)["message"]


def test_an_unforeseen_failure_inside_a_commit_is_500_commit_state_unknown(
    http: httpx.Client, served: MemCatalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    served.create_namespace("db")
    served.create_table("db.t", SCHEMA)

    def lost_connection(*args: object, **kwargs: object) -> None:
        raise ConnectionResetError("the registry went away mid-commit")

    monkeypatch.setattr(served, "commit_table", lost_connection)
    r = http.post("/namespaces/db/tables/t", json={"updates": [{"action": "set-properties", "updates": {"k": "v"}}]})
    error = error_of(r, 500)
    assert error["type"] == "CommitStateUnknownException" and "went away" in error["message"]
    assert http.get("/namespaces/db/tables/t").status_code == 200  # other routes are unaffected
