"""MemCatalog: pyiceberg's SQL catalog, with its data in a memcat:// pool."""

from __future__ import annotations

import logging
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Literal

from pyiceberg.catalog import Catalog
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import (
    NamespaceNotEmptyError,
    NoSuchNamespaceError,
    NoSuchTableError,
    TableAlreadyExistsError,
    ValidationError,
)
from pyiceberg.io import FileIO, load_file_io
from pyiceberg.partitioning import UNPARTITIONED_PARTITION_SPEC, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.serializers import FromInputFile
from pyiceberg.table import CommitTableResponse, Table, TableProperties
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.table.sorting import UNSORTED_SORT_ORDER, SortOrder
from pyiceberg.table.update import TableRequirement, TableUpdate
from pyiceberg.typedef import EMPTY_DICT, Identifier, Properties
from pyiceberg.types import strtobool
from pyiceberg.utils.properties import property_as_bool
from pyiceberg.view import View
from pyiceberg.view.metadata import ViewVersion
from typing_extensions import override

from memcatalog import buckets, config, maintenance, registry, urls, views
from memcatalog.errors import DataNotInMemoryError, EmptyNamespaceError, InvalidMetadataError
from memcatalog.fileio import delete_quietly
from memcatalog.names import check_identifier
from memcatalog.pool import FileEntry, Pool, Usage, get_pool, locate
from memcatalog.pyiceberg_internals import (
    FlatCommits,
    MetadataWriteHook,
    init_sql_catalog,
    new_table,
    table_type_filter,
    to_iceberg_schema,
    write_table_metadata,
)
from memcatalog.urls import is_pool_url

if TYPE_CHECKING:
    import pyarrow as pa
    from sqlalchemy import Engine

    from memcatalog.writer import TableWriter


logger = logging.getLogger("memcatalog.catalog")


@dataclass(frozen=True)
class TableUsage:
    """Pool bytes and files under one table's location."""

    identifier: Identifier
    location: str
    bytes: int
    files: int


def pyiceberg_config(name: str) -> dict[str, str]:
    """pyiceberg's own configuration for catalog ``name`` (``.pyiceberg.yaml`` and ``PYICEBERG_CATALOG__*``).

    pyiceberg does not pass it to catalogs loaded by ``py-catalog-impl``, so MemCatalog reads it itself.
    """
    from pyiceberg.utils.config import Config

    found = Config().get_catalog_config(name) or {}
    return {
        k: str(v)
        for k, v in found.items()
        if not isinstance(v, dict) and k not in (config.PY_CATALOG_IMPL, config.CATALOG_TYPE)
    }


_WAREHOUSES: dict[str, weakref.WeakValueDictionary[str, MemCatalog]] = {}
_WAREHOUSES_LOCK = threading.Lock()


def _register_warehouse(warehouse: str, catalog: MemCatalog) -> None:
    """Remember which catalogs keep tables in which part of a pool, so one's reclaim never takes another's files."""
    if not is_pool_url(warehouse):
        return
    pool_name, key = urls.parse(warehouse)
    with _WAREHOUSES_LOCK:
        _WAREHOUSES.setdefault(pool_name, weakref.WeakValueDictionary())[key] = catalog


def _warehouses_of(pool_name: str) -> list[str]:
    with _WAREHOUSES_LOCK:
        return list(_WAREHOUSES.get(pool_name, {}).keys())


def _echo(props: Properties) -> bool | Literal["debug"]:
    """SqlCatalog's ``echo`` property: a truth value, or ``debug`` (SQLAlchemy also logs result rows)."""
    value = str(props.get(config.ECHO, config.DEFAULT_ECHO)).lower()
    return "debug" if value == "debug" else bool(strtobool(value))


def _pool_pre_ping(props: Properties) -> bool | None:
    """SqlCatalog's ``pool_pre_ping`` property; None leaves the registry's default."""
    value = props.get(config.POOL_PRE_PING)
    return None if value is None else bool(strtobool(str(value)))


def _registry_engine(props: Properties) -> Engine:
    busy = int(props.get(config.SQLITE_BUSY_TIMEOUT, config.DEFAULT_SQLITE_BUSY_TIMEOUT_MS))
    return registry.create_registry_engine(
        props[config.URI], busy_timeout_ms=busy, echo=_echo(props), pool_pre_ping=_pool_pre_ping(props)
    )


def _exists(io: FileIO, path: str) -> bool:
    try:
        return bool(io.new_input(path).exists())
    except OSError:  # the pool itself is gone: the file is not there either
        return False


def _first_line(e: BaseException) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else ""


