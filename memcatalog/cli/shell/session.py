"""The shell's catalog and DuckDB connection: SQL writes go into the catalog over the REST protocol.

The catalog is served in this process (``memcatalog.rest.serve``) and ATTACHed in
DuckDB (``memcatalog.duckdb.attach``) as the database :data:`DATABASE`, which is the
default, so ``CREATE TABLE db.t``, ``INSERT``, ``UPDATE``, ``DELETE`` and ``CREATE
TABLE AS`` are Iceberg commits that pyiceberg, ``.tables`` and ``.save`` see.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from memcatalog.duckdb import _sql_string

if TYPE_CHECKING:
    import duckdb

    from memcatalog.catalog import MemCatalog
    from memcatalog.rest import RestServer

DATABASE = "lake"  # the catalog's name in DuckDB SQL: lake.db.trips
DEFAULT_NAMESPACE = "default"  # made, and USEd, when the catalog has no namespace yet
INSTALL_HINT = "the shell needs DuckDB and the REST server: pip install 'memcatalog[shell]'"


class StatementCancelledError(Exception):
    """The statement was cancelled with Ctrl-C."""


@dataclass
class Result:
    """What a statement returned: column names and the first rows (``more`` when there were others)."""

    columns: list[str]
    rows: list[tuple[object, ...]]
    more: bool
    message: str | None = None  # instead of a table: "3 rows" for INSERT, UPDATE, DELETE, CREATE TABLE AS


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _returns_rows(sql: str) -> bool:
    """False for statements whose result is only DuckDB's count of changed rows (INSERT, CREATE ...)."""
    import duckdb

    try:
        kinds = [s.type for s in duckdb.extract_statements(sql)]
    except Exception:
        return True
    return not kinds or kinds[-1] in (duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN)


class Session:
    """A catalog, its REST server and a DuckDB connection that has the catalog as its default database."""

    def __init__(self, catalog: MemCatalog) -> None:
        try:
            import memcatalog.duckdb
            import memcatalog.rest
        except ImportError as e:
            raise ImportError(INSTALL_HINT) from e
        self.catalog = catalog
        self.notices: list[str] = []  # what the shell should tell the user after a statement
        self.server: RestServer | None = memcatalog.rest.serve(catalog)
        try:
            self.con: duckdb.DuckDBPyConnection = memcatalog.duckdb.attach(catalog, name=DATABASE, server=self.server)
            self.use_default_namespace()
        except BaseException:
            self.close()
            raise
        self._saved = self.fingerprint()

    # ---- running SQL -------------------------------------------------------------------
    def use_default_namespace(self) -> None:
        """Make ``ns.table`` and ``table`` names resolve in the catalog (DuckDB's USE needs a namespace)."""
        namespaces = sorted(self.catalog.list_namespaces())
        if not namespaces:
            self.catalog.create_namespace(DEFAULT_NAMESPACE)
            namespaces = [(DEFAULT_NAMESPACE,)]
        names = [n[0] for n in namespaces]
        current = self.con.sql("SELECT current_database(), current_schema()").fetchone()
        if current is not None and current[0] == DATABASE and current[1] in names:
            return
        namespace = DEFAULT_NAMESPACE if DEFAULT_NAMESPACE in names else names[0]
        self.con.execute(f"USE {_quote(DATABASE)}.{_quote(namespace)}")

    def execute(self, sql: str, limit: int) -> Result | None:
        """Run one statement and fetch up to ``limit`` rows; Ctrl-C (KeyboardInterrupt) cancels it.

        The statement runs in a worker thread so that the main thread can take the
        interrupt and call DuckDB's ``interrupt()``. After any failure the connection is
        made usable again (:meth:`recover`).
        """
        outcome: dict[str, Result | None] = {}
        failed: list[BaseException] = []

        def work() -> None:
            try:
                cursor = self.con.execute(sql)
                if cursor.description is None:
                    outcome["result"] = None
                    return
                rows = cursor.fetchmany(limit + 1)
                columns = [d[0] for d in cursor.description]
                if columns in (["Count"], ["Success"]) and not _returns_rows(sql):
                    count = rows[0][0] if rows and columns == ["Count"] else None
                    message = None if count is None else f"{count} row{'' if count == 1 else 's'}"
                    outcome["result"] = Result([], [], False, message)
                    return
                outcome["result"] = Result(columns, rows[:limit], len(rows) > limit)
            except BaseException as e:
                failed.append(e)

        worker = threading.Thread(target=work, name="memcatalog-shell-statement", daemon=True)
        worker.start()
        try:
            while worker.is_alive():
                worker.join(0.05)
        except KeyboardInterrupt:
            self.con.interrupt()
            worker.join()
            self.recover()
            raise StatementCancelledError("statement cancelled") from None
        if failed:
            self.recover()
            raise failed[0]
        return outcome.get("result")

    def recover(self) -> None:
        """Roll back a transaction DuckDB has marked as aborted, and USE the catalog again if it moved."""
        try:
            self.con.execute("SELECT 1").fetchall()
        except Exception as e:
            if "transaction is aborted" not in str(e).lower():
                raise
            self.con.execute("ROLLBACK")
            self.notices.append("the failed transaction was rolled back")
        with contextlib.suppress(Exception):  # the next statement reports what is wrong
            self.use_default_namespace()

    def at_snapshot(self, identifier: str, snapshot_id: int, limit: int) -> Result:
        """A table as of one of its snapshots (DuckDB's ``iceberg_scan`` of the table's metadata)."""
        location = self.catalog.load_table(identifier).metadata_location
        query = f"SELECT * FROM iceberg_scan({_sql_string(location)}, snapshot_from_id = {int(snapshot_id)})"
        result = self.execute(query, limit)
        assert result is not None
        return result

    # ---- unsaved changes ---------------------------------------------------------------
    def fingerprint(self) -> frozenset[tuple[tuple[str, ...], str]]:
        """Every table with its current metadata location: any commit, create or drop changes it."""
        found: set[tuple[tuple[str, ...], str]] = set()
        for namespace in self.catalog.list_namespaces():
            for identifier in self.catalog.list_tables(namespace):
                found.add((tuple(identifier), str(self.catalog.load_table(identifier).metadata_location)))
        return frozenset(found)

    def mark_saved(self) -> None:
        self._saved = self.fingerprint()

    def unsaved(self) -> bool:
        """True if tables changed since the start or the last ``.save`` (and the catalog is not empty)."""
        now = self.fingerprint()
        return bool(now) and now != self._saved

    # ---- end ---------------------------------------------------------------------------
    def close(self) -> None:
        """Close DuckDB and stop the server, so no thread of theirs is alive when the interpreter exits."""
        con = getattr(self, "con", None)
        if con is not None:
            con.close()
        if self.server is not None:
            self.server.stop()
            self.server = None
