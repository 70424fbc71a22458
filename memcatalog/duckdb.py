"""DuckDB over a catalog in one call: ``memcatalog.duckdb.connect(catalog)``.

The returned connection has the ``memcat`` filesystem registered, the iceberg
extension loaded without network access, and every catalog table as a view
``namespace.table``. Views are refreshed automatically before each query.
"""

from __future__ import annotations

import importlib
import re
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from pyiceberg.catalog import Catalog
from pyiceberg.typedef import Identifier
from typing_extensions import TypedDict, Unpack

from memcatalog import registry
from memcatalog.errors import ExtensionNotAvailableError
from memcatalog.filesystem import PoolFileSystem
from memcatalog.pyiceberg_internals import table_type_filter

if TYPE_CHECKING:
    import duckdb as duckdb_module

    from memcatalog.catalog import MemCatalog
    from memcatalog.rest import RestServer

AT_SNAPSHOT = "_at_snapshot"  # SELECT * FROM db.events_at_snapshot(1234)
AS_OF = "_as_of"  # SELECT * FROM db.events_as_of(TIMESTAMP '2026-01-01 12:00:00')
_INSTALL_HINT = "pip install 'memcatalog[duckdb]' (duckdb=={v} with duckdb-extension-{ext}=={v})"


class WriterOptions(TypedDict, total=False):
    """The keyword options of :class:`memcatalog.writer.TableWriter` (defaults there), as ``append`` takes them."""

    max_buffer_bytes: int | str
    target_file_size: int | str | None
    compression: str
    row_group_size: int | None
    commit_every_files: int | None
    mode: str
    ignore_unknown_fields: bool


def _duckdb() -> ModuleType:
    try:
        return importlib.import_module("duckdb")
    except ModuleNotFoundError as e:
        raise ExtensionNotAvailableError("DuckDB is not installed: pip install 'memcatalog[duckdb]'") from e


# What an extension loads when it starts: loaded first, or DuckDB tries to download it (iceberg needs avro).
DEPENDENCIES: dict[str, tuple[str, ...]] = {"iceberg": ("avro",)}
_EXTENSION_NAME = re.compile(r"[a-z][a-z0-9_]*")


def load_extension(con: duckdb_module.DuckDBPyConnection, name: str) -> None:
    """Load a DuckDB extension, and the extensions it depends on first, without network access.

    An extension already loaded is left alone; one installed in DuckDB's own extension
    directory is loaded from there; otherwise the binary shipped by the pip package
    ``duckdb-extension-<name>`` (version-matched to duckdb) is loaded. A plain
    ``LOAD iceberg`` is never tried on an extension that is not installed, because
    DuckDB would try to download it. ``load_extension(con, "iceberg")`` loads ``avro``
    first (:data:`DEPENDENCIES`).

    Example:
        >>> import duckdb, memcatalog.duckdb
        >>> con = duckdb.connect(config={"allow_unsigned_extensions": "true"})
        >>> memcatalog.duckdb.load_extension(con, "iceberg")
        >>> sorted(n for (n,) in con.sql("SELECT extension_name FROM duckdb_extensions() WHERE loaded").fetchall()
        ...        if n in ("avro", "iceberg"))
        ['avro', 'iceberg']

    Raises:
        ValueError: ``name`` is not an extension name (lowercase letters, digits, ``_``).
        ExtensionNotAvailableError: the extension is neither installed in DuckDB nor shipped by an
            installed pip package; the message names the package and version to install.
    """
    if not _EXTENSION_NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not a DuckDB extension name (lowercase letters, digits and _)")
    for dependency in DEPENDENCIES.get(name, ()):
        load_extension(con, dependency)
    row = con.execute("SELECT loaded, installed FROM duckdb_extensions() WHERE extension_name = ?", [name]).fetchone()
    if row is not None and row[0]:
        return
    if row is not None and row[1]:
        try:
            con.execute(f"LOAD {name}")
            return
        except Exception:  # installed for another build of DuckDB: the pip package may still have one
            pass
    con.execute(f"LOAD {_sql_string(str(_packaged_binary(name)))}")


def _packaged_binary(name: str) -> Path:
    """The extension binary that ``duckdb-extension-<name>`` ships for the installed duckdb."""
    version = _duckdb().__version__
    try:
        package = importlib.import_module(f"duckdb_extension_{name}")
    except ModuleNotFoundError as e:
        raise ExtensionNotAvailableError(
            f"DuckDB's {name} extension is not available offline: {_INSTALL_HINT.format(v=version, ext=name)}"
        ) from e
    root = Path(str(package.__file__)).parent
    candidates = sorted(root.glob(f"extensions/v{version}/{name}.duckdb_extension")) or sorted(
        root.rglob(f"{name}.duckdb_extension")
    )
    if not candidates:
        raise ExtensionNotAvailableError(
            f"duckdb-extension-{name} ships no binary for duckdb {version}: {_INSTALL_HINT.format(v=version, ext=name)}"
        )
    return candidates[0]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


