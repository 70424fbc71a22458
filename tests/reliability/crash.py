"""Crash-consistency harness: fail the k-th I/O call of an operation, for every k, then check the invariants.

Every operation (a table commit through pyiceberg, a TableWriter write and commit, export,
import, save, restore) first runs once with every I/O layer counted. Then, for k = 1..N
(N: the calls that run made), a fresh copy of its starting state runs it again with the
k-th call failing, in the way that layer fails:

- ``pool.reserve``: a quota refusal (QuotaExceededError), as a full pool refuses bytes
- ``pool.publish`` / ``pool.delete``: OSError
- ``registry.execute``: sqlalchemy OperationalError before the statement runs
- ``registry.commit``: OperationalError before COMMIT, and (a second run) OperationalError
  *after* COMMIT succeeded, as a dropped connection looks on PostgreSQL
- ``target.create`` / ``target.write`` / ``target.delete``: OSError in the export's (or
  import's source) local FileIO
- ``archive.write`` / ``archive.publish``: OSError writing the save

After each failure the operation's checks say what is wrong (an empty list when the
invariants hold): the table is at the old or the new snapshot, every referenced file exists
and is readable, nothing unreferenced is left (``catalog.check()`` clean, no reserved
bytes), the export target is untouched or complete, a save is the old one or whole, a
restore loaded everything or nothing.

Run all of it: ``python -m tests.reliability.crash`` (from the repository root).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tarfile
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from unittest import mock

import pyarrow as pa
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import CommitStateUnknownException
from pyiceberg.io.pyarrow import PyArrowFileIO
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

import memcatalog
from memcatalog import MemCatalog, QuotaExceededError, registry
from memcatalog.archive import MANIFEST, restore, save
from memcatalog.pool import Pool, find_pool
from memcatalog.tablecopy import export_table, import_table

SCHEMA = pa.schema([pa.field("id", pa.int64(), nullable=False)])


def rows(start: int, n: int) -> pa.Table:
    return pa.table({"id": pa.array(range(start, start + n), pa.int64())}, schema=SCHEMA)


class InjectedError(OSError):
    """The failure the harness injects (an OSError, as I/O fails)."""


# ---- the injector ------------------------------------------------------------------------


@dataclass
class Injector:
    """Counts the calls of every wrapped layer; makes call number ``fail_at`` fail."""

    fail_at: int | None = None
    after_commit: bool = False
    calls: list[str] = field(default_factory=list)
    fired: str | None = None

    def hit(self, point: str) -> bool:
        self.calls.append(point)
        if self.fail_at is not None and len(self.calls) == self.fail_at:
            self.fired = point
            return True
        return False

    def check(self, point: str) -> None:
        if self.hit(point):
            raise InjectedError(f"injected failure at call {self.fail_at} ({point})")


@contextlib.contextmanager
def instrumented(inj: Injector, engines: list[Any]) -> Iterator[None]:
    """Wrap the pool, the local FileIO, the save writer and the registries' SQL while the block runs."""
    real_reserve, real_publish, real_remove = Pool._reserve, Pool._publish, Pool.remove
    real_output, real_delete = PyArrowFileIO.new_output, PyArrowFileIO.delete
    real_addfile, real_replace, real_rename = tarfile.TarFile.addfile, os.replace, os.rename

    def reserve(self: Pool, n: int, key: str, *args: Any, **kwargs: Any) -> None:
        if inj.hit("pool.reserve"):
            raise QuotaExceededError(self._url(key), n, 0, self.quota, self.name)
        real_reserve(self, n, key, *args, **kwargs)

    def publish(self: Pool, key: str, buffer: Any, reserved: int, *args: Any, **kwargs: Any) -> Any:
        if inj.hit("pool.publish"):
            with self._lock:  # as the pool's own refusals to publish do (a name taken meanwhile)
                self._acct.reserved -= reserved
            raise InjectedError(f"injected failure publishing {self._url(key)}")
        return real_publish(self, key, buffer, reserved, *args, **kwargs)

    def remove(self: Pool, key: str, *args: Any, **kwargs: Any) -> int:
        inj.check("pool.delete")
        return real_remove(self, key, *args, **kwargs)

    def new_output(self: PyArrowFileIO, location: str) -> Any:
        return FaultyOutput(real_output(self, location), inj, "target.", frozenset({"create", "write"}))

    def delete(self: PyArrowFileIO, location: Any) -> None:
        inj.check("target.delete")
        real_delete(self, location)

    def addfile(self: tarfile.TarFile, *args: Any, **kwargs: Any) -> None:
        inj.check("archive.write")
        real_addfile(self, *args, **kwargs)

    def replace(src: Any, dst: Any) -> None:
        inj.check("archive.publish")
        real_replace(src, dst)

    def rename(src: Any, dst: Any) -> None:
        inj.check("archive.publish")
        real_rename(src, dst)

    def before_execute(*args: Any) -> None:
        if inj.hit("registry.execute"):
            raise OperationalError("injected", {}, InjectedError("the registry connection dropped"))

    with contextlib.ExitStack() as stack:
        for target, name, value in [
            (Pool, "_reserve", reserve),
            (Pool, "_publish", publish),
            (Pool, "remove", remove),
            (PyArrowFileIO, "new_output", new_output),
            (PyArrowFileIO, "delete", delete),
            (tarfile.TarFile, "addfile", addfile),
            (os, "replace", replace),
            (os, "rename", rename),
        ]:
            stack.enter_context(mock.patch.object(target, name, value))

        def watch(engine: Any) -> Any:
            event.listen(engine, "before_cursor_execute", before_execute)
            stack.callback(event.remove, engine, "before_cursor_execute", before_execute)
            stack.enter_context(mock.patch.object(engine.dialect, "do_commit", _commit(inj, engine.dialect.do_commit)))
            return engine

        for engine in engines:
            watch(engine)
        real_engine = registry.create_registry_engine  # catalogs made during the block (restore) are watched too
        stack.enter_context(
            mock.patch.object(registry, "create_registry_engine", lambda *a, **kw: watch(real_engine(*a, **kw)))
        )
        yield


