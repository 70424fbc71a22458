"""The REST protocol as the spec defines it, checked with a plain HTTP client and against MemCatalog directly."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pyarrow as pa
import pytest
from pyiceberg.catalog.rest import RestCatalog
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.transforms import IdentityTransform
from pyiceberg.types import LongType, NestedField, StringType

import memcatalog.rest
from memcatalog import MemCatalog, registry
from memcatalog.rest import RestServer
from memcatalog.rest.routes import ROUTES
from tests.helpers import set_property_change

SCHEMA = Schema(NestedField(1, "id", LongType(), required=False), NestedField(2, "name", StringType(), required=False))
SCHEMA_JSON = json.loads(SCHEMA.model_dump_json())


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == status and error["type"] and error["message"]
    return error


def create_table(http: httpx.Client, ns: str, name: str, **extra: Any) -> httpx.Response:
    return http.post(f"/namespaces/{ns}/tables", json={"name": name, "schema": SCHEMA_JSON, **extra})


# --- config ----------------------------------------------------------------------------


def test_config_vends_memcatalogs_file_io(http: httpx.Client) -> None:
    assert http.get("/config").json()["defaults"]["py-io-impl"] == "memcatalog.fileio.MemFileIO"


def test_config_vends_the_served_catalogs_warehouse(http: httpx.Client, served: MemCatalog) -> None:
    assert http.get("/config").json()["defaults"]["warehouse"] == served.warehouse


def test_config_advertises_every_prefixed_route(http: httpx.Client) -> None:
    advertised = set(http.get("/config").json()["endpoints"])
    assert "POST /v1/{prefix}/transactions/commit" in advertised
    assert "HEAD /v1/{prefix}/namespaces/{namespace}/tables/{table}" in advertised
    assert advertised == {r.endpoint for r in ROUTES if r.prefixed}


@pytest.fixture
def written_by_rest(server: RestServer) -> RestCatalog:
    """A RestCatalog given only the uri, which made db.t and appended ids 1 and 2."""
    rest = RestCatalog("client", uri=server.url)
    rest.create_namespace("db")
    rest.create_table("db.t", SCHEMA).append(pa.table({"id": [1, 2], "name": ["a", "b"]}))
    return rest


def test_rows_a_rest_client_given_only_the_uri_appends_are_in_the_served_catalog(
    written_by_rest: RestCatalog, served: MemCatalog
) -> None:
    assert served.load_table("db.t").scan().to_arrow().column("id").to_pylist() == [1, 2]


def test_rows_appended_to_the_served_catalog_are_seen_by_the_rest_client(
    written_by_rest: RestCatalog, served: MemCatalog
) -> None:
    served.load_table("db.t").append(pa.table({"id": [3], "name": ["c"]}))
    assert sorted(written_by_rest.load_table("db.t").scan().to_arrow().column("id").to_pylist()) == [1, 2, 3]


# --- tokens ----------------------------------------------------------------------------


def test_oauth_tokens_without_a_server_token_hands_out_one(http: httpx.Client) -> None:
    r = http.post("/oauth/tokens", data={"grant_type": "client_credentials", "client_id": "a", "client_secret": "b"})
    assert r.status_code == 200 and r.json()["token_type"] == "bearer" and r.json()["access_token"]


@pytest.fixture
def guarded(served: MemCatalog) -> Iterator[RestServer]:
    """The catalog served with a bearer token, ``s3cret``."""
    with memcatalog.rest.serve(served, token="s3cret") as server:
        yield server


def test_a_request_without_the_token_is_401_not_authorized(guarded: RestServer) -> None:
    assert error_of(httpx.get(guarded.url + "/v1/config"), 401)["type"] == "NotAuthorizedException"


def test_a_request_with_a_wrong_bearer_token_is_401(guarded: RestServer) -> None:
    assert httpx.get(guarded.url + "/v1/config", headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_oauth_tokens_with_a_wrong_client_secret_is_401_invalid_client(guarded: RestServer) -> None:
    bad = httpx.post(guarded.url + "/v1/oauth/tokens", data={"grant_type": "client_credentials", "client_secret": "x"})
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"


def test_oauth_tokens_with_the_client_secret_hands_out_the_server_token(guarded: RestServer) -> None:
    good = httpx.post(
        guarded.url + "/v1/oauth/tokens", data={"grant_type": "client_credentials", "client_secret": "s3cret"}
    )
    assert good.json()["access_token"] == "s3cret"


def test_oauth_tokens_takes_the_secret_by_basic_auth_as_duckdb_sends_it(guarded: RestServer) -> None:
    url = guarded.url + "/v1/oauth/tokens"
    basic = httpx.post(url, data={"grant_type": "client_credentials"}, auth=("me", "s3cret"))
    assert basic.json()["access_token"] == "s3cret"  # DuckDB sends CLIENT_ID/CLIENT_SECRET this way


def test_oauth_tokens_with_a_wrong_basic_auth_secret_is_401(guarded: RestServer) -> None:
    assert httpx.post(guarded.url + "/v1/oauth/tokens", data={}, auth=("me", "nope")).status_code == 401


def test_pyiceberg_with_a_credential_gets_the_token_from_the_deprecated_endpoint(guarded: RestServer) -> None:
    with pytest.warns(DeprecationWarning):  # pyiceberg warns about the spec's deprecated endpoint
        legacy = RestCatalog("legacy", uri=guarded.url, credential="me:s3cret")
    assert legacy.list_namespaces() == []


def test_the_servers_rest_catalog_sends_the_token(guarded: RestServer, served: MemCatalog) -> None:
    guarded.rest_catalog().create_namespace("db")
    assert served.namespace_exists("db")


def test_pyiceberg_without_the_token_is_not_authorized(guarded: RestServer) -> None:
    with pytest.raises(Exception, match="NotAuthorized"):
        RestCatalog("anon", uri=guarded.url)


# --- namespaces: listing ---------------------------------------------------------------


@pytest.fixture
def five_namespaces(served: MemCatalog) -> MemCatalog:
    for ns in ("a", "b", "c", "a.x", "a.y"):
        served.create_namespace(ns)
    return served


def test_listing_namespaces_gives_the_top_level_ones(http: httpx.Client, five_namespaces: MemCatalog) -> None:
    assert http.get("/namespaces").json()["namespaces"] == [["a"], ["b"], ["c"]]


def test_listing_namespaces_under_a_parent_gives_its_children(http: httpx.Client, five_namespaces: MemCatalog) -> None:
    assert http.get("/namespaces", params={"parent": "a"}).json()["namespaces"] == [["a", "x"], ["a", "y"]]


def test_listing_namespaces_in_pages_gives_each_once(http: httpx.Client, five_namespaces: MemCatalog) -> None:
    pages, token = [], None
    while True:
        params = {"pageSize": "2", **({"pageToken": token} if token else {})}
        body = http.get("/namespaces", params=params).json()
        pages.append(body["namespaces"])
        token = body.get("next-page-token")
        if not token:
            break
    assert pages == [[["a"], ["b"]], [["c"]]]


def test_a_page_size_that_is_not_a_number_is_400(http: httpx.Client) -> None:
    error_of(http.get("/namespaces", params={"pageSize": "zero"}), 400)


def test_listing_under_a_missing_parent_is_404(http: httpx.Client) -> None:
    error_of(http.get("/namespaces", params={"parent": "nope"}), 404)


# --- namespaces: create, load, head, update, drop -------------------------------------------


@pytest.fixture
def created_namespace(http: httpx.Client) -> httpx.Response:
    """Namespace n.m created through REST with the property owner=me; the answer."""
    return http.post("/namespaces", json={"namespace": ["n", "m"], "properties": {"owner": "me"}})


def test_creating_a_namespace_answers_it_with_its_properties(created_namespace: httpx.Response) -> None:
    assert created_namespace.json() == {"namespace": ["n", "m"], "properties": {"owner": "me"}}


def test_a_namespace_created_through_rest_is_in_the_catalog(
    created_namespace: httpx.Response, served: MemCatalog
) -> None:
    assert served.load_namespace_properties("n.m")["owner"] == "me"


def test_head_of_an_existing_namespace_is_204(http: httpx.Client, created_namespace: httpx.Response) -> None:
    assert http.head("/namespaces/n%1Fm").status_code == 204


def test_head_of_a_missing_namespace_is_404(http: httpx.Client) -> None:
    assert http.head("/namespaces/zz").status_code == 404


def test_loading_a_namespace_gives_its_properties(http: httpx.Client, created_namespace: httpx.Response) -> None:
    assert http.get("/namespaces/n%1Fm").json()["properties"]["owner"] == "me"


def test_updating_namespace_properties_answers_what_was_updated_removed_and_missing(
    http: httpx.Client, created_namespace: httpx.Response
) -> None:
    r = http.post("/namespaces/n%1Fm/properties", json={"removals": ["owner", "gone"], "updates": {"k": "v"}})
    assert r.json() == {"updated": ["k"], "removed": ["owner"], "missing": ["gone"]}


def test_namespace_properties_updated_through_rest_are_in_the_catalog(
    http: httpx.Client, created_namespace: httpx.Response, served: MemCatalog
) -> None:
    http.post("/namespaces/n%1Fm/properties", json={"removals": ["owner", "gone"], "updates": {"k": "v"}})
    assert served.load_namespace_properties("n.m") == {"k": "v"}


def test_creating_an_existing_namespace_is_409(http: httpx.Client, created_namespace: httpx.Response) -> None:
    assert error_of(http.post("/namespaces", json={"namespace": ["n", "m"]}), 409)["type"] == "AlreadyExistsException"


def test_dropping_a_namespace_is_204_and_removes_it(
    http: httpx.Client, created_namespace: httpx.Response, served: MemCatalog
) -> None:
    assert http.delete("/namespaces/n%1Fm").status_code == 204
    assert not served.namespace_exists("n.m")


def test_dropping_a_dropped_namespace_is_404(http: httpx.Client, created_namespace: httpx.Response) -> None:
    http.delete("/namespaces/n%1Fm")
    assert error_of(http.delete("/namespaces/n%1Fm"), 404)["type"] == "NoSuchNamespaceException"


def test_dropping_a_namespace_with_tables_is_409(http: httpx.Client, served: MemCatalog) -> None:
    served.create_namespace("full")
    served.create_table("full.t", SCHEMA)
    assert error_of(http.delete("/namespaces/full"), 409)["type"] == "NamespaceNotEmptyException"


def test_an_invalid_namespace_name_is_400(http: httpx.Client) -> None:
    assert "invalid namespace" in error_of(http.post("/namespaces", json={"namespace": [".."]}), 400)["message"]


def test_an_invalid_table_name_is_400_and_creates_nothing(http: httpx.Client, served: MemCatalog) -> None:
    served.create_namespace("db")
    assert "table name" in error_of(create_table(http, "db", "a\nb"), 400)["message"]
    assert served.list_tables("db") == []


# --- tables: create, list, load, head ------------------------------------------------------


@pytest.fixture
def three_tables(http: httpx.Client, served: MemCatalog) -> list[httpx.Response]:
    """db.t1, db.t2, db.t3 created through REST with the property p=1; the answers."""
    served.create_namespace("db")
    return [create_table(http, "db", name, properties={"p": 1}) for name in ("t1", "t2", "t3")]


def test_creating_a_table_is_200(three_tables: list[httpx.Response]) -> None:
    assert all(r.status_code == 200 for r in three_tables)


def test_a_tables_properties_arrive_as_strings(three_tables: list[httpx.Response], served: MemCatalog) -> None:
    assert served.load_table("db.t2").properties["p"] == "1"


def test_the_first_page_of_tables_has_a_next_page_token(http: httpx.Client, three_tables: list[httpx.Response]) -> None:
    body = http.get("/namespaces/db/tables", params={"pageSize": "2"}).json()
    assert [i["name"] for i in body["identifiers"]] == ["t1", "t2"] and body["next-page-token"]


def test_the_last_page_of_tables_has_none(http: httpx.Client, three_tables: list[httpx.Response]) -> None:
    token = http.get("/namespaces/db/tables", params={"pageSize": "2"}).json()["next-page-token"]
    rest = http.get("/namespaces/db/tables", params={"pageSize": "2", "pageToken": token}).json()
    assert [i["name"] for i in rest["identifiers"]] == ["t3"] and rest.get("next-page-token") is None


def test_loading_a_table_gives_its_metadata_location(
    http: httpx.Client, three_tables: list[httpx.Response], served: MemCatalog
) -> None:
    loaded = http.get("/namespaces/db/tables/t1").json()
    assert loaded["metadata-location"] == served.load_table("db.t1").metadata_location


def test_head_of_an_existing_table_is_204(http: httpx.Client, three_tables: list[httpx.Response]) -> None:
    assert http.head("/namespaces/db/tables/t1").status_code == 204


def test_head_of_a_missing_table_is_404(http: httpx.Client, three_tables: list[httpx.Response]) -> None:
    assert http.head("/namespaces/db/tables/nope").status_code == 404


def test_creating_an_existing_table_is_409(http: httpx.Client, three_tables: list[httpx.Response]) -> None:
    assert error_of(create_table(http, "db", "t1"), 409)["type"] == "AlreadyExistsException"


def test_creating_a_table_in_a_missing_namespace_is_404(http: httpx.Client) -> None:
    assert error_of(create_table(http, "nowhere", "t"), 404)["type"] == "NoSuchNamespaceException"


def test_loading_a_missing_table_is_404(http: httpx.Client, three_tables: list[httpx.Response]) -> None:
    assert error_of(http.get("/namespaces/db/tables/nope"), 404)["type"] == "NoSuchTableException"


# --- tables: which snapshots a load gives ------------------------------------------------------


@pytest.fixture
def three_snapshots(served: MemCatalog) -> MemCatalog:
    served.create_namespace("db")
    t = served.create_table("db.t", SCHEMA)
    for i in range(3):
        t.append(pa.table({"id": [i], "name": ["x"]}))
    return served


def test_loading_with_snapshots_all_gives_every_snapshot(http: httpx.Client, three_snapshots: MemCatalog) -> None:
    full = http.get("/namespaces/db/tables/t", params={"snapshots": "all"}).json()["metadata"]
    assert len(full["snapshots"]) == 3


def test_loading_with_snapshots_refs_leaves_out_unreferenced_snapshots(
    http: httpx.Client, three_snapshots: MemCatalog
) -> None:
    full = http.get("/namespaces/db/tables/t", params={"snapshots": "all"}).json()["metadata"]
    refs = http.get("/namespaces/db/tables/t", params={"snapshots": "refs"}).json()["metadata"]
    assert [s["snapshot-id"] for s in refs["snapshots"]] == [full["current-snapshot-id"]]


def test_loading_with_an_unknown_snapshots_mode_is_400(http: httpx.Client, three_snapshots: MemCatalog) -> None:
    error_of(http.get("/namespaces/db/tables/t", params={"snapshots": "some"}), 400)


# --- tables: staged create -------------------------------------------------------------------


@pytest.fixture
def staged(http: httpx.Client, served: MemCatalog) -> httpx.Response:
    """db.s staged through REST (stage-create): the answer."""
    served.create_namespace("db")
    return create_table(http, "db", "s", **{"stage-create": True})


def staged_create_commit(metadata: dict[str, Any]) -> dict[str, Any]:
    """The commit that creates a staged table, as pyiceberg sends it."""
    return {
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


def test_stage_create_answers_metadata_without_a_location(staged: httpx.Response) -> None:
    assert staged.status_code == 200 and "metadata-location" not in staged.json()


def test_stage_create_writes_nothing_until_the_commit(staged: httpx.Response, served: MemCatalog) -> None:
    assert not served.table_exists("db.s")


def test_committing_a_staged_create_makes_the_table_it_staged(
    http: httpx.Client, staged: httpx.Response, served: MemCatalog
) -> None:
    metadata = staged.json()["metadata"]
    r = http.post("/namespaces/db/tables/s", json=staged_create_commit(metadata))
    assert r.status_code == 200, r.text
    assert served.load_table("db.s").metadata.table_uuid.hex == metadata["table-uuid"].replace("-", "")


def test_committing_a_staged_create_twice_is_409(http: httpx.Client, staged: httpx.Response) -> None:
    commit = staged_create_commit(staged.json()["metadata"])
    http.post("/namespaces/db/tables/s", json=commit)
    again = http.post("/namespaces/db/tables/s", json=commit)
    assert error_of(again, 409)["type"] == "CommitFailedException"


# --- tables: register, rename, drop, unregister ------------------------------------------------


@pytest.fixture
def one_row(served: MemCatalog) -> MemCatalog:
    """Namespaces db and other; db.t holds one row."""
    served.create_namespace("db")
    served.create_namespace("other")
    served.create_table("db.t", SCHEMA).append(pa.table({"id": [1], "name": ["x"]}))
    return served


def test_registering_a_metadata_location_makes_a_table_of_it(http: httpx.Client, one_row: MemCatalog) -> None:
    location = one_row.load_table("db.t").metadata_location
    r = http.post("/namespaces/db/register", json={"name": "copy", "metadata-location": location})
    assert r.status_code == 200 and one_row.load_table("db.copy").metadata_location == location


def test_dropping_a_registered_copy_leaves_the_table_it_shares_files_with(
    http: httpx.Client, one_row: MemCatalog
) -> None:
    location = one_row.load_table("db.t").metadata_location
    http.post("/namespaces/db/register", json={"name": "copy", "metadata-location": location})
    assert http.delete("/namespaces/db/tables/copy").status_code == 204  # shares files: drop, never purge
    assert one_row.load_table("db.t").scan().to_arrow().num_rows == 1


def test_renaming_a_table_moves_it(http: httpx.Client, one_row: MemCatalog) -> None:
    r = http.post(
        "/tables/rename",
        json={"source": {"namespace": ["db"], "name": "t"}, "destination": {"namespace": ["other"], "name": "u"}},
    )
    assert r.status_code == 204 and one_row.table_exists("other.u") and not one_row.table_exists("db.t")


def test_renaming_a_missing_table_is_404(http: httpx.Client, one_row: MemCatalog) -> None:
    missing = {"source": {"namespace": ["db"], "name": "nope"}, "destination": {"namespace": ["other"], "name": "v"}}
    assert error_of(http.post("/tables/rename", json=missing), 404)["type"] == "NoSuchTableException"


def test_dropping_with_purge_removes_the_table_and_its_files(http: httpx.Client, one_row: MemCatalog) -> None:
    data_location = one_row.load_table("db.t").metadata.location
    assert http.delete("/namespaces/db/tables/t", params={"purgeRequested": "true"}).status_code == 204
    assert not one_row.table_exists("db.t")
    assert one_row.pool.usage(data_location.removeprefix(f"memcat://{one_row.pool.name}/"))[1] == 0


def test_unregistering_answers_the_metadata_location_and_forgets_the_table(
    http: httpx.Client, one_row: MemCatalog
) -> None:
    location = one_row.load_table("db.t").metadata_location
    r = http.post("/namespaces/db/tables/t/unregister")
    assert r.status_code == 200 and r.json()["metadata-location"] == location
    assert not one_row.table_exists("db.t")


def test_an_unregistered_tables_files_register_again(http: httpx.Client, one_row: MemCatalog) -> None:
    location = http.post("/namespaces/db/tables/t/unregister").json()["metadata-location"]
    one_row.register_table("db.back", location)
    assert one_row.load_table("db.back").scan().to_arrow().num_rows == 1


def test_unregistering_a_missing_table_is_404(http: httpx.Client, one_row: MemCatalog) -> None:
    assert error_of(http.post("/namespaces/db/tables/nope/unregister"), 404)["type"] == "NoSuchTableException"


def test_metrics_reports_are_accepted(http: httpx.Client, served: MemCatalog) -> None:
    served.create_namespace("db")
    served.create_table("db.t", SCHEMA)
    r = http.post("/namespaces/db/tables/t/metrics", json={"report-type": "scan-report", "table-name": "db.t"})
    assert r.status_code == 204


# --- commits and errors ----------------------------------------------------------------


@pytest.fixture
def empty_table(served: MemCatalog) -> str:
    """db.t with no rows; its metadata location."""
    served.create_namespace("db")
    return served.create_table("db.t", SCHEMA).metadata_location


def test_a_body_that_is_not_json_is_400_and_changes_nothing(
    http: httpx.Client, empty_table: str, served: MemCatalog
) -> None:
    bad_json = http.post("/namespaces/db/tables/t", content=b"{not json", headers={"content-type": "application/json"})
    assert "not JSON" in error_of(bad_json, 400)["message"]
    assert served.load_table("db.t").metadata_location == empty_table


def test_an_unknown_update_action_is_400_naming_it_and_changes_nothing(
    http: httpx.Client, empty_table: str, served: MemCatalog
) -> None:
    unknown = http.post("/namespaces/db/tables/t", json={"updates": [{"action": "make-it-fast"}]})
    assert "updates.0" in error_of(unknown, 400)["message"]
    assert "make-it-fast" in unknown.json()["error"]["message"]
    assert served.load_table("db.t").metadata_location == empty_table


def test_creating_a_table_without_a_schema_is_400_naming_it(
    http: httpx.Client, empty_table: str, served: MemCatalog
) -> None:
    no_schema = http.post("/namespaces/db/tables", json={"name": "u"})
    assert "'schema'" in error_of(no_schema, 400)["message"]
    assert not served.table_exists("db.u")


def test_a_body_that_is_not_a_json_object_is_400(http: httpx.Client) -> None:
    not_object = http.post("/namespaces", json=["db"])
    assert "JSON object" in error_of(not_object, 400)["message"]


def test_unknown_requirement_type_is_400(http: httpx.Client, empty_table: str) -> None:
    r = http.post("/namespaces/db/tables/t", json={"requirements": [{"type": "assert-moon-phase"}], "updates": []})
    assert "requirements.0" in error_of(r, 400)["message"]


def test_failed_requirement_is_409_and_changes_nothing(
    http: httpx.Client, empty_table: str, served: MemCatalog
) -> None:
    commit = {
        "requirements": [{"type": "assert-table-uuid", "uuid": "00000000-0000-0000-0000-000000000000"}],
        "updates": [{"action": "set-properties", "updates": {"k": "v"}}],
    }
    error = error_of(http.post("/namespaces/db/tables/t", json=commit), 409)
    assert error["type"] == "CommitFailedException"
    assert served.load_table("db.t").metadata_location == empty_table
    assert served.check() == []  # no metadata file left behind


@pytest.fixture
def committed(http: httpx.Client, empty_table: str, served: MemCatalog) -> httpx.Response:
    """A commit to db.t that holds its requirements and sets k=v: the answer."""
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
    return http.post("/namespaces/db/tables/t", json=commit)


def test_a_commit_answers_the_new_metadata_location(committed: httpx.Response, served: MemCatalog) -> None:
    assert committed.status_code == 200
    assert committed.json()["metadata-location"] == served.load_table("db.t").metadata_location


def test_a_commit_applies_its_updates(committed: httpx.Response, served: MemCatalog) -> None:
    assert served.load_table("db.t").properties["k"] == "v"


def test_an_unforeseen_failure_inside_a_commit_is_500_commit_state_unknown(
    http: httpx.Client, empty_table: str, served: MemCatalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(served, "commit_table", lost_connection)
    r = http.post("/namespaces/db/tables/t", json={"updates": [{"action": "set-properties", "updates": {"k": "v"}}]})
    error = error_of(r, 500)
    assert error["type"] == "CommitStateUnknownException" and "went away" in error["message"]


def test_other_routes_answer_after_an_unforeseen_failure_inside_a_commit(
    http: httpx.Client, empty_table: str, served: MemCatalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(served, "commit_table", lost_connection)
    http.post("/namespaces/db/tables/t", json={"updates": [{"action": "set-properties", "updates": {"k": "v"}}]})
    assert http.get("/namespaces/db/tables/t").status_code == 200


def lost_connection(*args: object, **kwargs: object) -> None:
    raise ConnectionResetError("the registry went away mid-commit")


# --- transactions ------------------------------------------------------------------------


@pytest.fixture
def two_tables(served: MemCatalog) -> tuple[str, str]:
    """db.a and db.b: their uuids."""
    served.create_namespace("db")
    a, b = served.create_table("db.a", SCHEMA), served.create_table("db.b", SCHEMA)
    return str(a.metadata.table_uuid), str(b.metadata.table_uuid)


def _commit_both(http: httpx.Client, ua: str, ub: str, value: str) -> httpx.Response:
    changes = [set_property_change("db.a", ua, value), set_property_change("db.b", ub, value)]
    return http.post("/transactions/commit", json={"table-changes": changes})


def test_a_transaction_commits_every_table(http: httpx.Client, two_tables: tuple[str, str], served: MemCatalog) -> None:
    ok = _commit_both(http, *two_tables, "1")
    assert ok.status_code == 204, ok.text
    assert served.load_table("db.a").properties["k"] == served.load_table("db.b").properties["k"] == "1"


def test_a_transaction_with_one_failed_requirement_is_409_and_commits_no_table(
    http: httpx.Client, two_tables: tuple[str, str], served: MemCatalog
) -> None:
    ua, _ = two_tables
    _commit_both(http, *two_tables, "1")
    before = (served.load_table("db.a").metadata_location, served.load_table("db.b").metadata_location)
    failed = _commit_both(http, ua, "00000000-0000-0000-0000-000000000000", "2")
    assert error_of(failed, 409)["type"] == "CommitFailedException"
    assert (served.load_table("db.a").metadata_location, served.load_table("db.b").metadata_location) == before
    assert served.load_table("db.a").properties["k"] == "1"
    assert served.check() == []  # the staged metadata file of db.a was removed


def test_a_transaction_changing_one_table_twice_is_400(http: httpx.Client, two_tables: tuple[str, str]) -> None:
    ua, _ = two_tables
    twice = http.post("/transactions/commit", json={"table-changes": [set_property_change("db.a", ua, "3")] * 2})
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


# --- updates as pyiceberg sends them ------------------------------------------------------


@pytest.fixture
def through_rest(server: RestServer) -> tuple[Table, int, int]:
    """db.u made through REST (format 1, property gone=x) with three appends: the table, its first two snapshot ids."""
    rest = server.rest_catalog()
    rest.create_namespace("db")
    t = rest.create_table("db.u", SCHEMA, properties={"format-version": "1", "gone": "x"})
    for i in range(3):
        t.append(pa.table({"id": [i], "name": ["n"]}))
    first, second = (s.snapshot_id for s in t.snapshots()[:2])
    return t, first, second


def test_a_sort_order_set_through_rest_is_applied(through_rest: tuple[Table, int, int], served: MemCatalog) -> None:
    t, _, _ = through_rest
    t.update_sort_order().asc("id", IdentityTransform()).commit()
    assert served.load_table("db.u").sort_order().fields[0].source_id == 1


def test_a_tag_created_through_rest_is_applied(through_rest: tuple[Table, int, int], served: MemCatalog) -> None:
    t, _, second = through_rest
    t.manage_snapshots().create_tag(second, "v2").commit()
    assert served.load_table("db.u").metadata.refs["v2"].snapshot_id == second


def test_a_tag_removed_through_rest_is_gone(through_rest: tuple[Table, int, int], served: MemCatalog) -> None:
    t, _, second = through_rest
    t.manage_snapshots().create_tag(second, "v2").commit()
    t.manage_snapshots().remove_tag("v2").commit()
    assert "v2" not in served.load_table("db.u").metadata.refs


def test_snapshots_expired_through_rest_are_gone(through_rest: tuple[Table, int, int], served: MemCatalog) -> None:
    t, first, _ = through_rest
    t.maintenance.expire_snapshots().by_id(first).commit()
    assert first not in {s.snapshot_id for s in served.load_table("db.u").snapshots()}


def test_a_format_upgrade_and_a_property_removal_in_one_transaction_are_applied(
    through_rest: tuple[Table, int, int], served: MemCatalog
) -> None:
    t, _, _ = through_rest
    with t.transaction() as tx:
        tx.upgrade_table_version(format_version=2)
        tx.remove_properties("gone")
    direct = served.load_table("db.u")
    assert direct.format_version == 2 and "gone" not in direct.properties


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
