"""The SQL registry's engine: how memcatalog connects to SQLite or any SQLAlchemy URL.

The tables themselves are pyiceberg's standard SQL catalog layout
(``iceberg_tables``, ``iceberg_namespace_properties``), so Java, Rust and
pyiceberg's SqlCatalog can read a memcatalog registry.
"""

from __future__ import annotations

import threading
import uuid
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal, TypeAlias

from pyiceberg.catalog.sql import IcebergTables
from sqlalchemy import (
    Column,
    ColumnElement,
    Engine,
    MetaData,
    String,
    Table,
    create_engine,
    delete,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import QueuePool

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection
    from sqlalchemy.engine.interfaces import DBAPIConnection
    from sqlalchemy.pool import ConnectionPoolEntry

TypeFilter: TypeAlias = "ColumnElement[bool] | None"  # which rows of iceberg_tables: tables, views, or (v0 schema) all


def is_memory_sqlite(uri: str) -> bool:
    url = make_url(uri)
    return url.get_backend_name() == "sqlite" and (
        url.database in (None, "", ":memory:") or url.query.get("mode") == "memory"
    )


def create_registry_engine(
    uri: str, *, busy_timeout_ms: int, echo: bool | Literal["debug"] = False, pool_pre_ping: bool | None = None
) -> Engine:
    """An engine that is safe to share between threads.

    ``echo`` and ``pool_pre_ping`` are SQLAlchemy's (SqlCatalog's ``echo`` and ``pool_pre_ping``
    properties); ``pool_pre_ping`` defaults to on for server databases, off for SQLite.

    In-memory SQLite gets exactly one connection that every session waits for:
    SQLAlchemy's default gives each thread its own empty database, and a shared
    unserialised connection lets one thread's rollback undo another's UPDATE.
    File SQLite gets WAL and a busy timeout so several catalogs can commit to it.
    """
    url = make_url(uri)
    if url.get_backend_name() != "sqlite":
        server = create_engine(uri, echo=echo, pool_pre_ping=True if pool_pre_ping is None else pool_pre_ping)
        event.listen(server, "commit", _count_commit)
        return server
    connect_args = {"check_same_thread": False, "timeout": busy_timeout_ms / 1000}
    if is_memory_sqlite(uri):
        engine = create_engine(
            uri,
            echo=echo,
            pool_pre_ping=bool(pool_pre_ping),
            connect_args=connect_args,
            poolclass=QueuePool,
            pool_size=1,
            max_overflow=0,
            pool_timeout=600,
            pool_recycle=-1,
        )
    else:
        engine = create_engine(uri, echo=echo, pool_pre_ping=bool(pool_pre_ping), connect_args=connect_args)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        cursor = dbapi_connection.cursor()
        if not is_memory_sqlite(uri):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.close()

    event.listen(engine, "commit", _count_commit)
    return engine


# ---- was a COMMIT sent? (a commit whose COMMIT was sent and then failed has an unknown outcome) ----
_commits = threading.local()


def _count_commit(_conn: Connection) -> None:
    # SQLAlchemy calls this just before it sends COMMIT to the database.
    _commits.count = getattr(_commits, "count", 0) + 1


def commits_sent() -> int:
    """How many COMMITs this thread has sent to any registry: compare before and after a step."""
    return int(getattr(_commits, "count", 0))


def metadata_location(engine: Engine, catalog: str, namespace: str, table: str, type_filter: TypeFilter) -> str | None:
    """The current metadata location of one table: a plain SELECT, ~10x cheaper than loading the ORM row."""
    stmt = select(IcebergTables.metadata_location).where(
        IcebergTables.catalog_name == catalog,
        IcebergTables.table_namespace == namespace,
        IcebergTables.table_name == table,
    )
    if type_filter is not None:
        stmt = stmt.where(type_filter)
    with engine.connect() as conn:
        row = conn.execute(stmt).first()
    if row is None:
        return None
    return str(row[0]) if row[0] is not None else ""


def all_tables(engine: Engine, catalog: str, type_filter: TypeFilter) -> list[tuple[str, str, str | None]]:
    """(namespace, table, metadata location) of every table of one catalog."""
    stmt = select(IcebergTables.table_namespace, IcebergTables.table_name, IcebergTables.metadata_location).where(
        IcebergTables.catalog_name == catalog
    )
    if type_filter is not None:
        stmt = stmt.where(type_filter)
    with engine.connect() as conn:
        return [(str(a), str(b), c) for a, b, c in conn.execute(stmt).all()]


def swap_locations(
    engine: Engine,
    catalog: str,
    swaps: list[tuple[str, str, str, str]],
    inserts: list[dict[str, str | None]],
) -> str | None:
    """Move several tables' metadata pointers and add new tables, all in one SQL transaction.

    ``swaps`` are ``(namespace, table, expected location, new location)``: each is a
    compare-and-swap. Returns None when everything was applied, else ``namespace.table``
    of the first change that lost (then nothing at all changed).
    """
    with engine.connect() as conn, conn.begin() as tx:
        for namespace, table, expected, new in swaps:
            stmt = (
                update(IcebergTables)
                .where(
                    IcebergTables.catalog_name == catalog,
                    IcebergTables.table_namespace == namespace,
                    IcebergTables.table_name == table,
                    IcebergTables.metadata_location == expected,
                )
                .values(metadata_location=new, previous_metadata_location=expected)
            )
            if conn.execute(stmt).rowcount < 1:
                tx.rollback()
                return f"{namespace}.{table}"
        for row in inserts:
            try:
                conn.execute(insert(IcebergTables).values(**row))
            except IntegrityError:
                tx.rollback()
                return f"{row['table_namespace']}.{row['table_name']}"
    return None


# ---- views: rows of iceberg_tables with iceberg_type VIEW (the JDBC catalog's layout) -------------
VIEW_TYPE = "VIEW"


def view_filter() -> ColumnElement[bool]:
    return IcebergTables.iceberg_type == VIEW_TYPE


def insert_view(engine: Engine, catalog: str, namespace: str, view: str, metadata_location: str) -> bool:
    """Add a view row; False when the name is taken (by a table or a view)."""
    row = {
        "catalog_name": catalog,
        "table_namespace": namespace,
        "table_name": view,
        "metadata_location": metadata_location,
        "previous_metadata_location": None,
        "iceberg_type": VIEW_TYPE,
    }
    try:
        with engine.begin() as conn:
            conn.execute(insert(IcebergTables).values(**row))
    except IntegrityError:
        return False
    return True


def _view_row(catalog: str, namespace: str, view: str) -> ColumnElement[bool]:
    return (
        (IcebergTables.catalog_name == catalog)
        & (IcebergTables.table_namespace == namespace)
        & (IcebergTables.table_name == view)
        & view_filter()
    )


def swap_view_location(engine: Engine, catalog: str, namespace: str, view: str, expected: str, new: str) -> bool:
    """Compare-and-swap a view's metadata pointer; False when it was not ``expected`` any more."""
    stmt = (
        update(IcebergTables)
        .where(_view_row(catalog, namespace, view), IcebergTables.metadata_location == expected)
        .values(metadata_location=new, previous_metadata_location=expected)
    )
    with engine.begin() as conn:
        return bool(conn.execute(stmt).rowcount)


def delete_view(engine: Engine, catalog: str, namespace: str, view: str) -> bool:
    with engine.begin() as conn:
        return bool(conn.execute(delete(IcebergTables).where(_view_row(catalog, namespace, view))).rowcount)


def rename_view(engine: Engine, catalog: str, source: tuple[str, str], destination: tuple[str, str]) -> bool:
    """Move a view row to another namespace/name; False when the source is gone. Raises IntegrityError if taken."""
    stmt = (
        update(IcebergTables)
        .where(_view_row(catalog, *source))
        .values(table_namespace=destination[0], table_name=destination[1])
    )
    with engine.begin() as conn:
        return bool(conn.execute(stmt).rowcount)


# ---- the catalog's identity: who owns which pool file (memcatalog.ownership) ----------------------
# A table of memcatalog's own beside pyiceberg's: other readers of the registry never look at it.
_IDENTITY = MetaData()
CATALOG_IDS = Table(
    "memcatalog_catalogs",
    _IDENTITY,
    Column("catalog_name", String(255), primary_key=True),
    Column("catalog_id", String(64), nullable=False),
)


def catalog_id(engine: Engine, catalog: str) -> str:
    """The stable identity of catalog ``catalog`` in this registry, created on first use.

    Every MemCatalog opened on the same registry with the same name gets the same id, in
    any process: it is what a pool file records as its owner.
    """
    _IDENTITY.create_all(engine, checkfirst=True)
    stmt = select(CATALOG_IDS.c.catalog_id).where(CATALOG_IDS.c.catalog_name == catalog)
    with engine.connect() as conn:
        found = conn.execute(stmt).scalar()
    if found is not None:
        return str(found)
    try:
        with engine.begin() as conn:
            conn.execute(insert(CATALOG_IDS).values(catalog_name=catalog, catalog_id=uuid.uuid4().hex))
    except IntegrityError:  # another catalog of that name created it first: use theirs
        pass
    with engine.connect() as conn:
        return str(conn.execute(stmt).scalar_one())


# ---- in-memory registries live as long as their pool -------------------------------------------------
# Two MemCatalogs of the same name on an in-memory registry and the same pool are one catalog: the
# second attaches to the first one's registry, as reconnecting to a file or server registry would.
_MEMORY: weakref.WeakKeyDictionary[object, dict[str, Engine]] = weakref.WeakKeyDictionary()
_MEMORY_LOCK = threading.Lock()


def shared_memory_engine(pool: object, catalog: str, create: Callable[[], Engine]) -> tuple[Engine, bool]:
    """The in-memory registry of catalog ``catalog`` on ``pool``: (engine, whether it already existed).

    It lives as long as the pool object does (``drop_pool`` ends both).
    """
    with _MEMORY_LOCK:
        engines = _MEMORY.setdefault(pool, {})
        engine = engines.get(catalog)
        if engine is not None:
            return engine, True
        engine = engines[catalog] = create()
        return engine, False


def is_shared_memory_engine(engine: Engine) -> bool:
    with _MEMORY_LOCK:
        return any(engine is e for engines in _MEMORY.values() for e in engines.values())