def _commit(inj: Injector, real: Callable[[Any], None]) -> Callable[[Any], None]:
    def do_commit(dbapi_connection: Any) -> None:
        if not inj.hit("registry.commit"):
            real(dbapi_connection)
        elif inj.after_commit:
            real(dbapi_connection)  # the COMMIT happened; the client never hears so
            raise OperationalError("COMMIT", {}, InjectedError("connection lost after COMMIT"))
        else:  # the connection dropped first: the server discards the transaction
            dbapi_connection.rollback()
            raise OperationalError("COMMIT", {}, InjectedError("connection lost before COMMIT"))

    return do_commit


class Checks(Protocol):
    """An injector: ``check(point)`` counts a call of ``point`` and raises when that call is the one to fail."""

    def check(self, point: str) -> None: ...


OUTPUT_POINTS = frozenset({"create", "write", "close"})


class FaultyOutput:
    """A FileIO output file whose create, writes and close are injection points of ``inj``.

    Args:
        inner: the real output file (``FileIO.new_output``'s answer).
        inj: the injector the calls are reported to.
        prefix: put before each point's name (``"target."`` makes ``target.create``).
        points: which of ``create``, ``write``, ``close`` are checked; the others just run.
            A checked close closes first and then fails: the bytes are out, the close reports
            a failure (as a flush to a full disk does).
    """

    def __init__(self, inner: Any, inj: Checks, prefix: str = "", points: frozenset[str] = OUTPUT_POINTS) -> None:
        unknown = points - OUTPUT_POINTS
        if unknown:
            raise ValueError(f"unknown output injection points {sorted(unknown)}; choose from {sorted(OUTPUT_POINTS)}")
        self._inner, self._inj, self._prefix, self._points = inner, inj, prefix, points
        self.location = inner.location

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __len__(self) -> int:
        return len(self._inner)

    def check(self, point: str) -> None:
        if point in self._points:
            self._inj.check(self._prefix + point)

    def create(self, overwrite: bool = False) -> _FaultyStream:
        self.check("create")
        return _FaultyStream(self._inner.create(overwrite=overwrite), self)


class _FaultyStream:
    def __init__(self, inner: Any, output: FaultyOutput) -> None:
        self._inner, self._output = inner, output

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def write(self, data: Any) -> int:
        self._output.check("write")
        return int(self._inner.write(data))

    def close(self) -> None:
        self._inner.close()
        self._output.check("close")

    def __enter__(self) -> _FaultyStream:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


