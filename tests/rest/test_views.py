"""Views: created through REST, seen by pyiceberg's RestCatalog and by MemCatalog directly (and stored as the JDBC catalog does)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pyiceberg.catalog.rest import RestCatalog
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import NoSuchViewError, ViewAlreadyExistsError
from pyiceberg.schema import Schema
from pyiceberg.types import LongType, NestedField
from pyiceberg.view.metadata import SQLViewRepresentation, ViewRepresentation, ViewVersion
from sqlalchemy import text

import memcatalog
import memcatalog.rest
from memcatalog import MemCatalog
from memcatalog.rest import RestServer

SCHEMA = Schema(NestedField(1, "a", LongType(), required=False))


def version(sql: str, schema_id: int = 0) -> ViewVersion:
    return ViewVersion.model_validate(
        {
            "schema-id": schema_id,
            "representations": [ViewRepresentation(SQLViewRepresentation(type="sql", sql=sql, dialect="duckdb"))],
            "default-namespace": ["db"],
        }
    )


def sql_of(cat: Any, identifier: str) -> str:
    representation = cat.load_view(identifier).current_version().representations[0].root
    return str(representation.sql)


@dataclass
class Shared:
    """One served catalog with ``db.v`` created through REST.

    Tests only read ``db``; a test that changes the catalog does so in a namespace of its own.
    """

    served: MemCatalog
    rest: RestCatalog
    http: httpx.Client


@pytest.fixture(scope="module")
def shared() -> Iterator[Shared]:
    served = MemCatalog(f"r{uuid.uuid4().hex[:10]}")
    with (
        memcatalog.rest.serve(served) as server,
        httpx.Client(
            base_url=server.url + "/v1",
            timeout=30,
            verify=False,  # plain http: skip loading CA certificates (~30 ms)
        ) as http,
    ):
        rest = server.rest_catalog()
        rest.create_namespace("db")
        rest.create_view("db.v", SCHEMA, version("SELECT 1 AS a"), properties={"owner": "me"})
        yield Shared(served, rest, http)
    assert served.check(allow_unreferenced=True) == [], "the catalog's audit found problems"
    memcatalog.drop_pool(served.pool.name)


def test_a_view_created_through_rest_is_listed_by_both_catalogs(shared: Shared) -> None:
    assert shared.rest.list_views("db") == [("db", "v")] == shared.served.list_views("db")


def test_a_view_created_through_rest_exists_for_both_catalogs(shared: Shared) -> None:
    rest, served = shared.rest, shared.served
    assert rest.view_exists("db.v") and served.view_exists("db.v") and not served.view_exists("db.w")


def test_both_catalogs_load_the_sql_of_a_view_created_through_rest(shared: Shared) -> None:
    assert sql_of(shared.rest, "db.v") == sql_of(shared.served, "db.v") == "SELECT 1 AS a"


def test_view_properties_given_through_rest_are_kept(shared: Shared) -> None:
    assert shared.served.load_view("db.v").properties["owner"] == "me"


def test_a_view_is_not_listed_or_found_as_a_table(shared: Shared) -> None:
    assert shared.served.list_tables("db") == [] and not shared.served.table_exists("db.v")


def test_creating_an_existing_view_through_rest_is_refused(shared: Shared) -> None:
    with pytest.raises(ViewAlreadyExistsError):
        shared.rest.create_view("db.v", SCHEMA, version("SELECT 2 AS a"))


def test_a_view_dropped_through_rest_is_gone_for_both_catalogs(shared: Shared) -> None:
    rest, served = shared.rest, shared.served
    rest.create_namespace("dropped")
    rest.create_view("dropped.v", SCHEMA, version("SELECT 1 AS a"))
    rest.drop_view("dropped.v")
    assert served.list_views("dropped") == []
    with pytest.raises(NoSuchViewError):
        rest.load_view("dropped.v")


def test_views_are_stored_in_the_jdbc_layout(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/registry.db"
    cat = MemCatalog("jdbc_layout_views", uri=uri)
    cat.create_namespace("db")
    cat.create_table("db.t", SCHEMA)
    cat.create_view("db.v", SCHEMA, version("SELECT a FROM db.t"))
    with cat.engine.connect() as conn:
        rows = conn.execute(text("SELECT table_name, iceberg_type FROM iceberg_tables ORDER BY table_name")).all()
    assert [tuple(r) for r in rows] == [("t", "TABLE"), ("v", "VIEW")]
    peer = SqlCatalog("jdbc_layout_views", uri=uri, warehouse=f"file://{tmp_path}")
    assert peer.list_tables("db") == [("db", "t")]  # pyiceberg's own catalog filters the view out
    assert MemCatalog("jdbc_layout_views", uri=uri).list_views("db") == [("db", "v")]
    memcatalog.drop_pool("jdbc_layout_views")


def replacing_commit(view_uuid: str) -> dict[str, Any]:
    """A view commit that replaces the view's schema and SQL and sets property k=v."""
    new_schema = {
        "type": "struct",
        "schema-id": 1,
        "fields": [{"id": 1, "name": "b", "type": "long", "required": False}],
    }
    new_version = {
        "version-id": 2,
        "schema-id": -1,
        "timestamp-ms": 1,
        "summary": {},
        "representations": [{"type": "sql", "sql": "SELECT 2 AS b", "dialect": "duckdb"}],
        "default-namespace": ["db"],
    }
    return {
        "requirements": [{"type": "assert-view-uuid", "uuid": view_uuid}],
        "updates": [
            {"action": "add-schema", "schema": new_schema},
            {"action": "add-view-version", "view-version": new_version},
            {"action": "set-current-view-version", "view-version-id": -1},
            {"action": "set-properties", "updates": {"k": "v"}},
        ],
    }


