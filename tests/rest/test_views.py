"""Views: created through REST, seen by pyiceberg's RestCatalog and by MemCatalog directly (and stored as the JDBC catalog does)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
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


def test_views_created_through_rest_are_seen_by_both(server: RestServer, served: MemCatalog) -> None:
    rest = server.rest_catalog()
    rest.create_namespace("db")
    rest.create_view("db.v", SCHEMA, version("SELECT 1 AS a"), properties={"owner": "me"})
    assert rest.list_views("db") == [("db", "v")] == served.list_views("db")
    assert rest.view_exists("db.v") and served.view_exists("db.v") and not served.view_exists("db.w")
    assert sql_of(rest, "db.v") == sql_of(served, "db.v") == "SELECT 1 AS a"
    assert served.load_view("db.v").properties["owner"] == "me"
    assert served.list_tables("db") == [] and not served.table_exists("db.v")
    with pytest.raises(ViewAlreadyExistsError):
        rest.create_view("db.v", SCHEMA, version("SELECT 2 AS a"))
    rest.drop_view("db.v")
    assert served.list_views("db") == []
    with pytest.raises(NoSuchViewError):
        rest.load_view("db.v")


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


def test_replace_view_through_commit(http: httpx.Client, served: MemCatalog) -> None:
    served.create_namespace("db")
    view = served.create_view("db.v", SCHEMA, version("SELECT 1 AS a"))
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
    commit = {
        "requirements": [{"type": "assert-view-uuid", "uuid": view.metadata.view_uuid}],
        "updates": [
            {"action": "add-schema", "schema": new_schema},
            {"action": "add-view-version", "view-version": new_version},
            {"action": "set-current-view-version", "view-version-id": -1},
            {"action": "set-properties", "updates": {"k": "v"}},
        ],
    }
    r = http.post("/namespaces/db/views/v", json=commit)
    assert r.status_code == 200, r.text
    replaced = served.load_view("db.v")
    assert sql_of(served, "db.v") == "SELECT 2 AS b" and replaced.schema().fields[0].name == "b"
    assert [e.version_id for e in replaced.history()] == [1, 2] and replaced.properties["k"] == "v"
    assert r.json()["metadata-location"] == memcatalog.views.view_location(served, "db.v")
    stale = {**commit, "requirements": [{"type": "assert-view-uuid", "uuid": "not-this-view"}]}
    assert http.post("/namespaces/db/views/v", json=stale).status_code == 409
    unknown = http.post("/namespaces/db/views/v", json={"updates": [{"action": "drop-everything"}]})
    assert unknown.status_code == 400 and "updates.0" in unknown.json()["error"]["message"]
    assert sql_of(served, "db.v") == "SELECT 2 AS b"


def test_view_head_rename_register_and_drop(http: httpx.Client, served: MemCatalog) -> None:
    served.create_namespace("db")
    served.create_namespace("other")
    served.create_view("db.v", SCHEMA, version("SELECT 1 AS a"))
    assert http.head("/namespaces/db/views/v").status_code == 204
    assert http.head("/namespaces/db/views/nope").status_code == 404
    assert http.get("/namespaces/db/views").json()["identifiers"] == [{"namespace": ["db"], "name": "v"}]
    move = {"source": {"namespace": ["db"], "name": "v"}, "destination": {"namespace": ["other"], "name": "w"}}
    assert http.post("/views/rename", json=move).status_code == 204
    assert served.list_views("other") == [("other", "w")] and served.list_views("db") == []
    location = memcatalog.views.view_location(served, "other.w")
    r = http.post("/namespaces/db/register-view", json={"name": "again", "metadata-location": location})
    assert r.status_code == 200 and sql_of(served, "db.again") == "SELECT 1 AS a"
    assert http.delete("/namespaces/db/views/again").status_code == 204
    assert http.delete("/namespaces/db/views/again").status_code == 404


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