# ---- the operations ----------------------------------------------------------------------


@dataclass
class World:
    """One run's starting state and what its checks compare against."""

    dir: Path
    catalog: MemCatalog
    before: dict[str, Any] = field(default_factory=dict)
    target: SqlCatalog | None = None
    extra: list[str] = field(default_factory=list)  # pools to drop afterwards

    def engines(self) -> list[Any]:
        return [self.catalog.engine] + ([self.target.engine] if self.target is not None else [])


def _ids(table: Any) -> list[int]:
    return sorted(table.scan().to_arrow().column("id").to_pylist())


def _history(table: Any) -> list[list[int]]:
    return [
        sorted(table.scan(snapshot_id=s.snapshot_id).to_arrow().column("id").to_pylist()) for s in table.snapshots()
    ]


def _source_world() -> World:
    d = Path(tempfile.mkdtemp(prefix="crash-"))
    cat = MemCatalog(f"crash{uuid.uuid4().hex[:10]}")
    cat.create_namespace("db")
    t = cat.create_table("db.t", SCHEMA)
    t.append(rows(0, 20))
    t.append(rows(20, 10))
    t = cat.load_table("db.t")
    w = World(d, cat)
    w.before.update(metadata=t.metadata_location, ids=_ids(t), history=_history(t))
    return w


def _unknown(error: BaseException | None) -> bool:
    """Whether the operation reported that its commit may or may not have landed."""
    while error is not None:
        if isinstance(error, CommitStateUnknownException):
            return True
        error = error.__cause__ or error.__context__
    return False


def _table_problems(w: World, new_ids: list[int], error: BaseException | None) -> list[str]:
    """The table is at the old or the new snapshot, readable, and the catalog audits clean.

    After a commit whose outcome the catalog could not know (CommitStateUnknownException) it
    may keep files it cannot judge; then one ``reclaim()`` must leave the audit clean.
    """
    problems: list[str] = []
    if _unknown(error):
        w.catalog.reclaim()
    try:
        found = _ids(w.catalog.load_table("db.t"))
    except Exception as e:
        return [f"table unreadable: {type(e).__name__}: {e}"]
    if found not in (w.before["ids"], new_ids):
        problems.append(
            f"table holds {len(found)} rows, neither the old {len(w.before['ids'])} nor the new {len(new_ids)}"
        )
    problems += w.catalog.check()
    return problems


class Operation:
    name = ""

    def setup(self) -> World:
        return _source_world()

    def run(self, w: World) -> None:
        raise NotImplementedError

    def problems(self, w: World, error: BaseException | None) -> list[str]:
        raise NotImplementedError

    def teardown(self, w: World) -> None:
        for pool in [w.catalog.pool.name, *w.extra]:
            memcatalog.drop_pool(pool)
        shutil.rmtree(w.dir, ignore_errors=True)


class Append(Operation):
    name = "append"

    def run(self, w: World) -> None:
        w.catalog.load_table("db.t").append(rows(100, 5))

    def problems(self, w: World, error: BaseException | None) -> list[str]:
        return _table_problems(w, sorted([*w.before["ids"], *range(100, 105)]), error)


class Overwrite(Append):
    name = "overwrite"

    def run(self, w: World) -> None:
        w.catalog.load_table("db.t").overwrite(rows(200, 3))

    def problems(self, w: World, error: BaseException | None) -> list[str]:
        return _table_problems(w, [200, 201, 202], error)


class Writer(Append):
    name = "writer"

    def run(self, w: World) -> None:
        with w.catalog.writer("db.t") as writer:
            writer.write(rows(300, 7))

    def problems(self, w: World, error: BaseException | None) -> list[str]:
        return _table_problems(w, sorted([*w.before["ids"], *range(300, 307)]), error)


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


