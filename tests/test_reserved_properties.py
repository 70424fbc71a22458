"""``memcatalog.owner`` names the catalog that owns a pool file; no table property may change it.

pyiceberg builds a table's FileIO from the catalog's properties updated by the table's,
so a table property of that name would make every file written for the table someone
else's: its own catalog's reclaim would never free them, and another catalog's could.
"""

from __future__ import annotations

import httpx
import pyarrow as pa
import pytest
from pyiceberg.catalog.sql import SqlCatalog

import memcatalog.rest as rest
from memcatalog import MemCatalog, ReservedPropertyError, ownership

SCHEMA = pa.schema([("n", pa.int64())])
ROWS = pa.table({"n": pa.array([1, 2, 3], pa.int64())})


def test_creating_a_table_with_the_owner_property_is_refused_and_leaves_nothing(memcatalog: MemCatalog) -> None:
    memcatalog.create_namespace("db")
    with pytest.raises(ReservedPropertyError, match=r"create table db\.t: the table property 'memcatalog\.owner'"):
        memcatalog.create_table("db.t", SCHEMA, properties={"memcatalog.owner": "someone-else"})
    assert not memcatalog.table_exists("db.t")
    assert memcatalog.pool.keys("db") == []


def test_setting_the_owner_property_on_a_table_is_refused_and_changes_nothing(memcatalog: MemCatalog) -> None:
    memcatalog.create_namespace("db")
    table = memcatalog.create_table("db.t", SCHEMA)
    before, files = table.metadata_location, memcatalog.pool.keys("db")
    with pytest.raises(ReservedPropertyError, match="remove it, or use another name"):
        table.transaction().set_properties({"memcatalog.owner": "someone-else"}).commit_transaction()
    assert memcatalog.load_table("db.t").metadata_location == before
    assert memcatalog.pool.keys("db") == files


def test_registering_metadata_that_sets_the_owner_property_is_refused(memcatalog: MemCatalog, tmp_path: str) -> None:
    oracle = SqlCatalog("oracle", uri=f"sqlite:///{tmp_path}/oracle.db", warehouse=f"file://{tmp_path}")
    oracle.create_namespace("db")
    foreign = oracle.create_table("db.t", SCHEMA, properties={"memcatalog.owner": "someone-else"})
    memcatalog.create_namespace("db")
    with pytest.raises(ReservedPropertyError, match=r"register table db\.t"):
        memcatalog.register_table("db.t", str(foreign.metadata_location))
    assert not memcatalog.table_exists("db.t")


def test_files_keep_the_catalogs_owner_even_when_table_metadata_names_another(
    memcatalog: MemCatalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Defence in depth: metadata that got the property anyway (an older save, say) changes no owner."""
    monkeypatch.setattr(ownership, "check_table_properties", lambda properties, what: None)
    memcatalog.create_namespace("db")
    table = memcatalog.create_table("db.t", SCHEMA, properties={"memcatalog.owner": "someone-else"})
    table.append(ROWS)
    memcatalog.load_table("db.t").append(ROWS)
    owners = {memcatalog.pool.entry(key).owner for key in memcatalog.pool.keys("db")}  # type: ignore[union-attr]
    assert owners == {memcatalog.owner}
    memcatalog.purge_table("db.t")
    assert memcatalog.pool.keys("db") == []  # all of them its own: the purge freed every one


def test_the_rest_server_refuses_the_owner_property_with_a_400(memcatalog: MemCatalog) -> None:
    memcatalog.create_namespace("db")
    memcatalog.create_table("db.t", SCHEMA)
    uuid = str(memcatalog.load_table("db.t").metadata.table_uuid)
    with rest.serve(memcatalog) as server, httpx.Client(base_url=server.url + "/v1") as http:
        created = http.post(
            "/namespaces/db/tables",
            json={"name": "u", "schema": {"type": "struct", "fields": []}, "properties": {"memcatalog.owner": "x"}},
        )
        change = {
            "identifier": {"namespace": ["db"], "name": "t"},
            "requirements": [{"type": "assert-table-uuid", "uuid": uuid}],
            "updates": [{"action": "set-properties", "updates": {"memcatalog.owner": "x"}}],
        }
        committed = http.post("/namespaces/db/tables/t", json=change)
        transaction = http.post(
            "/transactions/commit",
            json={"table-changes": [change, {**change, "identifier": {"namespace": ["db"], "name": "u"}}]},
        )
    for answer in (created, committed, transaction):
        assert answer.status_code == 400, answer.text
        assert "'memcatalog.owner' is reserved" in answer.json()["error"]["message"]
    assert not memcatalog.table_exists("db.u")
    assert "memcatalog.owner" not in memcatalog.load_table("db.t").properties
