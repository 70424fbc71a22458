"""Commits through REST: one table through ``MemCatalog.commit_table``, several tables all or none.

A single-table commit (``updateTable``, or a transaction with one change, which
is every DuckDB write) goes through ``MemCatalog.commit_table``: the catalog's
one compare-and-swap path. A transaction over several tables applies every
change's updates, writes every new metadata file, then moves every registry
pointer in one SQL transaction: one lost compare-and-swap and none moves.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pyiceberg.exceptions import (
    CommitFailedException,
    CommitStateUnknownException,
    NoSuchNamespaceError,
    NoSuchTableError,
)
from pyiceberg.io import FileIO
from pyiceberg.serializers import ToOutputFile
from pyiceberg.table import CommitTableResponse, Table, TableProperties
from pyiceberg.table.locations import load_location_provider
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.table.update import AssertCreate, SetPropertiesUpdate, TableRequirement, TableUpdate
from pyiceberg.typedef import Identifier
from pyiceberg.utils.properties import property_as_bool

from memcatalog import leases, ownership, registry
from memcatalog.catalog import MemCatalog, known_failure
from memcatalog.fileio import delete_quietly
from memcatalog.names import check_identifier
from memcatalog.pyiceberg_internals import apply_updates, empty_table_metadata, table_row, table_type_filter
from memcatalog.rest.errors import RestRequestError

logger = logging.getLogger("memcatalog.rest")


@dataclass(frozen=True)
class Change:
    identifier: Identifier
    requirements: tuple[TableRequirement, ...]
    updates: tuple[TableUpdate, ...]


def _creates(requirements: tuple[TableRequirement, ...]) -> bool:
    return any(isinstance(r, AssertCreate) for r in requirements)


def _current(catalog: MemCatalog, change: Change) -> Table | None:
    """The table as it is now, or None when the change creates it (``assert-create``)."""
    try:
        return catalog.load_table(change.identifier)
    except NoSuchTableError:
        if not _creates(change.requirements):
            raise
    namespace = change.identifier[:-1]
    check_identifier(namespace, "namespace")
    check_identifier(change.identifier[-1:], "table name")
    if not catalog.namespace_exists(namespace):
        raise NoSuchNamespaceError(f"Namespace does not exist: {'.'.join(namespace)}") from None
    return None


def commit_table(catalog: MemCatalog, change: Change) -> CommitTableResponse:
    """One table's commit; a table that does not exist is created when the change asserts its creation."""
    table = _current(catalog, change)
    if table is None:  # nothing to compare against: the catalog's commit inserts the row (a lost race is a 409)
        placeholder = empty_table_metadata()
        table = Table(change.identifier, placeholder, "", catalog.load_file_io_for(catalog.warehouse), catalog)
    return catalog.commit_table(table, change.requirements, change.updates)


def _metadata_version(location: str) -> int:
    name = location.rsplit("/", 1)[-1]
    head = name.split("-", 1)[0]
    return int(head) if head.isdigit() else -1


@dataclass
class _Staged:
    change: Change
    current: Table | None
    metadata: TableMetadata
    location: str
    io: FileIO


def _stage(catalog: MemCatalog, change: Change) -> _Staged | None:
    for update in change.updates:
        if isinstance(update, SetPropertiesUpdate):
            ownership.check_table_properties(update.updates, f"transaction on {'.'.join(change.identifier)}")
    current = _current(catalog, change)
    for requirement in change.requirements:
        requirement.validate(current.metadata if current else None)
    metadata = apply_updates(  # pyiceberg's update_table_metadata without its whole-history deep copy
        current.metadata if current else empty_table_metadata(),
        change.updates,
        enforce_validation=current is None,
        metadata_location=current.metadata_location if current else None,
    )
    if current is not None and metadata == current.metadata:
        return None
    version = _metadata_version(current.metadata_location) + 1 if current else 0
    location = load_location_provider(metadata.location, metadata.properties).new_table_metadata_file_location(version)
    return _Staged(change, current, metadata, location, catalog.load_file_io_for(location))