class Export(Operation):
    name = "export"

    def setup(self) -> World:
        w = _source_world()
        (w.dir / "wh").mkdir()
        w.target = SqlCatalog("prod", uri=f"sqlite:///{w.dir}/prod.db", warehouse=f"file://{w.dir}/wh")
        w.target.create_namespace("kept")
        w.before.update(namespaces=w.target.list_namespaces(), tree=_tree(w.dir / "wh"))
        return w

    def run(self, w: World) -> None:
        assert w.target is not None
        export_table(w.catalog, "db.t", w.target, target_identifier="lake.t")

    def problems(self, w: World, error: BaseException | None) -> list[str]:
        problems = w.catalog.check()
        if w.catalog.load_table("db.t").metadata_location != w.before["metadata"]:
            problems.append("the source table changed")
        fresh = SqlCatalog("prod", uri=f"sqlite:///{w.dir}/prod.db", warehouse=f"file://{w.dir}/wh")
        try:
            if not fresh.table_exists("lake.t"):
                if fresh.list_namespaces() != w.before["namespaces"]:
                    problems.append(f"target namespaces changed: {fresh.list_namespaces()}")
                if _tree(w.dir / "wh") != w.before["tree"]:
                    problems.append(f"target not untouched: {sorted(_tree(w.dir / 'wh'))}")
                return problems
            table = fresh.load_table("lake.t")
            if _history(table) != w.before["history"]:
                problems.append("the exported table's history differs from the source")
            referenced = memcatalog.maintenance.referenced_files(table)
            stray = sorted(f for f in _tree(w.dir / "wh") if f"file://{w.dir}/wh/{f}" not in referenced)
            if stray:
                problems.append(f"target holds files the exported table does not reference: {stray}")
        except Exception as e:
            problems.append(f"target unreadable: {type(e).__name__}: {e}")
        finally:
            fresh.close()
        return problems

    def teardown(self, w: World) -> None:
        if w.target is not None:
            w.target.close()
        super().teardown(w)


class Import(Operation):
    name = "import"

    def setup(self) -> World:
        d = Path(tempfile.mkdtemp(prefix="crash-"))
        disk = SqlCatalog("disk", uri=f"sqlite:///{d}/disk.db", warehouse=f"file://{d}/wh")
        disk.create_namespace("prod")
        t = disk.create_table("prod.t", SCHEMA)
        t.append(rows(0, 8))
        t.append(rows(8, 4))
        t = disk.load_table("prod.t")
        disk.close()
        cat = MemCatalog(f"crash{uuid.uuid4().hex[:10]}")
        cat.create_namespace("db")
        w = World(d, cat)
        w.before.update(source=t.metadata_location, history=_history(t))
        return w

    def run(self, w: World) -> None:
        import_table(w.catalog, "db.t", w.before["source"])

    def problems(self, w: World, error: BaseException | None) -> list[str]:
        problems = w.catalog.check()
        if w.catalog.table_exists("db.t"):
            try:
                if _history(w.catalog.load_table("db.t")) != w.before["history"]:
                    problems.append("the imported table's history differs from the source")
            except Exception as e:
                problems.append(f"imported table unreadable: {type(e).__name__}: {e}")
        elif w.catalog.pool.stats().used:
            problems.append(f"nothing imported but {w.catalog.pool.stats().used} bytes left in the pool")
        return problems


class Save(Operation):
    name = "save"

    def setup(self) -> World:
        w = _source_world()
        save(w.catalog, w.dir / "s.tar")  # an older save that a failed one must leave as it was
        w.catalog.load_table("db.t").append(rows(50, 2))
        w.before.update(archive=(w.dir / "s.tar").read_bytes())
        return w

    def run(self, w: World) -> None:
        save(w.catalog, w.dir / "s.tar")

    def problems(self, w: World, error: BaseException | None) -> list[str]:
        problems = w.catalog.check()
        names = sorted(p.name for p in w.dir.iterdir())
        if names != ["s.tar"]:
            problems.append(f"the save directory holds {names}")
        data = (w.dir / "s.tar").read_bytes()
        if data != w.before["archive"]:
            problems += _whole_save(w.dir / "s.tar", w.catalog)
        return problems


def _whole_save(path: Path, catalog: MemCatalog) -> list[str]:
    import json

    with tarfile.open(path) as tar:
        manifest = json.loads(tar.extractfile(MANIFEST).read())  # type: ignore[union-attr]
        for url, size in manifest["files"].items():
            pool, _, key = url.removeprefix("memcat://").partition("/")
            member = tar.extractfile(f"files/{pool}/{key}")
            if (
                member is None
                or member.read() != catalog.pool.get(key).to_pybytes()
                or size != len(catalog.pool.get(key))
            ):
                return [f"the new save's {url} differs from the pool"]
    return []