def _check_namespace(namespace: str | Identifier) -> None:
    try:
        Catalog.namespace_to_string(namespace, NoSuchNamespaceError)
    except NoSuchNamespaceError as e:  # empty, or an empty level: NoSuchNamespaceError as in SqlCatalog
        raise EmptyNamespaceError(
            f"invalid namespace {namespace!r}: {e}. Every level needs 1-255 printable characters"
        ) from e
    check_identifier(Catalog.identifier_to_tuple(namespace), "namespace")


def _check_table_identifier(identifier: str | Identifier) -> None:
    namespace = Catalog.namespace_from(identifier)
    _check_namespace(namespace)  # none at all ("tbl") is NoSuchNamespaceError too, as SqlCatalog's create_table raises
    check_identifier([Catalog.table_name_from(identifier)], "table name")


class MemCatalog(FlatCommits, MetadataWriteHook, SqlCatalog):
    """An Iceberg catalog with no server and no disk.

    Args:
        name: the catalog's name; also its pool's name unless ``pool`` is given.
        **properties: ``uri`` (SQLAlchemy URL, default in-memory SQLite), ``warehouse``
            (default ``memcat://<pool>/``), ``quota`` (default 1 GiB), ``pool``, and
            pyiceberg's usual catalog properties. ``.pyiceberg.yaml`` and
            ``PYICEBERG_CATALOG__<NAME>__<KEY>`` settings apply under these.

    Example:
        >>> from memcatalog import MemCatalog
        >>> cat = MemCatalog("docs_catalog")
        >>> cat.create_namespace("db")
        >>> cat.list_namespaces()
        [('db',)]
    """

    def __init__(self, name: str, **properties: str) -> None:
        props: dict[str, str] = {**pyiceberg_config(name), **{k: str(v) for k, v in properties.items()}}
        pool_name = props.get(config.POOL, name)
        default_warehouse = urls.build(pool_name, "" if pool_name == name else name)
        props.setdefault(config.WAREHOUSE, default_warehouse)
        props.setdefault(config.URI, config.DEFAULT_URI)
        props.setdefault(config.PY_IO_IMPL, config.FILE_IO_IMPL)
        init_sql_catalog(self, name, props, _registry_engine)

        _register_warehouse(props[config.WAREHOUSE], self)
        quota = props.get(config.QUOTA)
        self.pool: Pool = get_pool(pool_name, quota=quota)
        if quota is not None:
            self.pool.set_quota(quota)
        if strtobool(str(props.get(config.RECLAIM_ON_QUOTA, config.DEFAULT_RECLAIM_ON_QUOTA))):
            self.pool.on_full(self._reclaim_on_full)
        self._cache: OrderedDict[str, TableMetadata] = OrderedDict()
        self._cache_size = int(props.get(config.METADATA_CACHE_SIZE, config.DEFAULT_METADATA_CACHE_SIZE))
        self._cache_lock = threading.Lock()
        self._commit_state = threading.local()

    def __repr__(self) -> str:
        return f"MemCatalog({self.name!r}, pool={self.pool!r})"

    @property
    def warehouse(self) -> str:
        return str(self.properties[config.WAREHOUSE])

    # ---- metadata cache ------------------------------------------------------
    def _remember(self, location: str, metadata: TableMetadata) -> None:
        with self._cache_lock:
            self._cache[location] = metadata
            self._cache.move_to_end(location)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    def _read_metadata(self, identifier: str, location: str) -> TableMetadata:
        with self._cache_lock:
            cached = self._cache.get(location)
        if cached is not None:
            return cached
        io = self.load_file_io_for(location)
        try:
            metadata = FromInputFile.table_metadata(io.new_input(location))
        except FileNotFoundError as e:
            if not is_pool_url(location):
                raise
            raise DataNotInMemoryError(
                f"table {identifier}: its metadata file {location} is not in this process's memory. "
                "memcatalog keeps table files in the memory of the process that wrote them, and this registry "
                "outlived it. Recreate the table, or drop it from the registry with drop_table().",
                location,
            ) from e
        except (ValidationError, ValueError, UnicodeDecodeError) as e:
            raise InvalidMetadataError(
                f"table {identifier}: {location} is not a readable Iceberg metadata file ({type(e).__name__}: {e})"
            ) from e
        self._remember(location, metadata)
        return metadata

    @override
    def write_metadata_file(self, metadata: TableMetadata, io: FileIO, metadata_path: str) -> None:
        write_table_metadata(metadata, io.new_output(metadata_path))
        self._remember(metadata_path, metadata)
        written = getattr(self._commit_state, "written", None)
        if written is not None:
            written.append((io, metadata_path))

    # ---- tables --------------------------------------------------------------
    def _split(self, identifier: str | Identifier) -> tuple[Identifier, str, str]:
        ns_tuple = Catalog.namespace_from(identifier)
        return (
            (*ns_tuple, Catalog.table_name_from(identifier)),
            Catalog.namespace_to_string(ns_tuple),
            Catalog.table_name_from(identifier),
        )

    @override
    def load_table(self, identifier: str | Identifier) -> Table:
        ident, namespace, table_name = self._split(identifier)
        location = registry.metadata_location(self.engine, self.name, namespace, table_name, table_type_filter(self))
        if location is None:
            raise NoSuchTableError(f"Table does not exist: {namespace}.{table_name}")
        if not location:
            raise NoSuchTableError(f"Table property metadata_location is missing: {namespace}.{table_name}")
        metadata = self._read_metadata(f"{namespace}.{table_name}", location)
        return new_table(
            identifier=ident,
            metadata=metadata,
            metadata_location=location,
            io=load_file_io({**self.properties, **metadata.properties}, location),
            catalog=self,
        )

    @override
    def create_table(
        self,
        identifier: str | Identifier,
        schema: Schema | pa.Schema,
        location: str | None = None,
        partition_spec: PartitionSpec = UNPARTITIONED_PARTITION_SPEC,
        sort_order: SortOrder = UNSORTED_SORT_ORDER,
        properties: Properties = EMPTY_DICT,
    ) -> Table:
        format_version = int(properties.get(TableProperties.FORMAT_VERSION, TableProperties.DEFAULT_FORMAT_VERSION))
        iceberg_schema = to_iceberg_schema(schema, format_version)  # a bad schema is reported first, as SqlCatalog does
        _check_table_identifier(identifier)
        if self.table_exists(identifier):  # before pyiceberg writes a metadata file the registry would refuse
            _, namespace, table_name = self._split(identifier)
            raise TableAlreadyExistsError(f"Table {namespace}.{table_name} already exists")
        written: list[tuple[FileIO, str]] = []
        self._commit_state.written = written
        try:
            return super().create_table(identifier, iceberg_schema, location, partition_spec, sort_order, properties)
        except BaseException:
            # A lost race or a registry fault: free the metadata file unless the registry took it.
            registered = self._registered_location(identifier)
            for io, path in written:
                if path != registered:
                    delete_quietly(io, path)
            raise
        finally:
            self._commit_state.written = None

    def _registered_location(self, identifier: str | Identifier) -> str | None:
        _, namespace, table_name = self._split(identifier)
        try:
            return registry.metadata_location(self.engine, self.name, namespace, table_name, table_type_filter(self))
        except Exception:  # the registry itself failing: nothing it holds can be known
            logger.debug("reading the registry after a failed create_table failed", exc_info=True)
            return None

    @override
    def create_namespace(self, namespace: str | Identifier, properties: Properties = EMPTY_DICT) -> None:
        _check_namespace(namespace)
        super().create_namespace(namespace, properties)

    @override
    def rename_table(self, from_identifier: str | Identifier, to_identifier: str | Identifier) -> Table:
        _check_table_identifier(to_identifier)
        return super().rename_table(from_identifier, to_identifier)

    @override
    def register_table(self, identifier: str | Identifier, metadata_location: str, overwrite: bool = False) -> Table:
        # Parse first: a metadata file that cannot be read must not leave a registry row behind.
        _check_table_identifier(identifier)
        ns = Catalog.namespace_to_string(Catalog.namespace_from(identifier))
        name = Catalog.table_name_from(identifier)
        self._read_metadata(f"{ns}.{name}", metadata_location)
        return super().register_table(identifier, metadata_location, overwrite)

    @override
    def commit_table(
        self, table: Table, requirements: tuple[TableRequirement, ...], updates: tuple[TableUpdate, ...]
    ) -> CommitTableResponse:
        written: list[tuple[FileIO, str]] = []
        self._commit_state.written = written
        try:
            response = super().commit_table(table, requirements, updates)
        except BaseException:
            # The registry did not take the new metadata file (a lost race, a registry fault): free it.
            for io, path in written:
                delete_quietly(io, path)
            raise
        finally:
            self._commit_state.written = None
        base = table.metadata
        if property_as_bool(response.metadata.properties, TableProperties.METADATA_DELETE_AFTER_COMMIT_ENABLED, True):
            keep = {log.metadata_file for log in response.metadata.metadata_log} | {response.metadata_location}
            old = {log.metadata_file for log in base.metadata_log} | (
                {table.metadata_location} if table.metadata_location else set()
            )
            if TableProperties.METADATA_DELETE_AFTER_COMMIT_ENABLED in response.metadata.properties:
                # Set explicitly, the property makes pyiceberg's Table delete the log entries that
                # dropped out itself after this returns (Catalog._delete_old_metadata); deleting them
                # here too would make it log "Failed to delete metadata file" for each.
                old -= {log.metadata_file for log in base.metadata_log}
            for path in old - keep:
                delete_quietly(table.io, path)
        return response

    @override
    def purge_table(self, identifier: str | Identifier) -> None:
        table = self.load_table(identifier)
        super().purge_table(identifier)
        location = table.metadata.location
        if is_pool_url(location) and not self._locations_in_use(location):
            pool, key = locate(location)
            if pool.is_dir(key):
                pool.remove_tree(key)

    def _locations_in_use(self, location: str) -> bool:
        start = location.rstrip("/") + "/"
        tables = registry.all_tables(self.engine, self.name, table_type_filter(self))
        return any((loc or "").startswith(start) for _, _, loc in tables)

    # ---- views (memcatalog.views: rows with iceberg_type VIEW, the JDBC catalog's layout) ----
    @override
    def create_view(
        self,
        identifier: str | Identifier,
        schema: Schema | pa.Schema,
        view_version: ViewVersion,
        location: str | None = None,
        properties: Properties = EMPTY_DICT,
    ) -> View:
        iceberg_schema = to_iceberg_schema(schema)
        return views.create_view(self, identifier, iceberg_schema, view_version, location, properties)

    @override
    def load_view(self, identifier: str | Identifier) -> View:
        return views.load_view(self, identifier)

    @override
    def list_views(self, namespace: str | Identifier) -> list[Identifier]:
        return views.list_views(self, namespace)

    @override
    def view_exists(self, identifier: str | Identifier) -> bool:
        return views.view_exists(self, identifier)

    @override
    def drop_view(self, identifier: str | Identifier) -> None:
        views.drop_view(self, identifier)

    @override
    def register_view(self, identifier: str | Identifier, metadata_location: str) -> View:
        return views.register_view(self, identifier, metadata_location)

    def rename_view(self, from_identifier: str | Identifier, to_identifier: str | Identifier) -> View:
        """Move a view to another name or namespace."""
        return views.rename_view(self, from_identifier, to_identifier)

    @override
    def drop_namespace(self, namespace: str | Identifier) -> None:
        if self.namespace_exists(namespace) and views.list_views(self, namespace):
            raise NamespaceNotEmptyError(
                f"Namespace {Catalog.namespace_to_string(Catalog.identifier_to_tuple(namespace))} is not empty"
            )
        super().drop_namespace(namespace)

    # ---- memory management ---------------------------------------------------
    def _live_tables(self) -> list[Table]:
        out = []
        for ns, name, _ in registry.all_tables(self.engine, self.name, table_type_filter(self)):
            try:
                out.append(self.load_table((*Catalog.identifier_to_tuple(ns), name)))
            except (NoSuchTableError, FileNotFoundError):
                continue
        return out

    def usage(self) -> list[TableUsage]:
        """Pool bytes and files under each table's location, from the pool's own accounting."""
        result = []
        for table in self._live_tables():
            location = table.metadata.location
            if not is_pool_url(location):
                continue
            pool, key = locate(location)
            size, files = pool.usage(key)
            result.append(TableUsage(table.name(), location, size, files))
        return sorted(result, key=lambda u: u.identifier)

    def namespace_usage(self) -> dict[str, Usage]:
        """Bytes and files per namespace, summed over its tables (each unpacks as ``(bytes, files)``)."""
        totals: dict[str, Usage] = {}
        for u in self.usage():
            ns = ".".join(u.identifier[:-1])
            b, f = totals.get(ns, Usage(0, 0))
            totals[ns] = Usage(b + u.bytes, f + u.files)
        return totals

    def reclaim(
        self, older_than: datetime | None = None, retain_last: int | None = None, min_age: timedelta | None = None
    ) -> maintenance.ReclaimResult:
        """Expire old snapshots, then delete every pool file under the warehouse that no live table references.

        Args:
            older_than: expire snapshots committed before this time (never the current one, nor a branch or tag head).
            retain_last: keep at least this many of the newest snapshots of each table.
            min_age: spare unreferenced files younger than this.

        Files that a transaction has written but not yet committed look unreferenced: run
        ``reclaim`` when no write to this catalog is in flight, or give ``min_age`` longer
        than any commit takes.
        """
        result = maintenance.ReclaimResult()
        if older_than is not None or retain_last is not None:
            for table in self._live_tables():
                ids = maintenance.snapshots_to_expire(table, older_than, retain_last)
                if ids:
                    table.maintenance.expire_snapshots().by_ids(ids).commit()
                    result.snapshots_expired += len(ids)
        written_before = datetime.now(timezone.utc) - min_age if min_age is not None else None
        self._delete_unreferenced(result, written_before)
        return result

    def _delete_unreferenced(self, result: maintenance.ReclaimResult, written_before: datetime | None = None) -> None:
        referenced: set[str] = set()
        for table in self._live_tables():
            referenced |= maintenance.referenced_files(table)
        for key, url, entry in self._unreferenced(referenced):
            if written_before is not None and entry.created >= written_before:
                continue
            pool, _ = locate(url)
            try:
                result.bytes_freed += pool.remove(key)
            except FileNotFoundError:
                continue
            result.files_deleted += 1
            result.deleted.append(url)

    def _reclaim_on_full(self, shortfall: int) -> int:
        """Pool reliever (``reclaim-on-quota``): delete unreferenced files older than the grace period."""
        grace = float(self.properties.get(config.RECLAIM_GRACE_SECONDS, config.DEFAULT_RECLAIM_GRACE_SECONDS))
        result = maintenance.ReclaimResult()
        self._delete_unreferenced(result, written_before=datetime.now(timezone.utc) - timedelta(seconds=grace))
        if result.files_deleted:
            logger.warning(
                "pool %r was full: reclaim-on-quota freed %d bytes in %d unreferenced files",
                self.pool.name,
                result.bytes_freed,
                result.files_deleted,
            )
        return result.bytes_freed

    def check(self, allow_unreferenced: bool = False) -> list[str]:
        """Audit the catalog against its pool; returns one line per finding (empty when healthy). Never raises."""
        findings = list(self.pool.check())
        referenced: set[str] = set()
        try:
            tables = registry.all_tables(self.engine, self.name, table_type_filter(self))
        except Exception as e:  # an unreachable registry is a finding; without it nothing else can be judged
            url = self.engine.url.render_as_string(hide_password=True)
            findings.append(f"registry {url} cannot be read ({type(e).__name__}: {_first_line(e)})")
            return findings
        for ns, name, loc in tables:
            try:
                table = self.load_table((*Catalog.identifier_to_tuple(ns), name))
                files = maintenance.referenced_files(table)
            except Exception as e:  # an audit reports, it does not raise
                findings.append(f"table {ns}.{name}: cannot be read ({type(e).__name__}: {e}) [{loc}]")
                continue
            referenced |= files
            for path in sorted(files):
                if is_pool_url(path) and not _exists(table.io, path):
                    findings.append(f"table {ns}.{name}: references {path}, which is not in the pool")
        if not allow_unreferenced:
            try:
                unreferenced = self._unreferenced(referenced)
            except Exception as e:
                findings.append(f"warehouse {self.warehouse} cannot be listed ({type(e).__name__}: {_first_line(e)})")
                unreferenced = []
            for _, url, entry in sorted(unreferenced, key=lambda found: found[0]):
                findings.append(f"unreferenced file {url} ({entry.size} bytes)")
        return findings

    def load_file_io_for(self, location: str) -> FileIO:
        """The FileIO this catalog uses for ``location``."""
        return load_file_io(properties=self.properties, location=location)

    def _unreferenced(self, referenced: set[str]) -> list[tuple[str, str, FileEntry]]:
        """(key, url, entry) of every file this catalog owns in the pool that ``referenced`` does not name.

        A catalog owns the files under its memcat:// warehouse, except those under another live
        catalog's warehouse nested in it; a warehouse elsewhere (file://) owns no pool file.
        """
        if not is_pool_url(self.warehouse):
            return []
        # A view's current metadata file is live too; s3:// paths of served buckets name pool files.
        referenced = {buckets.canonical(p) for p in referenced | views.metadata_files(self)}
        pool, key = locate(self.warehouse, create=True)
        others = [w for w in _warehouses_of(pool.name) if w != key and (not key or w.startswith(key + "/"))]
        found = []
        for file_key in pool.keys(key):
            url = urls.build(pool.name, file_key)
            entry = pool.entry(file_key)
            if url in referenced or entry is None or any(file_key.startswith(w + "/") for w in others):
                continue
            found.append((file_key, url, entry))
        return found

    def writer(self, identifier: str | Identifier, **options: Any) -> TableWriter:
        """A validating, bounded-memory writer for one table; see :class:`memcatalog.writer.TableWriter`."""
        from memcatalog.writer import TableWriter

        return TableWriter(self.load_table(identifier), **options)
