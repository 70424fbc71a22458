"""Server-side scan planning: pyiceberg with scan-planning-mode=server gets the same rows as planning locally."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pyarrow as pa
import pytest
from pyiceberg.expressions import And, BooleanExpression, GreaterThan, LessThan
from pyiceberg.table import Table

import memcatalog.duckdb
import memcatalog.rest
from memcatalog import MemCatalog
from memcatalog.rest import RestServer, planning


def _five_files(cat: MemCatalog) -> MemCatalog:
    cat.create_namespace("db")
    t = cat.create_table("db.t", pa.schema([("id", pa.int64()), ("s", pa.string())]))
    for i in range(5):
        t.append(pa.table({"id": [i * 10 + j for j in range(10)], "s": [f"f{i}"] * 10}))
    return cat


@pytest.fixture
def table_of_five_files(served: MemCatalog) -> MemCatalog:
    """db.t of five data files (ids 0..49) in this test's own served catalog: for tests that change it."""
    return _five_files(served)


@pytest.fixture(scope="module")
def five_files() -> Iterator[RestServer]:
    """db.t of five data files (ids 0..49), served once for the tests that only read it."""
    cat = _five_files(MemCatalog(f"r{uuid.uuid4().hex[:10]}"))
    with memcatalog.rest.serve(cat) as server:
        yield server
    assert cat.check(allow_unreferenced=True) == [], "the catalog's audit found problems"
    memcatalog.drop_pool(cat.pool.name)


@pytest.fixture
def five_files_http(five_files: RestServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=five_files.url + "/v1", timeout=30) as client:
        yield client


def ids(table: pa.Table) -> list[int]:
    return sorted(table.column("id").to_pylist())


SCANS: dict[str, Callable[[Table], dict[str, Any]]] = {  # the scan's arguments, given the served table
    "everything": lambda t: {},
    "a filter": lambda t: {"row_filter": GreaterThan("id", 23)},
    "a filter and a projection": lambda t: {
        "row_filter": And(GreaterThan("id", 5), LessThan("id", 42)),
        "selected_fields": ("id",),
    },
    "an older snapshot": lambda t: {"snapshot_id": t.snapshots()[1].snapshot_id},
}


def test_a_rest_catalog_in_server_planning_mode_plans_on_the_server(five_files: RestServer) -> None:
    assert five_files.rest_catalog(**{"scan-planning-mode": "server"}).supports_server_side_planning()


@pytest.mark.parametrize("scan", SCANS)
def test_server_planning_gives_the_rows_of_local_planning(
    five_files: RestServer, monkeypatch: pytest.MonkeyPatch, scan: str
) -> None:
    monkeypatch.setattr(planning, "TASKS_PER_BATCH", 2)  # 5 files: 2 in the plan, 3 fetched in 2 batches
    remote_table = five_files.rest_catalog(**{"scan-planning-mode": "server"}).load_table("db.t")
    served_table = five_files.catalog.load_table("db.t")
    kwargs = SCANS[scan](served_table)
    assert ids(remote_table.scan(**kwargs).to_arrow()) == ids(served_table.scan(**kwargs).to_arrow()), kwargs


