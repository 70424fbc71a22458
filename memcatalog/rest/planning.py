"""Server-side scan planning: ``planTableScan``, ``fetchPlanningResult``, ``cancelPlanning``, ``fetchScanTasks``.

The server plans with pyiceberg's own planner (``table.scan(...).plan_files()``,
the same code a client runs locally), so both give the same files. Planning is
synchronous: a plan answers ``completed`` with the first batch of file scan
tasks, and the rest as ``plan-tasks`` tokens the client fetches batch by batch.
A plan and its unfetched batches are kept until fetched, cancelled, or pushed
out by newer plans (at most MAX_PLANS per server).
"""

from __future__ import annotations

import decimal
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field

from pyiceberg.catalog.rest.scan_planning import FetchScanTasksRequest, PlanTableScanRequest
from pyiceberg.exceptions import NoSuchPlanTaskError
from pyiceberg.expressions import AlwaysTrue
from pyiceberg.manifest import DataFile, DataFileContent
from pyiceberg.table import FileScanTask

from memcatalog.rest.call import Call
from memcatalog.rest.errors import NoSuchPlanError
from memcatalog.rest.models import Body

TASKS_PER_BATCH = 100  # file scan tasks in the plan answer and in each fetched batch
MAX_PLANS = 256  # plans (with unfetched batches) a server keeps; older ones are forgotten

_CONTENT = {
    DataFileContent.DATA: "data",
    DataFileContent.POSITION_DELETES: "position-deletes",
    DataFileContent.EQUALITY_DELETES: "equality-deletes",
}


class PlanBody(PlanTableScanRequest, Body):
    """pyiceberg's own request model (filter expressions included), ignoring fields it does not know."""


class FetchTasksBody(FetchScanTasksRequest, Body):
    pass


def _partition_value(value: object) -> object:
    """A partition value as JSON: decimals as strings and binary as hex strings, as the spec writes single values.

    Integers (also what pyiceberg keeps for dates, times and timestamps), floats, booleans and strings as they
    are; a null stays null.
    """
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _content_file(f: DataFile) -> dict[str, object]:
    partition = f.partition
    out: dict[str, object] = {
        "spec-id": f.spec_id or 0,
        "content": _CONTENT[f.content],
        "file-path": f.file_path,
        "file-format": f.file_format.value.lower(),
        "file-size-in-bytes": f.file_size_in_bytes,
        "record-count": f.record_count,
        "partition": [_partition_value(partition[i]) for i in range(len(partition))] if partition is not None else [],
    }
    if f.split_offsets:
        out["split-offsets"] = list(f.split_offsets)
    if f.sort_order_id is not None:
        out["sort-order-id"] = f.sort_order_id
    if f.content == DataFileContent.DATA:
        for key, values in (
            ("column-sizes", f.column_sizes),
            ("value-counts", f.value_counts),
            ("null-value-counts", f.null_value_counts),
            ("nan-value-counts", f.nan_value_counts),
        ):
            if values:
                out[key] = {"keys": list(values.keys()), "values": list(values.values())}
    if f.content == DataFileContent.EQUALITY_DELETES and f.equality_ids:
        out["equality-ids"] = list(f.equality_ids)
    return out


def scan_tasks(tasks: list[FileScanTask]) -> dict[str, object]:
    """``ScanTasks``: file scan tasks with their delete files listed once and referenced by index."""
    deletes: dict[str, int] = {}
    delete_files: list[dict[str, object]] = []
    out = []
    for task in tasks:
        refs = []
        for d in sorted(task.delete_files, key=lambda d: d.file_path):
            if d.file_path not in deletes:
                deletes[d.file_path] = len(delete_files)
                delete_files.append(_content_file(d))
            refs.append(deletes[d.file_path])
        entry: dict[str, object] = {"data-file": _content_file(task.file)}
        if refs:
            entry["delete-file-references"] = refs
        out.append(entry)
    return {"delete-files": delete_files, "file-scan-tasks": out}


@dataclass
class _Plan:
    identifier: tuple[str, ...]
    first: list[FileScanTask]
    batches: dict[str, list[FileScanTask]] = field(default_factory=dict)


class Planner:
    """The plans one server has handed out, by plan id, and their unfetched batches, by plan-task token."""

    def __init__(self) -> None:
        self._plans: OrderedDict[str, _Plan] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, identifier: tuple[str, ...], tasks: list[FileScanTask]) -> tuple[str, _Plan]:
        plan_id = uuid.uuid4().hex
        plan = _Plan(identifier, tasks[:TASKS_PER_BATCH])
        for start in range(TASKS_PER_BATCH, len(tasks), TASKS_PER_BATCH):
            plan.batches[f"{plan_id}-{start // TASKS_PER_BATCH}"] = tasks[start : start + TASKS_PER_BATCH]
        with self._lock:
            self._plans[plan_id] = plan
            while len(self._plans) > MAX_PLANS:
                self._plans.popitem(last=False)
        return plan_id, plan

    def get(self, identifier: tuple[str, ...], plan_id: str) -> _Plan:
        with self._lock:
            plan = self._plans.get(plan_id)
        if plan is None or plan.identifier != identifier:
            raise NoSuchPlanError(
                f"no scan plan {plan_id!r} for {'.'.join(identifier)} (never made, cancelled, or expired)"
            )
        return plan

    def cancel(self, identifier: tuple[str, ...], plan_id: str) -> None:
        self.get(identifier, plan_id)
        with self._lock:
            self._plans.pop(plan_id, None)

    def take_batch(self, identifier: tuple[str, ...], token: str) -> list[FileScanTask]:
        plan_id = token.rsplit("-", 1)[0]
        with self._lock:
            plan = self._plans.get(plan_id)
            batch = plan.batches.pop(token, None) if plan is not None and plan.identifier == identifier else None
            if plan is not None and not plan.batches:
                self._plans.pop(plan_id, None)
        if batch is None:
            raise NoSuchPlanTaskError(
                f"no plan task {token!r} for {'.'.join(identifier)} (already fetched, cancelled, or expired)"
            )
        return batch


def _completed(plan_id: str, plan: _Plan) -> dict[str, object]:
    return {"status": "completed", "plan-id": plan_id, **scan_tasks(plan.first), "plan-tasks": sorted(plan.batches)}


def plan_table_scan(call: Call) -> dict[str, object]:
    body = call.parsed(PlanBody)
    identifier = call.identifier()
    if body.start_snapshot_id is not None or body.end_snapshot_id is not None:
        raise NotImplementedError("incremental scan planning (start-snapshot-id/end-snapshot-id) is not supported")
    table = call.catalog.load_table(identifier)
    scan = table.scan(
        row_filter=body.filter if body.filter is not None else AlwaysTrue(),
        selected_fields=tuple(body.select) if body.select else ("*",),
        case_sensitive=body.case_sensitive,
        snapshot_id=body.snapshot_id,
    )
    plan_id, plan = call.ctx.planner.add(identifier, list(scan.plan_files()))
    return _completed(plan_id, plan)


def fetch_planning_result(call: Call) -> dict[str, object]:
    identifier = call.identifier()
    plan_id = call.path["plan_id"]
    return _completed(plan_id, call.ctx.planner.get(identifier, plan_id))


def cancel_planning(call: Call) -> None:
    call.ctx.planner.cancel(call.identifier(), call.path["plan_id"])


def fetch_scan_tasks(call: Call) -> dict[str, object]:
    body = call.parsed(FetchTasksBody)
    batch = call.ctx.planner.take_batch(call.identifier(), body.plan_task)
    return {**scan_tasks(batch), "plan-tasks": []}