# Database names DuckDB keeps for itself (main, temp, system) or that every connection already has.
_RESERVED_DATABASES = frozenset({"main", "temp", "system", "memory"})


def _database_names(catalogs: list[MemCatalog]) -> dict[str, str]:
    """The attached database name of each catalog: its own name, or ``<name>_catalog`` for a reserved one."""
    names: dict[str, str] = {}
    for catalog in catalogs:
        name = catalog.name
        while name.lower() in _RESERVED_DATABASES or name.lower() in {n.lower() for n in names.values()}:
            name = f"{name}_catalog" if name == catalog.name else name + "_"
        names[catalog.name] = name
    return names


def _s3_secrets(con: duckdb_module.DuckDBPyConnection, catalogs: list[MemCatalog]) -> None:
    """Reach the catalogs' pools served over S3 (``s3://<pool>/`` tables) through this process's endpoint."""
    from memcatalog import buckets

    for catalog in catalogs:
        props = buckets.endpoint_for(catalog.pool.name)
        if props is None:
            continue
        load_extension(con, "httpfs")
        host = props["s3.endpoint"].removeprefix("http://")
        options = ", ".join(
            [
                "TYPE s3",
                f"KEY_ID {_sql_string(props['s3.access-key-id'])}",
                f"SECRET {_sql_string(props['s3.secret-access-key'])}",
                f"REGION {_sql_string(props['s3.region'])}",
                f"ENDPOINT {_sql_string(host)}",
                "URL_STYLE 'path'",
                "USE_SSL false",
                f"SCOPE {_sql_string(f's3://{catalog.pool.name}')}",
            ]
        )
        con.execute(f"CREATE OR REPLACE SECRET {_quote('memcatalog_s3_' + catalog.pool.name)} ({options})")