def test_server_planning_in_batches_gives_every_file(five_files: RestServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(planning, "TASKS_PER_BATCH", 2)
    remote_table = five_files.rest_catalog(**{"scan-planning-mode": "server"}).load_table("db.t")
    assert len(list(remote_table.scan().plan_files())) == 5


def test_planning_happens_on_the_server(server: RestServer, table_of_five_files: MemCatalog) -> None:
    """A table object loaded before another append: local planning reads its own snapshot, the server the current one."""
    remote = server.rest_catalog(**{"scan-planning-mode": "server"})
    stale = remote.load_table("db.t")
    table_of_five_files.load_table("db.t").append(pa.table({"id": [999], "s": ["new"]}))
    assert 999 in ids(stale.scan().to_arrow())
    local = server.rest_catalog().load_table("db.t")  # loaded now and planned locally: the same rows
    assert ids(local.scan().to_arrow()) == ids(stale.scan().to_arrow())


def _plan(http: httpx.Client) -> httpx.Response:
    return http.post("/namespaces/db/tables/t/plan", json={"filter": {"type": "gt", "term": "id", "value": -1}})


def test_a_plan_answers_a_batch_of_file_tasks_and_plan_tasks_for_the_rest(
    five_files_http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(planning, "TASKS_PER_BATCH", 2)
    plan = _plan(five_files_http)
    body = plan.json()
    assert plan.status_code == 200 and body["status"] == "completed" and len(body["file-scan-tasks"]) == 2
    assert len(body["plan-tasks"]) == 2


def test_a_plan_and_its_fetched_tasks_give_every_file_of_the_table(
    five_files_http: httpx.Client, five_files: RestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(planning, "TASKS_PER_BATCH", 2)
    body = _plan(five_files_http).json()
    files = {t["data-file"]["file-path"] for t in body["file-scan-tasks"]}
    for token in body["plan-tasks"]:
        batch = five_files_http.post("/namespaces/db/tables/t/tasks", json={"plan-task": token})
        assert batch.status_code == 200
        files |= {t["data-file"]["file-path"] for t in batch.json()["file-scan-tasks"]}
    table = five_files.catalog.load_table("db.t")
    assert files == {task.file.file_path for task in table.scan().plan_files()}


def test_a_plan_task_fetched_again_is_404(five_files_http: httpx.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(planning, "TASKS_PER_BATCH", 2)
    for token in _plan(five_files_http).json()["plan-tasks"]:
        five_files_http.post("/namespaces/db/tables/t/tasks", json={"plan-task": token})
        again = five_files_http.post("/namespaces/db/tables/t/tasks", json={"plan-task": token})
        assert again.status_code == 404 and again.json()["error"]["type"] == "NoSuchPlanTaskException"


@pytest.fixture
def plan_id_and_task(five_files_http: httpx.Client, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """A plan of db.t with batches left to fetch: its id and its first plan task."""
    monkeypatch.setattr(planning, "TASKS_PER_BATCH", 2)
    second = five_files_http.post("/namespaces/db/tables/t/plan", json={}).json()
    return second["plan-id"], second["plan-tasks"][0]


def test_a_plan_loaded_by_its_id_is_completed(five_files_http: httpx.Client, plan_id_and_task: tuple[str, str]) -> None:
    plan_id, _ = plan_id_and_task
    assert five_files_http.get(f"/namespaces/db/tables/t/plan/{plan_id}").json()["status"] == "completed"


def test_a_cancelled_plan_is_gone(five_files_http: httpx.Client, plan_id_and_task: tuple[str, str]) -> None:
    plan_id, _ = plan_id_and_task
    assert five_files_http.delete(f"/namespaces/db/tables/t/plan/{plan_id}").status_code == 204
    assert five_files_http.get(f"/namespaces/db/tables/t/plan/{plan_id}").status_code == 404


def test_the_tasks_of_a_cancelled_plan_are_gone(
    five_files_http: httpx.Client, plan_id_and_task: tuple[str, str]
) -> None:
    plan_id, task = plan_id_and_task
    five_files_http.delete(f"/namespaces/db/tables/t/plan/{plan_id}")
    assert five_files_http.post("/namespaces/db/tables/t/tasks", json={"plan-task": task}).status_code == 404


def test_incremental_planning_is_406_not_acceptable(five_files_http: httpx.Client) -> None:
    incremental = five_files_http.post(
        "/namespaces/db/tables/t/plan", json={"start-snapshot-id": 1, "end-snapshot-id": 2}
    )
    assert incremental.status_code == 406


@pytest.fixture(scope="module")
def duckdb_deleted() -> Iterator[RestServer]:
    """db.d: ids 0..99 that DuckDB wrote and deleted every third of through the server (position deletes)."""
    cat = MemCatalog(f"r{uuid.uuid4().hex[:10]}")
    cat.create_namespace("db")
    with memcatalog.rest.serve(cat) as server:
        con = memcatalog.duckdb.attach(cat, name="lake", server=server)
        con.execute("CREATE TABLE lake.db.d AS SELECT range AS id FROM range(100)")
        con.execute("DELETE FROM lake.db.d WHERE id % 3 = 0")
        con.close()
        yield server
    assert cat.check(allow_unreferenced=True) == [], "the catalog's audit found problems"
    memcatalog.drop_pool(cat.pool.name)


def test_a_plan_of_a_table_with_deletes_lists_its_position_delete_files(duckdb_deleted: RestServer) -> None:
    plan = httpx.post(duckdb_deleted.url + "/v1/namespaces/db/tables/d/plan", json={}).json()
    assert plan["delete-files"] and plan["delete-files"][0]["content"] == "position-deletes"


def test_a_file_task_refers_to_the_delete_files_of_its_data_file(duckdb_deleted: RestServer) -> None:
    plan = httpx.post(duckdb_deleted.url + "/v1/namespaces/db/tables/d/plan", json={}).json()
    assert plan["file-scan-tasks"][0]["delete-file-references"] == [0]


def test_server_planning_applies_duckdbs_deletes(duckdb_deleted: RestServer) -> None:
    remote = duckdb_deleted.rest_catalog(**{"scan-planning-mode": "server"}).load_table("db.d")
    expected = [i for i in range(100) if i % 3]
    local = duckdb_deleted.catalog.load_table("db.d")
    assert ids(remote.scan().to_arrow()) == ids(local.scan().to_arrow()) == expected


def _rows(table: pa.Table) -> list[tuple[object, ...]]:
    return sorted(zip(*(table.column(n).to_pylist() for n in table.column_names), strict=True), key=repr)


@pytest.fixture(scope="module")
def every_type() -> Iterator[tuple[Table, Table]]:
    """db.all: a column of every primitive type, partitioned three ways, 13 rows in two commits.

    Served once (the tests only read it): the table loaded through server planning and loaded directly.
    """
    import datetime as dt
    import decimal
    import uuid as uuidlib

    from pyiceberg.partitioning import PartitionField, PartitionSpec
    from pyiceberg.schema import Schema
    from pyiceberg.transforms import BucketTransform, DayTransform, IdentityTransform
    from pyiceberg.types import (
        BinaryType,
        BooleanType,
        DateType,
        DecimalType,
        DoubleType,
        FixedType,
        FloatType,
        IntegerType,
        LongType,
        NestedField,
        StringType,
        TimestampType,
        TimestamptzType,
        TimeType,
        UUIDType,
    )

    fields = [
        ("b", BooleanType()),
        ("i", IntegerType()),
        ("l", LongType()),
        ("f", FloatType()),
        ("d", DoubleType()),
        ("dec", DecimalType(9, 2)),
        ("s", StringType()),
        ("bin", BinaryType()),
        ("fx", FixedType(3)),
        ("u", UUIDType()),
        ("date", DateType()),
        ("t", TimeType()),
        ("ts", TimestampType()),
        ("tstz", TimestamptzType()),
    ]
    schema = Schema(*(NestedField(n + 1, name, t, required=False) for n, (name, t) in enumerate(fields)))
    spec = PartitionSpec(
        PartitionField(source_id=7, field_id=1000, transform=IdentityTransform(), name="s"),
        PartitionField(source_id=13, field_id=1001, transform=DayTransform(), name="ts_day"),
        PartitionField(source_id=3, field_id=1002, transform=BucketTransform(4), name="l_bucket"),
    )
    served = MemCatalog(f"r{uuid.uuid4().hex[:10]}")
    served.create_namespace("db")
    served.create_table("db.all", schema, partition_spec=spec)
    utc = dt.timezone.utc
    rows = [
        {
            "b": i % 2 == 0,
            "i": i,
            "l": i * 1000,
            "f": i / 2,
            "d": i / 3,
            "dec": decimal.Decimal(f"{i}.25"),
            "s": f"p{i % 3}",
            "bin": bytes([i]),
            "fx": bytes([i, i, i]),
            "u": uuidlib.UUID(int=i),
            "date": dt.date(2024, 1, 1 + i),
            "t": dt.time(i, 0),
            "ts": dt.datetime(2024, 1, 1 + i % 4, 12),
            "tstz": dt.datetime(2024, 1, 1 + i, tzinfo=utc),
        }
        for i in range(12)
    ]
    # every other column null (a null partition value: see test_a_null_partition_value_is_sent_as_json_null)
    rows.append({**dict.fromkeys(rows[0]), "s": "p0", "l": 0, "ts": dt.datetime(2024, 1, 1)})
    with served.writer("db.all") as w:
        w.write(rows[:6])
    with served.writer("db.all") as w:
        w.write(rows[6:])
    with memcatalog.rest.serve(served) as server:
        yield server.rest_catalog(**{"scan-planning-mode": "server"}).load_table("db.all"), served.load_table("db.all")
    assert served.check(allow_unreferenced=True) == [], "the catalog's audit found problems"
    memcatalog.drop_pool(served.pool.name)


def _every_type_filters() -> list[Any]:
    import decimal

    from pyiceberg.expressions import EqualTo, GreaterThanOrEqual, In, IsNull, NotNull

    return [
        pytest.param(EqualTo("s", "p1"), id="s = p1"),
        pytest.param(GreaterThanOrEqual("ts", "2024-01-03T00:00:00"), id="ts >= 2024-01-03"),
        pytest.param(In("l", {2000, 5000, 11000}), id="l in 2000 5000 11000"),
        pytest.param(EqualTo("b", True), id="b = true"),
        pytest.param(GreaterThanOrEqual("dec", decimal.Decimal("7.00")), id="dec >= 7.00"),
        pytest.param(EqualTo("date", "2024-01-05"), id="date = 2024-01-05"),
        pytest.param(IsNull("dec"), id="dec is null"),
        pytest.param(NotNull("dec"), id="dec not null"),
    ]


def test_server_planning_of_every_primitive_type_gives_every_row(every_type: tuple[Table, Table]) -> None:
    """Partition pruning and filters on each type give the rows local planning gives (pyiceberg's own planner)."""
    remote, local = every_type
    assert _rows(remote.scan().to_arrow()) == _rows(local.scan().to_arrow())
    assert remote.scan().to_arrow().num_rows == 13


@pytest.mark.parametrize("row_filter", _every_type_filters())
def test_server_planning_filters_on_every_primitive_type_as_local_planning(
    every_type: tuple[Table, Table], row_filter: BooleanExpression
) -> None:
    remote, local = every_type
    got, want = remote.scan(row_filter=row_filter).to_arrow(), local.scan(row_filter=row_filter).to_arrow()
    assert _rows(got) == _rows(want) and want.num_rows > 0, row_filter


def test_server_planning_prunes_partitions(every_type: tuple[Table, Table]) -> None:
    from pyiceberg.expressions import EqualTo

    remote, _ = every_type
    pruned = list(remote.scan(row_filter=EqualTo("s", "p1")).plan_files())
    assert 0 < len(pruned) < len(list(remote.scan().plan_files()))  # the server pruned partitions


def test_server_planning_of_an_empty_table(server: RestServer, served: MemCatalog) -> None:
    served.create_namespace("db")
    served.create_table("db.empty", pa.schema([("id", pa.int64())]))
    remote = server.rest_catalog(**{"scan-planning-mode": "server"}).load_table("db.empty")
    assert list(remote.scan().plan_files()) == []
    assert remote.scan().to_arrow().num_rows == 0 and remote.scan().to_arrow().column_names == ["id"]


def _identity_cases() -> list[tuple[str, Any, Any, Any]]:
    import datetime as dt
    import decimal

    from pyiceberg import types as t

    utc = dt.timezone.utc
    return [
        ("decimal", t.DecimalType(9, 2), decimal.Decimal("1.50"), decimal.Decimal("-2.25")),
        ("binary", t.BinaryType(), b"\x01\xff", b"\x00"),
        ("fixed", t.FixedType(2), b"ab", b"\x00\x01"),
        ("date", t.DateType(), dt.date(2024, 1, 2), dt.date(1969, 12, 31)),
        ("time", t.TimeType(), dt.time(1, 2, 3), dt.time(23, 59)),
        ("timestamp", t.TimestampType(), dt.datetime(2024, 1, 2, 3), dt.datetime(1970, 1, 1)),
        ("timestamptz", t.TimestamptzType(), dt.datetime(2024, 1, 2, tzinfo=utc), dt.datetime(2000, 1, 1, tzinfo=utc)),
        ("boolean", t.BooleanType(), True, False),
        ("int", t.IntegerType(), 7, -7),
        ("long", t.LongType(), 2**40, -1),
        ("float", t.FloatType(), 1.5, -0.25),
        (
            "double",
            t.DoubleType(),
            2.5,
            -4.0,
        ),  # exact in float32: pyiceberg 0.12 writes double partition values as float
        ("string", t.StringType(), "a/b c", ""),
    ]


@pytest.mark.parametrize("case", _identity_cases(), ids=lambda c: c[0])
def test_server_planning_with_an_identity_partition_of_each_type(
    server: RestServer, served: MemCatalog, case: tuple[str, Any, Any, Any]
) -> None:
    """Partition values go out as JSON the client parses (decimals and binary were a 500: not JSON serializable)."""
    from pyiceberg.expressions import EqualTo
    from pyiceberg.partitioning import PartitionField, PartitionSpec
    from pyiceberg.schema import Schema
    from pyiceberg.transforms import IdentityTransform
    from pyiceberg.types import LongType, NestedField

    _, iceberg_type, one, other = case
    served.create_namespace("db")
    served.create_table(
        "db.p",
        Schema(NestedField(1, "v", iceberg_type, required=False), NestedField(2, "n", LongType(), required=False)),
        partition_spec=PartitionSpec(
            PartitionField(source_id=1, field_id=1000, transform=IdentityTransform(), name="v")
        ),
    )
    with served.writer("db.p") as w:
        w.write([{"v": one, "n": 1}, {"v": other, "n": 2}, {"v": one, "n": 3}])
    remote = server.rest_catalog(**{"scan-planning-mode": "server"}).load_table("db.p")
    local = served.load_table("db.p")
    assert _rows(remote.scan().to_arrow()) == _rows(local.scan().to_arrow())
    got = remote.scan(row_filter=EqualTo("n", 2)).to_arrow()
    assert got.column("v").to_pylist() == [other] and len(list(remote.scan().plan_files())) == 2


def test_a_null_partition_value_is_sent_as_json_null(http: httpx.Client, served: MemCatalog) -> None:
    """As Java's ContentFileParser writes it. pyiceberg 0.12's RestCatalog cannot parse it (docs/rest.md)."""
    from pyiceberg.partitioning import PartitionField, PartitionSpec
    from pyiceberg.schema import Schema
    from pyiceberg.transforms import IdentityTransform
    from pyiceberg.types import LongType, NestedField, StringType

    served.create_namespace("db")
    served.create_table(
        "db.p",
        Schema(NestedField(1, "s", StringType(), required=False), NestedField(2, "n", LongType(), required=False)),
        partition_spec=PartitionSpec(
            PartitionField(source_id=1, field_id=1000, transform=IdentityTransform(), name="s")
        ),
    )
    with served.writer("db.p") as w:
        w.write([{"s": None, "n": 1}, {"s": "x", "n": 2}])
    r = http.post("/namespaces/db/tables/p/plan", json={})
    assert r.status_code == 200, r.text
    partitions = sorted(
        (t["data-file"]["partition"] for t in r.json()["file-scan-tasks"]), key=lambda p: p[0] is not None
    )
    assert partitions == [[None], ["x"]]
