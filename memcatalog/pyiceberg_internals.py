"""Every use of pyiceberg's private API in memcatalog, in one place, each with why it exists.

pyiceberg keeps these underscore names stable in practice but promises nothing;
tests/test_pyiceberg_contract.py calls each one so a pyiceberg release that
changes them fails loudly there instead of somewhere deep in a request.
Keep additions self-contained: several branches add to this file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pyiceberg.catalog import MetastoreCatalog
from pyiceberg.table.metadata import TableMetadata

if TYPE_CHECKING:
    from pyiceberg.catalog.sql import SqlCatalog


# ---- issue 16: the REST server ---------------------------------------------------------


def empty_table_metadata() -> TableMetadata:
    """The base a table-creating commit applies its updates to (stage-create, then commit).

    Why: pyiceberg's ``_update_and_stage_table`` starts from exactly this for a
    table that does not exist yet; a multi-table transaction must start from the
    same base to apply the same updates the same way.
    """
    metadata: TableMetadata = MetastoreCatalog._empty_table_metadata()
    return metadata


def resolve_table_location(catalog: MetastoreCatalog, location: str | None, namespace: str, table: str) -> str:
    """Where a new table lives: the request's location, else the namespace's, else the warehouse's.

    Why: a stage-create answers with metadata (and so a location) before any
    file or registry row exists; the location must be the one ``create_table``
    would have chosen.
    """
    return str(catalog._resolve_table_location(location, namespace, table))


def table_row(catalog: SqlCatalog, namespace: str, table: str, metadata_location: str) -> dict[str, Any]:
    """The ``iceberg_tables`` row SqlCatalog inserts for a new table (``iceberg_type`` only on v1 schemas).

    Why: a multi-table transaction inserts tables created in it inside its own SQL
    transaction, and must write the row exactly as ``create_table`` does.
    """
    return dict(catalog._create_table_row(namespace, table, metadata_location))


def table_type_filter(catalog: SqlCatalog) -> Any:
    """SqlCatalog's WHERE clause that keeps views (iceberg_type VIEW) out of table lookups, or None on v0 schemas.

    Why: views share ``iceberg_tables`` with tables (the JDBC catalog's layout).
    """
    return catalog._iceberg_type_filter()


def schema_version(catalog: SqlCatalog) -> str:
    """``"v1"`` when the registry has the ``iceberg_type`` column (views can be stored), else ``"v0"``.

    Why: views need the column; a v0 registry (written by an old pyiceberg) cannot hold them.
    """
    return str(catalog._schema_version)