class CatalogConnection:
    """A DuckDB connection that shows one or more catalogs' tables as views.

    The first catalog's tables are ``namespace.table``; every catalog's are also
    ``<database>.namespace.table``, where the database is the catalog's name, or
    ``<name>_catalog`` for a name DuckDB reserves (``main``, ``temp``, ``system``,
    ``memory``); ``con.databases`` maps each catalog name to its database. Anything
    else is passed to the DuckDB connection (``con.raw``).
    """

    def __init__(self, catalogs: list[MemCatalog], con: duckdb_module.DuckDBPyConnection) -> None:
        self.raw = con
        self.catalogs = catalogs
        self._views: dict[tuple[str, str, str], str] = {}  # (database, schema, view) -> metadata location
        if "memcat" not in con.list_filesystems():
            con.register_filesystem(PoolFileSystem())
        load_extension(con, "avro")
        load_extension(con, "iceberg")
        _s3_secrets(con, catalogs)
        self.databases = _database_names(catalogs)
        for catalog in catalogs:
            con.execute(f"ATTACH IF NOT EXISTS ':memory:' AS {_quote(self.databases[catalog.name])}")
        self.refresh()

    # ---- views --------------------------------------------------------------------
    def refresh(self) -> None:
        """Bring every view in line with the registry (new, changed, renamed and dropped tables)."""
        wanted: dict[tuple[str, str, str], str] = {}
        for i, catalog in enumerate(self.catalogs):
            for ns, table, location in registry.all_tables(catalog.engine, catalog.name, table_type_filter(catalog)):
                if not location:
                    continue
                databases = (["memory"] if i == 0 else []) + [self.databases[catalog.name]]
                for db in databases:
                    wanted[(db, ns, table)] = location
        for key in [k for k in self._views if k not in wanted]:
            self._drop(*key)
            del self._views[key]
        for key, location in wanted.items():
            if self._views.get(key) != location:
                self._create(*key, location)
                self._views[key] = location

    def _create(self, db: str, schema: str, table: str, location: str) -> None:
        """The view ``schema.table`` and its time-travel table macros ``table_at_snapshot(id)``, ``table_as_of(ts)``."""
        prefix = f"{_quote(db)}.{_quote(schema)}."
        scan = f"iceberg_scan({_sql_string(location)}"
        self.raw.execute(f"CREATE SCHEMA IF NOT EXISTS {_quote(db)}.{_quote(schema)}")
        self.raw.execute(f"CREATE OR REPLACE VIEW {prefix}{_quote(table)} AS SELECT * FROM {scan})")
        self.raw.execute(
            f"CREATE OR REPLACE MACRO {prefix}{_quote(table + AT_SNAPSHOT)}(snapshot_id) AS TABLE "
            f"SELECT * FROM {scan}, snapshot_from_id = snapshot_id)"
        )
        self.raw.execute(
            f"CREATE OR REPLACE MACRO {prefix}{_quote(table + AS_OF)}(ts) AS TABLE "
            f"SELECT * FROM {scan}, snapshot_from_timestamp = ts)"
        )

    def _drop(self, db: str, schema: str, table: str) -> None:
        prefix = f"{_quote(db)}.{_quote(schema)}."
        self.raw.execute(f"DROP VIEW IF EXISTS {prefix}{_quote(table)}")
        for suffix in (AT_SNAPSHOT, AS_OF):
            self.raw.execute(f"DROP MACRO TABLE IF EXISTS {prefix}{_quote(table + suffix)}")

    def sql(self, query: str, *, alias: str = "", params: object = None) -> duckdb_module.DuckDBPyRelation:
        """Run SQL after refreshing the views (see ``duckdb.DuckDBPyConnection.sql``; same defaults)."""
        self.refresh()
        return self.raw.sql(query, alias=alias, params=params)

    def execute(self, query: str, parameters: object = None) -> duckdb_module.DuckDBPyConnection:
        """Run SQL after refreshing the views (see ``duckdb.DuckDBPyConnection.execute``)."""
        self.refresh()
        return self.raw.execute(query, parameters)

    # ---- iceberg helpers ---------------------------------------------------------------
    def _location(self, identifier: str | Identifier, catalog: MemCatalog | None = None) -> str:
        return str((catalog or self.catalogs[0]).load_table(identifier).metadata_location)

    def at_snapshot(
        self,
        identifier: str | Identifier,
        *,
        snapshot_id: int | None = None,
        timestamp: datetime | str | None = None,
    ) -> duckdb_module.DuckDBPyRelation:
        """The table as of a snapshot id or a point in time (a ``datetime`` or an ISO string)."""
        location = _sql_string(self._location(identifier))
        if snapshot_id is not None:
            return self.raw.sql(f"SELECT * FROM iceberg_scan({location}, snapshot_from_id={int(snapshot_id)})")
        if timestamp is not None:
            ts = timestamp.isoformat() if hasattr(timestamp, "isoformat") else str(timestamp)
            return self.raw.sql(
                f"SELECT * FROM iceberg_scan({location}, snapshot_from_timestamp={_sql_string(ts)}::TIMESTAMP)"
            )
        raise ValueError("give snapshot_id= or timestamp=")

    def snapshots(self, identifier: str | Identifier) -> duckdb_module.DuckDBPyRelation:
        """DuckDB's ``iceberg_snapshots`` of a catalog table."""
        return self.raw.sql(f"SELECT * FROM iceberg_snapshots({_sql_string(self._location(identifier))})")

    def metadata(self, identifier: str | Identifier) -> duckdb_module.DuckDBPyRelation:
        """DuckDB's ``iceberg_metadata`` (manifest entries) of a catalog table."""
        return self.raw.sql(f"SELECT * FROM iceberg_metadata({_sql_string(self._location(identifier))})")

    def append(self, identifier: str | Identifier, query: str, **writer_options: Unpack[WriterOptions]) -> int:
        """Run a query and append its result to a catalog table through the validating writer; returns rows written."""
        result = self.sql(query).to_arrow_table()
        with self.catalogs[0].writer(identifier, **writer_options) as w:
            w.write(result)
        return int(result.num_rows)

    # ---- plumbing ------------------------------------------------------------------------
    def close(self) -> None:
        """Close the DuckDB connection."""
        self.raw.close()

    def __enter__(self) -> CatalogConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getattr__(self, name: str) -> Any:  # the DuckDB connection's attribute, whatever it is
        return getattr(self.raw, name)


def connect(*catalogs: MemCatalog, con: duckdb_module.DuckDBPyConnection | None = None) -> CatalogConnection:
    """A DuckDB connection over one or more catalogs (see :class:`CatalogConnection`).

    Example:
        >>> import memcatalog, memcatalog.duckdb, pyarrow as pa
        >>> cat = memcatalog.MemCatalog("duck_docs")
        >>> cat.create_namespace("db")
        >>> cat.create_table("db.events", pa.schema([("n", pa.int64())])).append(pa.table({"n": [1, 2, 3]}))
        >>> con = memcatalog.duckdb.connect(cat)
        >>> con.sql("SELECT sum(n) FROM db.events").fetchone()
        (6,)
    """
    if not catalogs:
        raise ValueError("connect() needs at least one catalog")
    for c in catalogs:
        if not isinstance(c, Catalog):
            raise TypeError(f"connect() takes MemCatalog objects, not {type(c).__name__}")
    duckdb = _duckdb()
    connection = con if con is not None else duckdb.connect(config={"allow_unsigned_extensions": "true"})
    return CatalogConnection(list(catalogs), connection)


def attach(
    catalog: MemCatalog,
    con: duckdb_module.DuckDBPyConnection | None = None,
    *,
    name: str | None = None,
    server: RestServer | None = None,
) -> duckdb_module.DuckDBPyConnection:
    """ATTACH a catalog read-write over the REST protocol: DuckDB SQL writes become Iceberg commits.

    See :func:`memcatalog.duckdb_rest.attach` (needs the ``serve`` extra and duckdb-extension-httpfs).
    """
    from memcatalog.duckdb_rest import attach as attach_rest

    return attach_rest(catalog, con, name=name, server=server)
