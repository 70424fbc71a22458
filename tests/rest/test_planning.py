"""Server-side scan planning: pyiceberg with scan-planning-mode=server gets the same rows as planning locally."""

from __future__ import annotations

import httpx
import pyarrow as pa
import pytest
from pyiceberg.expressions import And, GreaterThan, LessThan

import memcatalog.duckdb
import memcatalog.rest
from memcatalog import MemCatalog
from memcatalog.rest import RestServer, planning


@pytest.fixture
def table_of_five_files(served: MemCatalog) -> MemCatalog:
    served.create_namespace("db")
    t = served.create_table("db.t", pa.schema([("id", pa.int64()), ("s", pa.string())]))
    for i in range(5):
        t.append(pa.table({"id": [i * 10 + j for j in range(10)], "s": [f"f{i}"] * 10}))
    return served


def ids(table: pa.Table) -> list[int]:
    return sorted(table.column("id").to_pylist())


def test_server_planning_gives_the_rows_of_local_planning(
    server: RestServer, table_of_five_files: MemCatalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(planning, "TASKS_PER_BATCH", 2)  # 5 files: 2 in the plan, 3 fetched in 2 batches
    remote = server.rest_catalog(**{"scan-planning-mode": "server"})
    assert remote.supports_server_side_planning()
    served_table = table_of_five_files.load_table("db.t")
    remote_table = remote.load_table("db.t")
    first_snapshot = served_table.snapshots()[1].snapshot_id
    for kwargs in (
        {},
        {"row_filter": GreaterThan("id", 23)},
        {"row_filter": And(GreaterThan("id", 5), LessThan("id", 42)), "selected_fields": ("id",)},
        {"snapshot_id": first_snapshot},
    ):
        assert ids(remote_table.scan(**kwargs).to_arrow()) == ids(served_table.scan(**kwargs).to_arrow()), kwargs  # type: ignore[arg-type]
    assert len(list(remote_table.scan().plan_files())) == 5


def test_planning_happens_on_the_server(server: RestServer, table_of_five_files: MemCatalog) -> None:
    """A table object loaded before another append: local planning reads its own snapshot, the server the current one."""
    remote = server.rest_catalog(**{"scan-planning-mode": "server"})
    stale = remote.load_table("db.t")
    table_of_five_files.load_table("db.t").append(pa.table({"id": [999], "s": ["new"]}))
    assert 999 in ids(stale.scan().to_arrow())
    local = server.rest_catalog().load_table("db.t")  # loaded now and planned locally: the same rows
    assert ids(local.scan().to_arrow()) == ids(stale.scan().to_arrow())


def test_plan_fetch_tasks_and_cancel(
    http: httpx.Client, table_of_five_files: MemCatalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(planning, "TASKS_PER_BATCH", 2)
    plan = http.post("/namespaces/db/tables/t/plan", json={"filter": {"type": "gt", "term": "id", "value": -1}})
    body = plan.json()
    assert plan.status_code == 200 and body["status"] == "completed" and len(body["file-scan-tasks"]) == 2
    assert len(body["plan-tasks"]) == 2
    files = {t["data-file"]["file-path"] for t in body["file-scan-tasks"]}
    for token in body["plan-tasks"]:
        batch = http.post("/namespaces/db/tables/t/tasks", json={"plan-task": token})
        assert batch.status_code == 200
        files |= {t["data-file"]["file-path"] for t in batch.json()["file-scan-tasks"]}
        again = http.post("/namespaces/db/tables/t/tasks", json={"plan-task": token})
        assert again.status_code == 404 and again.json()["error"]["type"] == "NoSuchPlanTaskException"
    table = table_of_five_files.load_table("db.t")
    assert files == {task.file.file_path for task in table.scan().plan_files()}
    second = http.post("/namespaces/db/tables/t/plan", json={}).json()
    assert http.get(f"/namespaces/db/tables/t/plan/{second['plan-id']}").json()["status"] == "completed"
    assert http.delete(f"/namespaces/db/tables/t/plan/{second['plan-id']}").status_code == 204
    assert http.get(f"/namespaces/db/tables/t/plan/{second['plan-id']}").status_code == 404
    assert http.post("/namespaces/db/tables/t/tasks", json={"plan-task": second["plan-tasks"][0]}).status_code == 404
    incremental = http.post("/namespaces/db/tables/t/plan", json={"start-snapshot-id": 1, "end-snapshot-id": 2})
    assert incremental.status_code == 406


def test_server_planning_carries_duckdb_delete_files(server: RestServer, served: MemCatalog) -> None:
    served.create_namespace("db")
    con = memcatalog.duckdb.attach(served, name="lake", server=server)
    con.execute("CREATE TABLE lake.db.d AS SELECT range AS id FROM range(100)")
    con.execute("DELETE FROM lake.db.d WHERE id % 3 = 0")
    con.close()
    plan = httpx.post(server.url + "/v1/namespaces/db/tables/d/plan", json={}).json()
    assert plan["delete-files"] and plan["delete-files"][0]["content"] == "position-deletes"
    assert plan["file-scan-tasks"][0]["delete-file-references"] == [0]
    remote = server.rest_catalog(**{"scan-planning-mode": "server"}).load_table("db.d")
    expected = [i for i in range(100) if i % 3]
    assert ids(remote.scan().to_arrow()) == ids(served.load_table("db.d").scan().to_arrow()) == expected