def test_a_view_commit_replaces_schema_sql_and_properties(shared: Shared) -> None:
    served = shared.served
    served.create_namespace("replaced")
    view = served.create_view("replaced.v", SCHEMA, version("SELECT 1 AS a"))
    r = shared.http.post("/namespaces/replaced/views/v", json=replacing_commit(view.metadata.view_uuid))
    assert r.status_code == 200, r.text
    replaced = served.load_view("replaced.v")
    assert sql_of(served, "replaced.v") == "SELECT 2 AS b" and replaced.schema().fields[0].name == "b"
    assert [e.version_id for e in replaced.history()] == [1, 2] and replaced.properties["k"] == "v"
    assert r.json()["metadata-location"] == memcatalog.views.view_location(served, "replaced.v")


def test_a_view_commit_with_a_stale_uuid_is_409_and_changes_nothing(shared: Shared) -> None:
    stale = replacing_commit("not-this-view")
    assert shared.http.post("/namespaces/db/views/v", json=stale).status_code == 409
    assert sql_of(shared.served, "db.v") == "SELECT 1 AS a"


def test_a_view_commit_with_an_unknown_action_is_400_naming_it_and_changes_nothing(shared: Shared) -> None:
    unknown = shared.http.post("/namespaces/db/views/v", json={"updates": [{"action": "drop-everything"}]})
    assert unknown.status_code == 400 and "updates.0" in unknown.json()["error"]["message"]
    assert sql_of(shared.served, "db.v") == "SELECT 1 AS a"


def test_head_of_a_view_is_204(shared: Shared) -> None:
    assert shared.http.head("/namespaces/db/views/v").status_code == 204


def test_head_of_a_missing_view_is_404(shared: Shared) -> None:
    assert shared.http.head("/namespaces/db/views/nope").status_code == 404


def test_listing_views_over_http_names_them(shared: Shared) -> None:
    assert shared.http.get("/namespaces/db/views").json()["identifiers"] == [{"namespace": ["db"], "name": "v"}]


def test_a_view_rename_moves_it_between_namespaces(shared: Shared) -> None:
    served = shared.served
    served.create_namespace("renamed_from")
    served.create_namespace("renamed_to")
    served.create_view("renamed_from.v", SCHEMA, version("SELECT 1 AS a"))
    move = {
        "source": {"namespace": ["renamed_from"], "name": "v"},
        "destination": {"namespace": ["renamed_to"], "name": "w"},
    }
    assert shared.http.post("/views/rename", json=move).status_code == 204
    assert served.list_views("renamed_to") == [("renamed_to", "w")] and served.list_views("renamed_from") == []


def test_a_view_registered_from_a_metadata_location_loads_its_sql(shared: Shared) -> None:
    served = shared.served
    served.create_namespace("registered")
    served.create_view("registered.v", SCHEMA, version("SELECT 1 AS a"))
    location = memcatalog.views.view_location(served, "registered.v")
    body = {"name": "again", "metadata-location": location}
    r = shared.http.post("/namespaces/registered/register-view", json=body)
    assert r.status_code == 200 and sql_of(served, "registered.again") == "SELECT 1 AS a"


def test_dropping_a_view_over_http_is_204_and_dropping_it_again_is_404(shared: Shared) -> None:
    shared.served.create_namespace("deleted")
    shared.served.create_view("deleted.again", SCHEMA, version("SELECT 1 AS a"))
    assert shared.http.delete("/namespaces/deleted/views/again").status_code == 204
    assert shared.http.delete("/namespaces/deleted/views/again").status_code == 404


def test_reclaim_keeps_views_and_frees_their_replaced_metadata(server: RestServer, served: MemCatalog) -> None:
    rest = server.rest_catalog()
    rest.create_namespace("db")
    rest.create_view("db.v", SCHEMA, version("SELECT 1 AS a"))
    before = memcatalog.views.view_location(served, "db.v")
    replace = {"updates": [{"action": "set-properties", "updates": {"k": "v"}}]}
    assert httpx.post(server.url + "/v1/namespaces/db/views/v", json=replace).status_code == 200
    result = served.reclaim()
    assert result.deleted == [before]  # the replaced metadata file, nothing else
    assert served.check() == []
    assert sql_of(rest, "db.v") == "SELECT 1 AS a" and served.load_view("db.v").properties["k"] == "v"


def test_views_and_tables_share_names_and_namespaces(served: MemCatalog) -> None:
    served.create_namespace("db")
    served.create_table("db.t", SCHEMA)
    with pytest.raises(ViewAlreadyExistsError, match="Table with the same name"):
        served.create_view("db.t", SCHEMA, version("SELECT 1 AS a"))
    served.create_namespace("only_views")
    served.create_view("only_views.v", SCHEMA, version("SELECT 1 AS a"))
    with pytest.raises(Exception, match="not empty"):
        served.drop_namespace("only_views")
    served.drop_view("only_views.v")
    served.drop_namespace("only_views")