class Restore(Operation):
    name = "restore"

    def setup(self) -> World:
        w = _source_world()
        save(w.catalog, w.dir / "s.tar")
        memcatalog.drop_pool(w.catalog.pool.name)  # as in a fresh process
        return w

    def run(self, w: World) -> None:
        w.before["restored"] = restore(w.dir / "s.tar")

    def problems(self, w: World, error: BaseException | None) -> list[str]:
        pool = find_pool(w.catalog.pool.name)
        restored = w.before.get("restored")
        if restored is None:
            if pool is not None and pool.keys():
                return [f"a failed restore left {len(pool.keys())} files in the pool"]
            again = restore(w.dir / "s.tar")  # nothing left behind blocks a good restore
            return [] if _history(again.load_table("db.t")) == w.before["history"] else ["a later restore differs"]
        problems = restored.check()
        if _history(restored.load_table("db.t")) != w.before["history"]:
            problems.append("the restored table's history differs from the save")
        return problems


OPERATIONS: dict[str, Operation] = {
    op.name: op for op in (Append(), Overwrite(), Writer(), Export(), Import(), Save(), Restore())
}


# ---- the sweep ---------------------------------------------------------------------------


@dataclass
class Outcome:
    operation: str
    k: int
    point: str
    after_commit: bool
    error: str | None
    problems: list[str]

    def describe(self) -> str:
        how = "after COMMIT" if self.after_commit else "fails"
        return f"{self.operation} call {self.k} ({self.point} {how}): " + "; ".join(self.problems)


@dataclass
class Report:
    operation: str
    calls: list[str]
    outcomes: list[Outcome]

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.problems]

    def summary(self) -> str:
        points: dict[str, int] = {}
        for point in self.calls:
            points[point] = points.get(point, 0) + 1
        covered = ", ".join(f"{p} x{n}" for p, n in sorted(points.items()))
        return (
            f"{self.operation}: {len(self.calls)} calls, {len(self.outcomes)} injected runs, "
            f"{len(self.failures)} broke an invariant; points: {covered}"
        )


def count_calls(operation: Operation) -> list[str]:
    """The injection points one clean run of ``operation`` passes, in order (its invariants checked too)."""
    counted = Injector()
    w = operation.setup()
    try:
        with instrumented(counted, w.engines()):
            operation.run(w)
        baseline = operation.problems(w, None)
    finally:
        operation.teardown(w)
    if baseline:
        raise AssertionError(f"{operation.name} without any failure: {baseline}")
    return counted.calls


def sweep(operation: Operation) -> Report:
    """Count the operation's calls, then fail each one in turn (commits twice: before and after COMMIT)."""
    calls = count_calls(operation)
    outcomes: list[Outcome] = []
    for k, point in enumerate(calls, start=1):
        for after in (False, True) if point == "registry.commit" else (False,):
            outcomes.append(run_failing(operation, k, after))
    return Report(operation.name, calls, outcomes)


def run_failing(operation: Operation, k: int, after_commit: bool = False) -> Outcome:
    """Run ``operation`` from a fresh start with its ``k``-th call failing; an operation may absorb the
    failure (a retry, a best-effort cleanup): only the invariants count."""
    inj = Injector(fail_at=k, after_commit=after_commit)
    w = operation.setup()
    error: BaseException | None = None
    try:
        try:
            with instrumented(inj, w.engines()):
                operation.run(w)
        except Exception as e:
            error = e
        try:
            problems = operation.problems(w, error)
        except Exception as e:
            problems = [f"the check itself failed: {type(e).__name__}: {e}"]
        point = inj.fired or "?"
        return Outcome(operation.name, k, point, after_commit, None if error is None else repr(error)[:200], problems)
    finally:
        operation.teardown(w)


def main(argv: list[str]) -> int:
    names = argv or list(OPERATIONS)
    broken = 0
    for name in names:
        report = sweep(OPERATIONS[name])
        print(report.summary())
        for outcome in report.failures:
            print("  BROKEN", outcome.describe())
        broken += len(report.failures)
    print("all invariants held" if not broken else f"{broken} injected runs broke an invariant")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
