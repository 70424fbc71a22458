"""MemCatalog: pyiceberg's SQL catalog, with its data in a memcat:// pool."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from pyiceberg.catalog import Catalog
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import (
    CommitFailedException,
    CommitStateUnknownException,
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
from pyiceberg.table.update import AddSnapshotUpdate, SetPropertiesUpdate, TableRequirement, TableUpdate
from pyiceberg.typedef import EMPTY_DICT, Identifier, Properties
from pyiceberg.types import strtobool
from pyiceberg.utils.properties import property_as_bool
from pyiceberg.view import View
from pyiceberg.view.metadata import ViewVersion
from sqlalchemy.exc import IntegrityError
from typing_extensions import override

from memcatalog import config, leases, maintenance, ownership, registry, urls, views
from memcatalog.errors import (
    DataNotInMemoryError,
    EmptyNamespaceError,
    InvalidMetadataError,
    QuotaConflictError,
)
from memcatalog.fileio import delete_quietly
from memcatalog.maintenance import TableUsage
from memcatalog.names import check_identifier
from memcatalog.ownership import PoolFile
from memcatalog.pool import Pool, Usage, find_pool, get_pool
from memcatalog.pyiceberg_internals import (
    CatalogFileIOKeys,
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


@dataclass
class _Commit:
    landed: str | None = None  # the new metadata location, when an error hid a commit that landed


def known_failure(e: BaseException) -> bool:
    """Whether a failed commit surely did not land: the registry rejected it (compare-and-swap, constraint)."""
    if isinstance(e, (CommitFailedException, TableAlreadyExistsError, NoSuchTableError)):
        return True
    while e is not None:
        if isinstance(e, IntegrityError):
            return True
        e = e.__cause__  # type: ignore[assignment]
    return False


def _attach_pool(name: str, pool_name: str, quota: str | None) -> Pool:
    """The pool of a new catalog. A quota that differs from the one live catalogs already use is an error."""
    existing = find_pool(pool_name)
    if existing is None or quota is None:
        return get_pool(pool_name, quota=quota)
    wanted = config.parse_size(quota)
    users = ownership.catalogs_on_pool(existing)
    if wanted != existing.quota and users:
        raise QuotaConflictError(
            f"catalog {name!r}: pool {pool_name!r} is already in use by catalog {users[0].name!r} with quota "
            f"{config.format_size(existing.quota)}, and this catalog asks for {config.format_size(wanted)}. "
            f"Leave 'quota' out to share the pool as it is, change it for everyone with "
            f"catalog.pool.set_quota({quota!r}), or give this catalog its own 'pool'"
        )
    existing.set_quota(wanted)
    return existing


def _pool_file(url: str) -> PoolFile | None:
    pool = maintenance.location_pool(url)
    if pool is None:
        return None
    key = ownership.split(url)[1]
    entry = pool.entry(key)
    return PoolFile(pool, key, entry) if entry is not None else None


def _remove_empty_dirs(pool: Pool, key: str) -> None:
    """Remove ``key`` and the directories below it that hold no file, deepest first."""
    if not key or not pool.is_dir(key):
        return
    for child in pool.listdir(key):
        if pool.is_dir(child):
            _remove_empty_dirs(pool, child)
    if not pool.listdir(key):
        pool.rmdir(key)


class MemCatalog(FlatCommits, MetadataWriteHook, CatalogFileIOKeys, SqlCatalog):
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

    catalog_only_io_properties = (ownership.OWNER,)  # a table property never replaces the files' owner

    def __init__(self, name: str, **properties: str) -> None:
        props: dict[str, str] = {**pyiceberg_config(name), **{k: str(v) for k, v in properties.items()}}
        pool_name = props.get(config.POOL, name)
        default_warehouse = urls.build(pool_name, "" if pool_name == name else name)
        props.setdefault(config.WAREHOUSE, default_warehouse)
        props.setdefault(config.URI, config.DEFAULT_URI)
        props.setdefault(config.PY_IO_IMPL, config.FILE_IO_IMPL)
        self.pool: Pool = _attach_pool(name, pool_name, props.get(config.QUOTA))
        self._shared_registry = registry.is_memory_sqlite(props[config.URI])
        pool = self.pool

        def engine(p: Properties) -> Engine:
            if not self._shared_registry:
                return _registry_engine(p)
            # The same name on the same pool is the same catalog: attach to its registry, as reconnecting would.
            return registry.shared_memory_engine(pool, f"{name}\x00{p[config.URI]}", lambda: _registry_engine(p))[0]

        init_sql_catalog(self, name, props, engine)
        self.owner: str = registry.catalog_id(self.engine, name)
        self.properties[ownership.OWNER] = self.owner  # every FileIO of this catalog records it on the files it writes
        if strtobool(str(props.get(config.RECLAIM_ON_QUOTA, config.DEFAULT_RECLAIM_ON_QUOTA))):
            self.pool.on_full(self._reclaim_on_full)
        ownership.attach(self)
        self._cache: OrderedDict[str, TableMetadata] = OrderedDict()
        self._cache_size = int(props.get(config.METADATA_CACHE_SIZE, config.DEFAULT_METADATA_CACHE_SIZE))
        self._cache_lock = threading.Lock()
        self._commit_state = threading.local()

    def __repr__(self) -> str:
        return f"MemCatalog({self.name!r}, pool={self.pool!r})"

    @property
    def warehouse(self) -> str:
        return str(self.properties[config.WAREHOUSE])

    @override
    def close(self) -> None:
        """Release the registry's connections.

        An in-memory registry stays: it belongs to the pool, where other MemCatalog objects of
        this name find it (``memcatalog.drop_pool`` ends both).
        """
        if not self._shared_registry:
            super().close()

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
        lease: leases.Lease | None = getattr(self._commit_state, "lease", None)
        if lease is not None and is_pool_url(metadata_path):
            lease.pin(*ownership.split(metadata_path))  # pinned before it exists
        written = getattr(self._commit_state, "written", None)
        if written is not None:
            written.append((io, metadata_path))
        write_table_metadata(metadata, io.new_output(metadata_path))
        self._remember(metadata_path, metadata)

    @contextmanager
    def _committing(self, what: str, namespace: str, table: str) -> Iterator[_Commit]:
        """Around one registry commit: pins the metadata files written for it; frees them only when it surely failed.

        A failure before the registry was sent COMMIT, or one the registry reports as a rejection
        (a lost compare-and-swap, a constraint), is a known failure: the files written for the
        commit are deleted. A failure after COMMIT was sent may hide a commit that landed (a
        connection dropped after the server committed): the registry is read again, as Iceberg's
        Java catalogs do. Pointing at the new metadata, the commit landed (the error is logged and
        swallowed, ``landed`` says where); still at the old, it failed (cleanup). When the registry
        cannot tell, nothing is deleted and pyiceberg's ``CommitStateUnknownException`` is raised.
        """
        written: list[tuple[FileIO, str]] = []
        state = _Commit()
        with leases.holding(self.owner) as lease:
            saved = getattr(self._commit_state, "written", None), getattr(self._commit_state, "lease", None)
            self._commit_state.written, self._commit_state.lease = written, lease
            sent_before = registry.commits_sent()
            try:
                yield state
            except BaseException as e:
                if registry.commits_sent() > sent_before and not known_failure(e):
                    landed = self._landed(namespace, table, written) if isinstance(e, Exception) else None
                    if landed is None:
                        if isinstance(e, Exception):
                            raise CommitStateUnknownException(
                                f"{what}: the registry was sent COMMIT and then failed ({type(e).__name__}: "
                                f"{maintenance.first_line(e)}), and cannot say whether it took it; nothing was deleted. Reload "
                                "the table to see which snapshot is current; reclaim() frees the new files if it "
                                "did not land"
                            ) from e
                        raise
                    if landed:
                        logger.warning("%s: the registry took the commit although it reported %r", what, e)
                        state.landed = written[-1][1]
                        return
                for io, path in written:
                    delete_quietly(io, path)
                raise
            finally:
                self._commit_state.written, self._commit_state.lease = saved

    def _landed(self, namespace: str, table: str, written: list[tuple[FileIO, str]]) -> bool | None:
        """Whether the registry now points at the metadata file this commit wrote; None when it cannot be read."""
        if not written:
            return False
        try:
            current = registry.metadata_location(self.engine, self.name, namespace, table, table_type_filter(self))
        except Exception:
            return None
        return current == written[-1][1]

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
            io=load_file_io({**self.properties, **metadata.properties, ownership.OWNER: self.owner}, location),
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
        ownership.check_table_properties(
            properties, f"create table {'.'.join(Catalog.identifier_to_tuple(identifier))}"
        )
        if self.table_exists(identifier):  # before pyiceberg writes a metadata file the registry would refuse
            _, namespace, table_name = self._split(identifier)
            raise TableAlreadyExistsError(f"Table {namespace}.{table_name} already exists")
        _, namespace, table_name = self._split(identifier)
        with self._committing(f"create table {namespace}.{table_name}", namespace, table_name):
            return super().create_table(identifier, iceberg_schema, location, partition_spec, sort_order, properties)
        return self.load_table(identifier)  # an error hid that the registry took it

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
        ownership.check_table_properties(
            self._read_metadata(f"{ns}.{name}", metadata_location).properties, f"register table {ns}.{name}"
        )
        table = super().register_table(identifier, metadata_location, overwrite)
        # Files written through this catalog's FileIO for it (an import) are referenced now: their writes are over.
        # Only then are the table's files read: a registered table may point at files this process cannot
        # reach (another store, or none at all), and registering never reads them, as in SqlCatalog.
        if any(lease.ttl is not None and lease.owner == self.owner for lease in leases.active()):
            try:
                paths = maintenance.referenced_files(table)
            except OSError:
                paths = set()
            for path in paths:
                lease = leases.find(leases.write_id_of(path))
                if lease is not None and lease.ttl is not None and lease.owner == self.owner:
                    lease.release()
        return table

    @override
    def commit_table(
        self, table: Table, requirements: tuple[TableRequirement, ...], updates: tuple[TableUpdate, ...]
    ) -> CommitTableResponse:
        identifier = table.name()
        namespace = Catalog.namespace_to_string(Catalog.namespace_from(identifier))
        name = Catalog.table_name_from(identifier)
        for update in updates:
            if isinstance(update, SetPropertiesUpdate):
                ownership.check_table_properties(update.updates, f"commit to table {namespace}.{name}")
        response: CommitTableResponse | None = None
        try:
            with self._committing(f"commit to table {namespace}.{name}", namespace, name) as state:
                response = super().commit_table(table, requirements, updates)
        except (CommitFailedException, CommitStateUnknownException):
            raise  # pyiceberg retries a lost race with the same data files; an unknown outcome deletes nothing
        except BaseException:
            self._writes_failed(updates)  # surely failed, and not retried: free its files now
            raise
        if response is None:  # an error hid a commit that landed
            assert state.landed is not None
            response = CommitTableResponse(
                metadata=self._read_metadata(f"{namespace}.{name}", state.landed), metadata_location=state.landed
            )
        self._writes_committed(updates, response.metadata_location)
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

    def _writes_committed(self, updates: tuple[TableUpdate, ...], metadata_location: str) -> None:
        """A commit of ``updates`` landed (``commit_table`` or a REST transaction): settle the writes it ends.

        The pyiceberg writes whose snapshots it adds are over (their files are ordinary
        files again, see memcatalog.leases), and the files of those snapshots that a client
        wrote with no owner (through S3) become this catalog's.
        """
        for lease in self._snapshot_writes(updates):
            lease.release()
        self._adopt(updates, metadata_location)

    def _writes_failed(self, updates: tuple[TableUpdate, ...]) -> None:
        """A commit of ``updates`` surely failed and will not be retried: delete the files of its writes now."""
        for lease in self._snapshot_writes(updates):
            lease.fail()

    def _adopt(self, updates: tuple[TableUpdate, ...], metadata_location: str) -> None:
        """Files of a committed snapshot that a client wrote without an owner (S3) become this catalog's."""
        snapshots = [
            u.snapshot for u in updates if isinstance(u, AddSnapshotUpdate) and is_pool_url(u.snapshot.manifest_list)
        ]
        if snapshots:
            io = self.load_file_io_for(metadata_location)
            for snapshot in snapshots:
                ownership.adopt_snapshot_files(self.owner, snapshot, io)

    def _snapshot_writes(self, updates: tuple[TableUpdate, ...]) -> list[leases.Lease]:
        """The implicit leases of pyiceberg's writes that produced the snapshots ``updates`` add."""
        found = []
        for update in updates:
            if isinstance(update, AddSnapshotUpdate):
                lease = leases.find(leases.write_id_of(update.snapshot.manifest_list))
                if lease is not None and lease.owner == self.owner:
                    found.append(lease)
        return found

    @override
    def purge_table(self, identifier: str | Identifier) -> None:
        """Drop the table and delete its files: those this catalog owns that no live table references.

        Files of another catalog, of no known owner, or still referenced (by another table
        sharing them) stay. Files outside the pools (``file://``) are deleted as pyiceberg does,
        except those another table of this catalog references.

        Raises:
            NoSuchTableError: no such table.
        """
        table = self.load_table(identifier)
        files = maintenance.referenced_files(table)
        self.drop_table(identifier)
        candidates: dict[str, PoolFile] = {}
        others = [f for f in files if not is_pool_url(f)]
        for url in (f for f in files if is_pool_url(f)):
            found = _pool_file(url)
            if found is not None and found.entry.owner == self.owner:
                candidates[found.url] = found
        location = table.metadata.location
        if is_pool_url(location) and (pool := maintenance.location_pool(location)) is not None:
            key = ownership.split(location)[1]
            for key_, entry in pool.owned_by(self.owner):
                if key_.startswith(key.rstrip("/") + "/"):
                    candidates.setdefault(urls.build(pool.name, key_), PoolFile(pool, key_, entry))
        for f in ownership.unreferenced(self, candidates.values()):
            f.pool.remove_if(f.key, f.entry)
        if others:
            still = self._referenced()
            for path in others:
                if path not in still:
                    delete_quietly(table.io, path)
        if is_pool_url(location) and (pool := maintenance.location_pool(location)) is not None:
            _remove_empty_dirs(pool, ownership.split(location)[1])

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
        return maintenance.usage(self)

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
        """Expire old snapshots, then delete the pool files this catalog owns that nothing needs any more.

        Args:
            older_than: expire snapshots committed before this time (never the current one, nor a branch or tag head).
            retain_last: keep at least this many of the newest snapshots of each table.
            min_age: also spare unreferenced files younger than this.

        A file is deleted only when this catalog owns it (it wrote or imported it), no write in
        flight pins it (``TableWriter``, a pyiceberg append or commit under way) and no live table
        of any catalog in this process references it. Files of other catalogs and of no known
        owner are never touched; ``check()`` reports the latter.
        """
        return maintenance.reclaim(self, older_than=older_than, retain_last=retain_last, min_age=min_age)

    def _referenced(self) -> set[str]:
        """Every file this catalog's live tables and views reference (errors propagate: never guess)."""
        return maintenance.referenced(self)

    def _reclaim_on_full(self, shortfall: int) -> int:
        """Pool reliever (``reclaim-on-quota``); a bound method, so the pool holds it weakly."""
        return maintenance.reclaim_on_full(self, shortfall)

    def check(self, allow_unreferenced: bool = False) -> list[str]:
        """Audit the catalog against its pool; returns one line per finding (empty when healthy). Never raises.

        Findings: pool accounting, tables that cannot be read, referenced files missing from
        the pool, and (unless ``allow_unreferenced``) files this catalog owns that nothing
        references and no write in flight pins, and files under its warehouse whose owner is
        unknown (nothing deletes those on its own).
        """
        return maintenance.check(self, allow_unreferenced=allow_unreferenced)

    def load_file_io_for(self, location: str) -> FileIO:
        """The FileIO this catalog uses for ``location``."""
        return load_file_io(properties=self.properties, location=location)

    def writer(self, identifier: str | Identifier, **options: Any) -> TableWriter:
        """A validating, bounded-memory writer for one table; see :class:`memcatalog.writer.TableWriter`."""
        from memcatalog.writer import TableWriter

        return TableWriter(self.load_table(identifier), **options)
