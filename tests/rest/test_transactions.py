"""Multi-table transactions (``POST /v1/transactions/commit``) keep the ownership model's promises.

A transaction writes each table's next metadata file, then moves every pointer in one
registry transaction. Its files must be pinned until then (a reclaim running meanwhile
may not delete them), and the pyiceberg writes whose snapshots it commits are over
once it lands (their files are ordinary files again: a purge frees them at once).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pyarrow as pa
import pytest
from pyiceberg.catalog.rest import RestCatalog
from pyiceberg.table import CommitTableRequest, CommitTableResponse, Table
from pyiceberg.table.update import TableRequirement, TableUpdate
from pyiceberg.typedef import Identifier
from sqlalchemy.exc import OperationalError

from memcatalog import MemCatalog, registry, urls
from memcatalog.rest import RestServer
from tests.helpers import set_property_change

SCHEMA = pa.schema([("n", pa.int64())])


def _reclaiming_before_the_swap(catalog: MemCatalog, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Make a reclaim run between a transaction's metadata writes and its pointer swap; returns files it deleted."""
    deleted: list[int] = []
    swap: Callable[..., str | None] = registry.swap_locations

    def reclaim_then_swap(*args: Any, **kwargs: Any) -> str | None:
        deleted.append(catalog.reclaim().files_deleted)
        return swap(*args, **kwargs)

    monkeypatch.setattr(registry, "swap_locations", reclaim_then_swap)
    return deleted


def test_a_reclaim_during_a_transaction_keeps_its_staged_metadata(
    http: httpx.Client, served: MemCatalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    served.create_namespace("db")
    a, b = served.create_table("db.a", SCHEMA), served.create_table("db.b", SCHEMA)
    deleted = _reclaiming_before_the_swap(served, monkeypatch)
    changes = [
        set_property_change("db.a", str(a.metadata.table_uuid), "1"),
        set_property_change("db.b", str(b.metadata.table_uuid), "1"),
    ]
    answer = http.post("/transactions/commit", json={"table-changes": changes})
    assert answer.status_code == 204, answer.text
    assert deleted == [0]
    for name in ("db.a", "db.b"):
        table = served.load_table(name)  # its new metadata file is there: the reclaim left it alone
        assert table.properties["k"] == "1"
        assert served.pool.entry(urls.parse(table.metadata_location)[1]) is not None


def _commit_as_a_transaction(client: RestCatalog, http: httpx.Client, also: dict[str, Any]) -> None:
    """Send the client's next table commit as a two-table transaction together with ``also``."""

    def commit_table(
        table: Table, requirements: tuple[TableRequirement, ...], updates: tuple[TableUpdate, ...]
    ) -> CommitTableResponse:
        identifier: Identifier = table.name()
        request = CommitTableRequest(
            identifier={"namespace": list(identifier[:-1]), "name": identifier[-1]},
            requirements=requirements,
            updates=updates,
        )
        body = {"table-changes": [json.loads(request.model_dump_json(exclude_none=True)), also]}
        answer = http.post("/transactions/commit", json=body)
        assert answer.status_code == 204, answer.text
        loaded = client.load_table(identifier)
        return CommitTableResponse(metadata=loaded.metadata, metadata_location=loaded.metadata_location)

    client.commit_table = commit_table  # type: ignore[method-assign]


def test_the_files_of_a_snapshot_committed_in_a_transaction_are_freed_by_a_purge(
    http: httpx.Client, served: MemCatalog, server: RestServer
) -> None:
    served.create_namespace("db")
    served.create_table("db.a", SCHEMA)
    b = served.create_table("db.b", SCHEMA)
    client = server.rest_catalog()
    _commit_as_a_transaction(client, http, set_property_change("db.b", str(b.metadata.table_uuid), "1"))
    client.load_table("db.a").append(pa.table({"n": pa.array(range(1000), pa.int64())}))
    assert served.load_table("db.a").scan().to_arrow().num_rows == 1000
    assert served.load_table("db.b").properties["k"] == "1"
    served.purge_table("db.a")
    served.purge_table("db.b")
    served.reclaim()
    left = served.pool.keys("db")
    assert left == [], f"files of the committed write stayed pinned: {left}"


def _two_changes(served: MemCatalog) -> tuple[list[dict[str, Any]], tuple[str, str]]:
    served.create_namespace("db")
    a, b = served.create_table("db.a", SCHEMA), served.create_table("db.b", SCHEMA)
    changes = [
        set_property_change("db.a", str(a.metadata.table_uuid), "1"),
        set_property_change("db.b", str(b.metadata.table_uuid), "1"),
    ]
    return changes, (str(a.metadata_location), str(b.metadata_location))


def _failing_after_commit(monkeypatch: pytest.MonkeyPatch, *, apply: bool, then_unreadable: bool = False) -> None:
    """The registry is sent COMMIT (applied or not), then the connection 'drops' (and, if asked, stays down)."""
    swap: Callable[..., str | None] = registry.swap_locations

    def unreadable(*args: Any, **kwargs: Any) -> str | None:
        raise OperationalError("SELECT", {}, Exception("the registry is down"))

    def swap_then_fail(*args: Any, **kwargs: Any) -> str | None:
        if apply:
            assert swap(*args, **kwargs) is None
        else:
            registry._count_commit(None)  # COMMIT sent, and lost before the database took it
        if then_unreadable:
            monkeypatch.setattr(registry, "metadata_location", unreadable)
        raise OperationalError("COMMIT", {}, Exception("server closed the connection unexpectedly"))

    monkeypatch.setattr(registry, "swap_locations", swap_then_fail)


def _locations(served: MemCatalog) -> tuple[str, str]:
    return str(served.load_table("db.a").metadata_location), str(served.load_table("db.b").metadata_location)


def test_a_transaction_that_landed_before_the_registry_failed_is_a_success(
    http: httpx.Client, served: MemCatalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    changes, before = _two_changes(served)
    _failing_after_commit(monkeypatch, apply=True)
    answer = http.post("/transactions/commit", json={"table-changes": changes})
    assert answer.status_code == 204, answer.text
    assert _locations(served) != before
    assert served.load_table("db.a").properties["k"] == served.load_table("db.b").properties["k"] == "1"
    assert served.check() == []  # the new metadata files were kept (the tables point at them), the old ones remain


def test_a_transaction_that_did_not_land_before_the_registry_failed_deletes_its_files(
    http: httpx.Client, served: MemCatalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    changes, before = _two_changes(served)
    _failing_after_commit(monkeypatch, apply=False)
    answer = http.post("/transactions/commit", json={"table-changes": changes})
    assert answer.status_code == 500
    assert _locations(served) == before
    assert served.check() == []  # no staged metadata file left behind


def test_a_transaction_whose_outcome_cannot_be_read_deletes_nothing(
    http: httpx.Client, served: MemCatalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    changes, before = _two_changes(served)
    _failing_after_commit(monkeypatch, apply=True, then_unreadable=True)
    answer = http.post("/transactions/commit", json={"table-changes": changes})
    assert answer.status_code == 500
    assert answer.json()["error"]["type"] == "CommitStateUnknownException"
    assert "nothing was deleted" in answer.json()["error"]["message"]
    monkeypatch.undo()
    assert _locations(served) != before  # it had landed: the tables point at the files the transaction kept
    assert served.load_table("db.a").properties["k"] == served.load_table("db.b").properties["k"] == "1"
