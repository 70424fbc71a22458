"""DuckDB writing a catalog in SQL: ATTACH the catalog's REST server (``memcatalog.duckdb.attach``).

``memcatalog.duckdb.connect`` shows tables as read-only views over ``iceberg_scan``.
``attach`` instead ATTACHes the catalog served over the Iceberg REST protocol
(``TYPE iceberg``), so CREATE TABLE, INSERT, UPDATE, DELETE, MERGE INTO, ALTER
TABLE, CREATE TABLE AS and transactions become Iceberg commits on the catalog;
DuckDB reads and writes the data files through the ``memcat`` filesystem
registered on the connection. Everything is offline: the iceberg, avro and
httpfs extensions load from their pip packages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from memcatalog.duckdb import _duckdb, load_extension
from memcatalog.filesystem import PoolFileSystem

if TYPE_CHECKING:
    import duckdb as duckdb_module

    from memcatalog.catalog import MemCatalog
    from memcatalog.rest import RestServer

EXTENSIONS = ("avro", "httpfs", "iceberg")  # avro before iceberg, or DuckDB tries to download it
RESERVED_NAMES = ("main", "memory", "system", "temp")  # databases every DuckDB connection already has


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def attach(
    catalog: MemCatalog,
    con: duckdb_module.DuckDBPyConnection | None = None,
    *,
    name: str | None = None,
    server: RestServer | None = None,
) -> duckdb_module.DuckDBPyConnection:
    """ATTACH ``catalog`` read-write to a DuckDB connection as the database ``name`` (default: the catalog's name).

    Args:
        catalog: the MemCatalog to write.
        con: the connection to attach to (default: a new in-memory DuckDB connection).
        name: the database name in DuckDB SQL (``INSERT INTO <name>.<namespace>.<table> ...``).
        server: a running ``memcatalog.rest.serve(catalog)`` to use; default: the one this process
            keeps for the catalog (``memcatalog.rest.shared_server``), started on first use.

    Returns:
        The DuckDB connection.

    Raises:
        ValueError: ``name`` is one of DuckDB's own databases, or ``server`` serves another catalog.
        ExtensionNotAvailableError: an extension package is missing (the message names it).
    """
    import memcatalog.rest

    database = name if name is not None else catalog.name
    if not database or database.lower() in RESERVED_NAMES:
        raise ValueError(
            f"cannot ATTACH the catalog as {database!r}: DuckDB already has a database of that name "
            f"({', '.join(RESERVED_NAMES)}); pass name='...'"
        )
    if server is None:
        server = memcatalog.rest.shared_server(catalog)
    elif server.catalog is not catalog:
        raise ValueError(f"server {server.url} serves catalog {server.catalog.name!r}, not {catalog.name!r}")
    if con is None:
        con = _duckdb().connect(config={"allow_unsigned_extensions": "true"})
    if "memcat" not in con.list_filesystems():
        con.register_filesystem(PoolFileSystem())
    for extension in EXTENSIONS:
        load_extension(con, extension)
    options = [f"TYPE iceberg, ENDPOINT {_sql_string(server.url)}"]
    if server.token is not None:
        secret = f"memcatalog_{database}_token"
        con.execute(f"CREATE OR REPLACE SECRET {_quote(secret)} (TYPE iceberg, TOKEN {_sql_string(server.token)})")
        options.append(f"SECRET {_quote(secret)}")
    else:
        options.append("AUTHORIZATION_TYPE 'none'")
    con.execute(f"ATTACH {_sql_string(catalog.name)} AS {_quote(database)} ({', '.join(options)})")
    return con