def commit_transaction(catalog: MemCatalog, changes: list[Change]) -> None:
    """Apply every change or none (``commitTransaction``).

    Raises:
        CommitFailedException: a requirement failed or another writer got in first; nothing changed.
    """
    seen = [c.identifier for c in changes]
    duplicates = sorted({".".join(i) for i in seen if seen.count(i) > 1})
    if duplicates:
        raise RestRequestError(f"a transaction may change each table once; repeated: {', '.join(duplicates)}")
    if len(changes) == 1:
        commit_table(catalog, changes[0])
        return
    written: list[tuple[FileIO, str]] = []
    staged: list[_Staged] = []
    sent_before = registry.commits_sent()
    try:
        with leases.holding(catalog.owner):  # its metadata files stay pinned until the pointers move
            for change in changes:
                step = _stage(catalog, change)
                if step is None:
                    continue
                ToOutputFile.table_metadata(step.metadata, step.io.new_output(step.location))
                written.append((step.io, step.location))
                staged.append(step)
            swaps, inserts = [], []
            for step in staged:
                namespace, name = ".".join(step.change.identifier[:-1]), step.change.identifier[-1]
                if step.current is None:
                    inserts.append(table_row(catalog, namespace, name, step.location))
                else:
                    swaps.append((namespace, name, str(step.current.metadata_location), step.location))
            lost = registry.swap_locations(catalog.engine, catalog.name, swaps, inserts)
            if lost is not None:
                raise CommitFailedException(
                    f"Table has been updated by another process: {lost}; nothing in this transaction was committed "
                    "(retry it)"
                )
    except CommitFailedException:  # the client may retry with the same data files: they stay pinned
        _delete_all(written)
        raise
    except BaseException as e:
        landed: bool | None = False
        if registry.commits_sent() > sent_before and not known_failure(e):
            landed = _landed(catalog, staged) if isinstance(e, Exception) else None
            if landed is None and not isinstance(e, Exception):
                raise  # interrupted after COMMIT: delete nothing
            if landed is None:  # the registry was sent COMMIT and cannot say: delete nothing
                raise CommitStateUnknownException(
                    f"transaction on {', '.join('.'.join(c.identifier) for c in changes)}: the registry was sent "
                    f"COMMIT and then failed ({type(e).__name__}: {e}), and cannot say whether it took it; nothing "
                    "was deleted. Load the tables to see which metadata is current; reclaim() frees the new files "
                    "if it did not land"
                ) from e
        if not landed:
            _delete_all(written)
            for change in changes:  # surely failed: the files of the writes it would have committed go now
                catalog._writes_failed(change.updates)
            raise
        logger.warning("transaction: the registry took the commit although it reported %r", e)
    for step in staged:
        catalog._writes_committed(step.change.updates, step.location)
    for step in staged:
        if step.current is not None:
            _delete_expired_metadata(step.current, step.metadata, step.location)


def _landed(catalog: MemCatalog, staged: list[_Staged]) -> bool | None:
    """Whether every staged table now points at its new metadata (True), none does (False), or unknown (None)."""
    try:
        found = [
            registry.metadata_location(
                catalog.engine,
                catalog.name,
                ".".join(step.change.identifier[:-1]),
                step.change.identifier[-1],
                table_type_filter(catalog),
            )
            for step in staged
        ]
    except Exception:
        return None
    if staged and all(location == step.location for location, step in zip(found, staged, strict=True)):
        return True
    if all(location != step.location for location, step in zip(found, staged, strict=True)):
        return False
    return None  # some moved and some did not: one SQL transaction cannot do that; trust nothing


def _delete_all(written: list[tuple[FileIO, str]]) -> None:
    for io, path in written:
        delete_quietly(io, path)


def _delete_expired_metadata(base: Table, metadata: TableMetadata, location: str) -> None:
    """Old metadata files that fell out of the metadata log (``write.metadata.delete-after-commit.enabled``)."""
    if not property_as_bool(metadata.properties, TableProperties.METADATA_DELETE_AFTER_COMMIT_ENABLED, True):
        return
    keep = {log.metadata_file for log in metadata.metadata_log} | {location}
    old = {log.metadata_file for log in base.metadata.metadata_log} | {base.metadata_location}
    for path in old - keep:
        delete_quietly(base.io, path)
