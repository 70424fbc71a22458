"""The one place memcatalog uses pyiceberg's private API.

pyiceberg's public API does not cover everything memcatalog needs. Every use of a
private name (an underscore attribute, function or module-level helper) lives in
this module, each with the reason it exists, so that:

- ``tests/test_pyiceberg_contract.py`` can check, against the installed pyiceberg,
  every assumption made here, and fail loudly when a release changes one;
- each section checks its own contract once, at import time, and falls back to
  pyiceberg's own public (slower, correct) path when it does not hold, logging
  one warning that names what changed.

The module is organised in self-contained sections, one per concern (several
branches add to this file); add new wrappers in a new section rather than inside
an existing one.
"""

from __future__ import annotations

import itertools
import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pyiceberg.catalog import Catalog, MetastoreCatalog
from pyiceberg.io import FileIO, OutputFile
from pyiceberg.manifest import (
    DATA_FILE_TYPE,
    DEFAULT_READ_VERSION,
    MANIFEST_LIST_FILE_SCHEMAS,
    DataFile,
    ManifestContent,
    ManifestFile,
    ManifestWriter,
    ManifestWriterV2,
)
from pyiceberg.partitioning import UNPARTITIONED_PARTITION_SPEC, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.serializers import ToOutputFile
from pyiceberg.table import CreateTableTransaction, StagedTable, Table, Transaction
from pyiceberg.table.locations import load_location_provider
from pyiceberg.table.maintenance import MaintenanceTable
from pyiceberg.table.metadata import TableMetadata, TableMetadataUtil
from pyiceberg.table.snapshots import Snapshot
from pyiceberg.table.sorting import UNSORTED_SORT_ORDER, SortOrder
from pyiceberg.table.update import TableRequirement, TableUpdate, update_table_metadata
from pyiceberg.typedef import EMPTY_DICT, Identifier, Properties
from pyiceberg.utils.datetime import datetime_to_millis
from typing_extensions import override

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.catalog.sql import SqlCatalog
    from pyiceberg.table.update.schema import UpdateSchema
    from pyiceberg.table.update.snapshot import ExpireSnapshots, ManageSnapshots
    from pyiceberg.table.update.sorting import UpdateSortOrder
    from pyiceberg.table.update.spec import UpdateSpec
    from pyiceberg.table.update.statistics import UpdateStatistics
    from sqlalchemy import ColumnElement, Engine

logger = logging.getLogger("memcatalog.pyiceberg_internals")


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


def table_type_filter(catalog: SqlCatalog) -> ColumnElement[bool] | None:
    """SqlCatalog's WHERE clause that keeps views (iceberg_type VIEW) out of table lookups, or None on v0 schemas.

    Why: views share ``iceberg_tables`` with tables (the JDBC catalog's layout).
    """
    found: ColumnElement[bool] | None = catalog._iceberg_type_filter()
    return found


def schema_version(catalog: SqlCatalog) -> str:
    """``"v1"`` when the registry has the ``iceberg_type`` column (views can be stored), else ``"v0"``.

    Why: views need the column; a v0 registry (written by an old pyiceberg) cannot hold them.
    """
    return str(catalog._schema_version)


# ===================================================================================== end of the REST server


# =====================================================================================
# Section: flat-cost metadata updates (issue 18)
#
# pyiceberg 0.12's ``Transaction.table_metadata`` replays every staged update on the
# table's metadata and ends with ``model_copy(deep=True)`` of the whole result,
# snapshot list included, on every read; one ``table.append`` reads it about 18
# times, so a small append costs O(snapshots) (upstream: apache/iceberg-python
# issue 2673, PR 3784). The catalog side, ``MetastoreCatalog._update_and_stage_table``
# -> ``update_table_metadata``, ends with the same deep copy once per commit.
#
# The models are frozen pydantic models and pyiceberg never mutates a TableMetadata
# in place after validation, so the copy protects nothing that is not already
# shared: MemCatalog's metadata cache hands the same object to every loaded table.
# This section applies each update once, with pyiceberg's own per-update functions,
# and shares the unchanged parts structurally instead of copying them.
#
# Private names used, and why:
# - ``pyiceberg.table.update._apply_table_update``: pyiceberg's function applying ONE
#   update (the body of update_table_metadata's loop). Reusing it keeps every rule
#   (validation, errors, ids, timestamps) pyiceberg's own.
# - ``pyiceberg.table.update._TableMetadataUpdateContext``: the record of updates
#   applied so far that ``_apply_table_update`` consults (``-1`` "last added" ids,
#   ``is_added_snapshot``); kept alive across staged updates.
# - ``pyiceberg.table.update._update_table_metadata_log``: the metadata-log step of
#   update_table_metadata when the catalog commits (write.metadata.previous-versions-max).
# - ``Transaction._table`` and ``Transaction._updates``: the table a transaction was
#   opened on and the tuple of updates staged so far; pyiceberg rebinds
#   ``_updates`` (it is a tuple) at every change, which is how a change is noticed.
# - ``MetastoreCatalog._update_and_stage_table``: the step of SqlCatalog.commit_table
#   that applies a commit's updates to the current metadata; MemCatalog overrides it
#   (``FlatCommits``), using ``_empty_table_metadata``, ``_parse_metadata_version`` and
#   ``_load_file_io`` exactly as pyiceberg's own version does.
# - ``MetastoreCatalog._create_staged_table``: builds the StagedTable of
#   ``create_table_transaction``; its result is re-wrapped as a FlatStagedTable.
# =====================================================================================

try:  # the private names; their absence is a contract failure, not an import error
    from pyiceberg.table.update import (
        _apply_table_update,
        _TableMetadataUpdateContext,
        _update_table_metadata_log,
    )
except ImportError as e:  # pragma: no cover - exercised only by a changed pyiceberg
    _apply_table_update = None  # type: ignore[assignment]
    _TableMetadataUpdateContext = None  # type: ignore[assignment,misc]
    _update_table_metadata_log = None  # type: ignore[assignment]
    _IMPORT_PROBLEM: str | None = f"pyiceberg.table.update no longer has {e.name or e}"
else:
    _IMPORT_PROBLEM = None


def _finish(base: TableMetadata, applied: TableMetadata, changed: bool) -> TableMetadata:
    """The tail of ``update_table_metadata`` without its deep copy: timestamp and compatibility checks."""
    if changed and base.last_updated_ms == applied.last_updated_ms:
        applied = applied.model_copy(update={"last_updated_ms": datetime_to_millis(datetime.now().astimezone())})
    applied.spec().check_compatible(applied.schema())
    applied.sort_order().check_compatible(applied.schema())
    return applied


def apply_updates(
    base: TableMetadata,
    updates: tuple[TableUpdate, ...],
    enforce_validation: bool = False,
    metadata_location: str | None = None,
) -> TableMetadata:
    """``update_table_metadata`` with the unchanged parts of ``base`` shared instead of deep-copied.

    Same arguments, same result, same errors as pyiceberg's function; falls back to it
    when the contract checked at import does not hold.
    """
    if not FLAT_UPDATES.holds:
        return update_table_metadata(base, updates, enforce_validation, metadata_location)
    context = _TableMetadataUpdateContext()
    applied = base
    for update in updates:
        applied = _apply_table_update(update, applied, context)
    if context.has_changes() and metadata_location:
        applied = _update_table_metadata_log(applied, metadata_location, base.last_updated_ms)
    result = _finish(base, applied, context.has_changes())
    if enforce_validation:
        return TableMetadataUtil.parse_obj(result.model_dump())
    return result


@dataclass
class _Applied:
    """What a FlatTransaction has applied so far: the updates, on which base, with which context."""

    base: TableMetadata
    updates: tuple[TableUpdate, ...] = ()
    metadata: TableMetadata | None = None
    context: _TableMetadataUpdateContext = field(default_factory=lambda: _TableMetadataUpdateContext())


class FlatTransaction(Transaction):
    """A Transaction whose ``table_metadata`` costs O(new updates), not O(table history).

    It keeps the metadata with every staged update applied, and applies only the
    updates staged since the last read. Anything that rebinds the staged updates to a
    tuple that does not extend the applied one (a retry dropping its snapshot updates,
    the end of a commit), or a change of the table's metadata (a refresh, a commit),
    starts again from the table's metadata: the result is always what pyiceberg's own
    property computes, without its deep copy.
    """

    _flat_applied: _Applied | None = None

    @property
    @override
    def table_metadata(self) -> TableMetadata:
        if not FLAT_UPDATES.holds:
            return super().table_metadata
        base = self._table.metadata
        updates = self._updates
        state = self._flat_applied
        if state is None or state.base is not base or not _extends(updates, state.updates):
            state = _Applied(base=base)
        applied = state.metadata if state.metadata is not None else base
        try:
            for update in updates[len(state.updates) :]:
                applied = _apply_table_update(update, applied, state.context)
        except BaseException:
            self._flat_applied = None  # the next read replays from the start and raises again, like pyiceberg
            raise
        state.updates, state.metadata = updates, applied
        self._flat_applied = state
        return _finish(base, applied, state.context.has_changes())


def _extends(updates: tuple[TableUpdate, ...], prefix: tuple[TableUpdate, ...]) -> bool:
    if updates is prefix:
        return True
    return len(updates) >= len(prefix) and all(a is b for a, b in zip(updates, prefix, strict=False))


class FlatCreateTableTransaction(CreateTableTransaction, FlatTransaction):
    """pyiceberg's CreateTableTransaction with FlatTransaction's ``table_metadata``."""


class _FlatMaintenance(MaintenanceTable):
    @override
    def expire_snapshots(self) -> ExpireSnapshots:
        from pyiceberg.table.update.snapshot import ExpireSnapshots

        return ExpireSnapshots(transaction=FlatTransaction(self.tbl, autocommit=True))


class FlatTable(Table):
    """A pyiceberg Table whose every transaction is a FlatTransaction.

    pyiceberg's Table opens ``Transaction(self, autocommit=True)`` directly in its
    shorthand builders; each is overridden here to open a FlatTransaction instead,
    with the same arguments as pyiceberg's.
    """

    @override
    def transaction(self) -> Transaction:
        return FlatTransaction(self)

    @property
    @override
    def maintenance(self) -> MaintenanceTable:
        return _FlatMaintenance(self)

    @override
    def manage_snapshots(self) -> ManageSnapshots:
        from pyiceberg.table.update.snapshot import ManageSnapshots

        return ManageSnapshots(transaction=FlatTransaction(self, autocommit=True))

    @override
    def update_statistics(self) -> UpdateStatistics:
        from pyiceberg.table.update.statistics import UpdateStatistics

        return UpdateStatistics(transaction=FlatTransaction(self, autocommit=True))

    @override
    def update_schema(self, allow_incompatible_changes: bool = False, case_sensitive: bool = True) -> UpdateSchema:
        from pyiceberg.table.update.schema import UpdateSchema

        return UpdateSchema(
            transaction=FlatTransaction(self, autocommit=True),
            allow_incompatible_changes=allow_incompatible_changes,
            case_sensitive=case_sensitive,
            name_mapping=self.name_mapping(),
        )

    @override
    def update_sort_order(self, case_sensitive: bool = True) -> UpdateSortOrder:
        from pyiceberg.table.update.sorting import UpdateSortOrder

        return UpdateSortOrder(transaction=FlatTransaction(self, autocommit=True), case_sensitive=case_sensitive)

    @override
    def update_spec(self, case_sensitive: bool = True) -> UpdateSpec:
        from pyiceberg.table.update.spec import UpdateSpec

        return UpdateSpec(FlatTransaction(self, autocommit=True), case_sensitive=case_sensitive)


class FlatStagedTable(FlatTable, StagedTable):
    """pyiceberg's StagedTable (a table being created) with FlatTable's transactions."""


def new_table(
    identifier: tuple[str, ...], metadata: TableMetadata, metadata_location: str, io: FileIO, catalog: Catalog
) -> Table:
    """The Table MemCatalog hands out: a FlatTable, or pyiceberg's own Table when the contract does not hold."""
    cls = FlatTable if FLAT_UPDATES.holds else Table
    return cls(identifier=identifier, metadata=metadata, metadata_location=metadata_location, io=io, catalog=catalog)


class FlatCommits(MetastoreCatalog):
    """Mixin for a MetastoreCatalog (MemCatalog): flat-cost commits and create-table transactions.

    ``_update_and_stage_table`` is the step of ``SqlCatalog.commit_table`` that checks a
    commit's requirements, applies its updates to the current metadata and names the
    next metadata file; here it applies them with :func:`apply_updates`. Everything
    that commits through the catalog (tables, the writer, a REST server calling
    ``commit_table``) goes through it.
    """

    @override
    def _update_and_stage_table(
        self,
        current_table: Table | None,
        table_identifier: Identifier,
        requirements: tuple[TableRequirement, ...],
        updates: tuple[TableUpdate, ...],
    ) -> StagedTable:
        if not FLAT_UPDATES.holds:
            return super()._update_and_stage_table(current_table, table_identifier, requirements, updates)
        for requirement in requirements:
            requirement.validate(current_table.metadata if current_table else None)
        metadata = apply_updates(
            base=current_table.metadata if current_table else self._empty_table_metadata(),
            updates=updates,
            enforce_validation=current_table is None,
            metadata_location=current_table.metadata_location if current_table else None,
        )
        version = self._parse_metadata_version(current_table.metadata_location) + 1 if current_table else 0
        provider = load_location_provider(metadata.location, metadata.properties)
        location = provider.new_table_metadata_file_location(version)
        return StagedTable(
            identifier=table_identifier,
            metadata=metadata,
            metadata_location=location,
            io=self._load_file_io(properties=metadata.properties, location=location),
            catalog=self,
        )

    @override
    def create_table_transaction(
        self,
        identifier: str | Identifier,
        schema: Schema | pa.Schema,
        location: str | None = None,
        partition_spec: PartitionSpec = UNPARTITIONED_PARTITION_SPEC,
        sort_order: SortOrder = UNSORTED_SORT_ORDER,
        properties: Properties = EMPTY_DICT,
    ) -> CreateTableTransaction:
        staged = self._create_staged_table(identifier, schema, location, partition_spec, sort_order, properties)
        if not FLAT_UPDATES.holds:
            return CreateTableTransaction(staged)
        flat = FlatStagedTable(
            identifier=staged.name(),
            metadata=staged.metadata,
            metadata_location=staged.metadata_location,
            io=staged.io,
            catalog=self,
        )
        return FlatCreateTableTransaction(flat)


@dataclass
class Contract:
    """Whether one section's assumptions about pyiceberg hold, and if not, which one broke."""

    name: str
    problem: str | None = None

    @property
    def holds(self) -> bool:
        return self.problem is None


def first_broken(checks: list[tuple[str, Callable[[], bool]]]) -> str | None:
    """The first contract in ``checks`` that no longer holds, as a message; None when all hold.

    A check that raises counts as broken: a pyiceberg release that moved a name fails the same way.
    """
    for what, check in checks:
        try:
            if not check():
                return f"pyiceberg changed: {what} no longer holds"
        except Exception as e:
            return f"pyiceberg changed: checking '{what}' raised {type(e).__name__}: {e}"
    return None


def check_flat_updates() -> str | None:
    """Check every assumption of the flat-updates section; returns the first broken one, or None."""
    import inspect

    from pyiceberg.catalog import MetastoreCatalog
    from pyiceberg.catalog.sql import SqlCatalog

    if _IMPORT_PROBLEM:
        return _IMPORT_PROBLEM
    checks: list[tuple[str, Callable[[], bool]]] = [
        (
            "update_table_metadata(base_metadata, updates, enforce_validation, metadata_location)",
            lambda: (
                list(inspect.signature(update_table_metadata).parameters)
                == ["base_metadata", "updates", "enforce_validation", "metadata_location"]
            ),
        ),
        (
            "Transaction.table_metadata is a property",
            lambda: isinstance(inspect.getattr_static(Transaction, "table_metadata"), property),
        ),
        (
            "MetastoreCatalog._update_and_stage_table(current_table, table_identifier, requirements, updates)",
            lambda: (
                list(inspect.signature(MetastoreCatalog._update_and_stage_table).parameters)
                == ["self", "current_table", "table_identifier", "requirements", "updates"]
            ),
        ),
        (
            "SqlCatalog.commit_table calls self._update_and_stage_table",
            lambda: "self._update_and_stage_table(" in inspect.getsource(SqlCatalog.commit_table),
        ),
        ("MetastoreCatalog._parse_metadata_version", lambda: callable(MetastoreCatalog._parse_metadata_version)),
        ("MetastoreCatalog._empty_table_metadata", lambda: callable(MetastoreCatalog._empty_table_metadata)),
        ("MetastoreCatalog._load_file_io", lambda: callable(MetastoreCatalog._load_file_io)),
        (
            "MetastoreCatalog._create_staged_table(identifier, schema, location, partition_spec, sort_order, properties)",
            lambda: (
                list(inspect.signature(MetastoreCatalog._create_staged_table).parameters)
                == ["self", "identifier", "schema", "location", "partition_spec", "sort_order", "properties"]
            ),
        ),
        ("Transaction(table) keeps _table and _updates", _transaction_keeps_table_and_updates),
        ("applying updates one by one gives update_table_metadata's result", _same_result_as_pyiceberg),
    ]
    return first_broken(checks)


def _probe_metadata() -> TableMetadata:
    from pyiceberg.partitioning import UNPARTITIONED_PARTITION_SPEC
    from pyiceberg.schema import Schema
    from pyiceberg.table.metadata import new_table_metadata
    from pyiceberg.table.sorting import UNSORTED_SORT_ORDER
    from pyiceberg.types import LongType, NestedField

    schema = Schema(NestedField(1, "id", LongType(), required=False))
    return new_table_metadata(schema, UNPARTITIONED_PARTITION_SPEC, UNSORTED_SORT_ORDER, "memory://probe", {})


def _probe_updates() -> tuple[TableUpdate, ...]:
    from pyiceberg.schema import Schema
    from pyiceberg.table.update import AddSchemaUpdate, SetCurrentSchemaUpdate, SetPropertiesUpdate
    from pyiceberg.types import LongType, NestedField, StringType

    schema = Schema(
        NestedField(1, "id", LongType(), required=False), NestedField(2, "s", StringType(), required=False), schema_id=1
    )
    return (
        SetPropertiesUpdate(updates={"probe": "1"}),
        AddSchemaUpdate(schema=schema),
        SetCurrentSchemaUpdate.model_validate({"schema-id": -1}),
    )


def _comparable(metadata: TableMetadata) -> dict[str, Any]:
    return metadata.model_dump(exclude={"last_updated_ms"})


def _same_result_as_pyiceberg() -> bool:
    base, updates = _probe_metadata(), _probe_updates()
    theirs = update_table_metadata(base, updates, metadata_location="memory://probe/metadata/00000.json")
    context = _TableMetadataUpdateContext()
    ours = base
    for update in updates:
        ours = _apply_table_update(update, ours, context)
    ours = _update_table_metadata_log(ours, "memory://probe/metadata/00000.json", base.last_updated_ms)
    return _comparable(ours) == _comparable(theirs) and context.has_changes()


def _transaction_keeps_table_and_updates() -> bool:
    from pyiceberg.catalog.noop import NoopCatalog
    from pyiceberg.io.pyarrow import PyArrowFileIO

    table = Table(("probe", "t"), _probe_metadata(), "memory://probe/m.json", PyArrowFileIO(), NoopCatalog("probe"))
    tx = Transaction(table)
    before = tx._updates
    tx._stage(_probe_updates()[:1])
    return tx._table is table and isinstance(tx._updates, tuple) and tx._updates is not before and len(tx._updates) == 1


FLAT_UPDATES = Contract("flat-cost metadata updates")
FLAT_UPDATES.problem = check_flat_updates()
if FLAT_UPDATES.problem:  # pragma: no cover - exercised only by a changed pyiceberg
    logger.warning(
        "memcatalog: %s; table commits fall back to pyiceberg's own path (correct, but each commit costs "
        "more as the table's history grows). Upgrade memcatalog, or pin pyiceberg to a tested release.",
        FLAT_UPDATES.problem,
    )

# ===================================================================================== end of flat-cost updates


# =====================================================================================
# Section: metadata JSON with each snapshot serialised once (issue 18)
#
# Every commit writes the whole metadata file, and pyiceberg's Snapshot summaries
# serialise through a Python-level model_serializer, so a metadata file with 1,000
# snapshots costs milliseconds of Python per commit. A snapshot object never changes,
# and flat commits share the unchanged ones between consecutive metadata versions, so
# each snapshot's JSON is kept (keyed by the object itself) and the file is assembled
# from the JSON of everything else plus the kept pieces. The bytes are those of
# ``ToOutputFile.table_metadata``; the contract below checks exactly that.
#
# No private name is used; the assumptions are about output: that
# ``TableMetadata.model_dump_json`` writes snapshots as one top-level ``"snapshots"``
# list whose elements are each ``Snapshot.model_dump_json`` with the same options, and
# that ``ToOutputFile.table_metadata`` writes ``model_dump_json(exclude_none=...)``
# through ``Compressor`` (serializers.py).
# =====================================================================================

_SNAPSHOTS_KEY = '"snapshots":[]'
_SNAPSHOT_LOG_KEY = '"snapshot-log":[]'
_SNAPSHOT_JSON_MAX = 20_000  # snapshots and snapshot-log entries whose JSON is kept, process-wide (~1 KiB each)
_snapshot_json: OrderedDict[tuple[int, bool], tuple[Any, str]] = OrderedDict()
_snapshot_json_lock = threading.Lock()


def _snapshots_json(snapshots: list[Any], exclude_none: bool) -> str:
    """The JSON of each snapshot (or snapshot-log entry), comma-separated; each serialised once while kept."""
    cache = _snapshot_json
    pieces = []
    with _snapshot_json_lock:
        for snapshot in snapshots:
            key = (id(snapshot), exclude_none)  # the entry holds the object, so its id cannot be reused meanwhile
            found = cache.get(key)
            if found is None or found[0] is not snapshot:
                found = (snapshot, snapshot.model_dump_json(exclude_none=exclude_none))
                cache[key] = found
            else:
                cache.move_to_end(key)
            pieces.append(found[1])
        while len(cache) > _SNAPSHOT_JSON_MAX:
            cache.popitem(last=False)
    return ",".join(pieces)


# The joined JSON of recent snapshot (and snapshot-log) lists, by their last element: a commit that
# adds to the end of the list (an append, an overwrite) extends its parent's string instead of
# joining every piece again. (list, exclude_none, joined); the entry holds the list, so ids stay valid.
_JOINED_MAX = 128
_joined: OrderedDict[int, tuple[list[Any], bool, str]] = OrderedDict()


def _all_snapshots_json(snapshots: list[Any], exclude_none: bool) -> str:
    """:func:`_snapshots_json` of the whole list, extending a kept prefix's when the list extends one."""
    found = None
    with _snapshot_json_lock:
        for back in (1, 2, 3):  # an append adds one snapshot; a commit rarely adds more than a few
            if len(snapshots) > back:
                entry = _joined.get(id(snapshots[-back - 1]))
                if entry is not None and entry[1] == exclude_none and len(entry[0]) == len(snapshots) - back:
                    found = entry
                    break
    if found is not None and snapshots[: len(found[0])] == found[0]:  # identical objects: C-speed compare
        joined = f"{found[2]},{_snapshots_json(snapshots[len(found[0]) :], exclude_none)}"
    else:
        joined = _snapshots_json(snapshots, exclude_none)
    with _snapshot_json_lock:
        _joined[id(snapshots[-1])] = (snapshots, exclude_none, joined)
        _joined.move_to_end(id(snapshots[-1]))
        while len(_joined) > _JOINED_MAX:
            _joined.popitem(last=False)
    return joined


def table_metadata_json(metadata: TableMetadata, exclude_none: bool = True) -> str:
    """``metadata.model_dump_json(exclude_none=...)``, with each snapshot serialised once per process."""
    if not METADATA_JSON.holds or not metadata.snapshots:
        return metadata.model_dump_json(exclude_none=exclude_none)
    rest = metadata.model_copy(update={"snapshots": [], "snapshot_log": []}).model_dump_json(exclude_none=exclude_none)
    if rest.count(_SNAPSHOTS_KEY) != 1 or rest.count(_SNAPSHOT_LOG_KEY) != 1:  # a look-alike: the plain path
        return metadata.model_dump_json(exclude_none=exclude_none)
    pieces = _all_snapshots_json(metadata.snapshots, exclude_none)
    log = _all_snapshots_json(metadata.snapshot_log, exclude_none) if metadata.snapshot_log else ""
    # the log first: its entries (ids and times) cannot hold the snapshots' key, a snapshot's summary could
    return rest.replace(_SNAPSHOT_LOG_KEY, f'"snapshot-log":[{log}]', 1).replace(
        _SNAPSHOTS_KEY, f'"snapshots":[{pieces}]', 1
    )


def write_table_metadata(metadata: TableMetadata, output_file: OutputFile) -> None:
    """What ``ToOutputFile.table_metadata(metadata, output_file)`` writes, assembled by :func:`table_metadata_json`."""
    if not METADATA_JSON.holds:
        ToOutputFile.table_metadata(metadata, output_file)
        return
    from pyiceberg.serializers import Compressor
    from pyiceberg.utils.config import Config

    exclude_none = not Config().get_bool("legacy-current-snapshot-id")
    data = table_metadata_json(metadata, exclude_none).encode("utf-8")
    data = Compressor.get_compressor(output_file.location).bytes_compressor()(data)
    with output_file.create(overwrite=False) as stream:
        stream.write(data)


def check_metadata_json() -> str | None:
    """Check this section's assumptions; returns the first broken one, or None."""
    import inspect

    try:
        source = inspect.getsource(ToOutputFile.table_metadata)
        if "model_dump_json(exclude_none=exclude_none)" not in source or "Compressor.get_compressor" not in source:
            return "pyiceberg changed: ToOutputFile.table_metadata no longer writes model_dump_json through Compressor"
        from pyiceberg.table.snapshots import Operation, Summary

        base = _probe_metadata()
        snapshots = [
            Snapshot.model_validate(
                {
                    "snapshot-id": i,
                    "parent-snapshot-id": i - 1 if i > 1 else None,
                    "sequence-number": i,
                    "timestamp-ms": 1_700_000_000_000 + i,
                    "manifest-list": f"memory://probe/metadata/snap-{i}.avro",
                    "summary": Summary(operation=Operation.APPEND, **{"added-records": str(i)}),
                    "schema-id": 0,
                }
            )
            for i in (1, 2)
        ]
        from pyiceberg.table.snapshots import SnapshotLogEntry

        log = [
            SnapshotLogEntry.model_validate({"snapshot-id": s.snapshot_id, "timestamp-ms": s.timestamp_ms})
            for s in snapshots
        ]
        metadata = base.model_copy(update={"snapshots": snapshots, "current_snapshot_id": 2, "snapshot_log": log})
        for exclude_none in (True, False):
            theirs = metadata.model_dump_json(exclude_none=exclude_none)
            rest = metadata.model_copy(update={"snapshots": [], "snapshot_log": []}).model_dump_json(
                exclude_none=exclude_none
            )
            pieces = ",".join(s.model_dump_json(exclude_none=exclude_none) for s in snapshots)
            log_pieces = ",".join(e.model_dump_json(exclude_none=exclude_none) for e in log)
            spliced = rest.replace(_SNAPSHOT_LOG_KEY, f'"snapshot-log":[{log_pieces}]', 1)
            if spliced.replace(_SNAPSHOTS_KEY, f'"snapshots":[{pieces}]', 1) != theirs:
                return "pyiceberg changed: metadata JSON is no longer its snapshots' JSON spliced into the rest"
    except Exception as e:
        return f"pyiceberg changed: checking the metadata JSON layout raised {type(e).__name__}: {e}"
    return None


METADATA_JSON = Contract("metadata JSON with cached snapshots")
METADATA_JSON.problem = check_metadata_json()
if METADATA_JSON.problem:  # pragma: no cover - exercised only by a changed pyiceberg
    logger.warning("memcatalog: %s; metadata files are written by pyiceberg's own serializer.", METADATA_JSON.problem)

# ===================================================================================== end of metadata JSON


# =====================================================================================
# Section: manifest lists that reuse their parent's encoding (issue 18)
#
# pyiceberg's fast append (the default) adds one manifest per commit and writes a new
# manifest list naming every live manifest, after reading the parent's list back: on
# an append-only table with 1,000 snapshots that is 1,000 entries decoded and 1,000
# encoded by pyiceberg's pure-Python Avro code per commit (~15 ms), the one cost of a
# small append that still grew with the table after the flat commits.
#
# The entries a child list inherits are byte-identical to the parent's, so for memcat://
# files only (immutable, in this process, checked by identity below):
# - reading a manifest list returns the decoded ManifestFile tuple kept for that
#   location, as long as the stored file is the very one the tuple describes (the
#   pool's FileEntry object, immutable, replaced on any rewrite); any other file, or a
#   file written by another tool, is read by pyiceberg's own ``_manifests``;
# - writing a manifest list whose tail is exactly its parent's manifests (a fast append)
#   writes the new entries' block, encoded by pyiceberg's own resolved Avro writer and
#   compressed by pyiceberg's own codec class, followed by the parent's blocks copied
#   verbatim (the child takes the parent's sync marker, so the blocks are valid in it).
#   Leading blocks are merged while the first is not smaller than the second (a binary
#   counter), so a list of N entries has at most log2(N)+1 blocks and each entry is
#   recompressed O(log N) times over its life. Any other list (overwrite, delete, a
#   merged append, a first append) is one block, its inherited entries' encodings taken
#   from a memo of encoded entries by object, the rest encoded by pyiceberg: the layout
#   pyiceberg writes. The new entries' ManifestFile objects are decoded from their own
#   bytes by pyiceberg's resolved Avro reader, so the kept tuple is what reading the
#   file back gives (the contract test decodes files with pyiceberg and compares).
#
# Private names used, and why:
# - ``pyiceberg.manifest._manifests`` (bound into ``pyiceberg.table.snapshots``, used by
#   ``Snapshot.manifests``): the read being cached; rebound in that module, and called
#   for everything not cached.
# - ``pyiceberg.manifest._manifest_cache.get_or_cache``: pyiceberg's per-path cache of
#   ManifestFile objects, applied to new entries as ``_manifests`` applies it.
# - ``pyiceberg.table.update.snapshot.write_manifest_list`` (imported there from
#   pyiceberg.manifest): rebound in that module to return the writer below for memcat://
#   outputs of format 1 and 2, pyiceberg's own writer for everything else.
# - ``ManifestListWriter._writer`` / ``_meta`` / ``_format_version``, and the
#   AvroOutputFile attributes ``writer``, ``encoder``, ``output_stream``, ``sync_bytes``,
#   ``compression_codec()``: the writer below is a subclass of pyiceberg's V1/V2 writer
#   and uses its header and codec; only how blocks are produced differs.
# =====================================================================================

import io as _io  # noqa: E402 - this section's imports, kept with it
import weakref  # noqa: E402

import pyiceberg.manifest as _pyiceberg_manifest  # noqa: E402
import pyiceberg.table.snapshots as _pyiceberg_snapshots  # noqa: E402
import pyiceberg.table.update.snapshot as _pyiceberg_snapshot_update  # noqa: E402
from pyiceberg.avro.decoder import new_decoder  # noqa: E402
from pyiceberg.avro.encoder import BinaryEncoder  # noqa: E402
from pyiceberg.avro.file import AvroOutputFile  # noqa: E402
from pyiceberg.avro.reader import Reader  # noqa: E402
from pyiceberg.avro.resolver import resolve_reader  # noqa: E402
from pyiceberg.manifest import (  # noqa: E402
    UNASSIGNED_SEQ,
    ManifestListWriter,
    ManifestListWriterV1,
    ManifestListWriterV2,
    PartitionFieldSummary,
)

from memcatalog.fileio import MemFileIO, MemOutputFile, is_memcat, locate  # noqa: E402
from memcatalog.pool import FileEntry  # noqa: E402

_PYICEBERG_MANIFESTS: Callable[[FileIO, str], tuple[ManifestFile, ...]] = _pyiceberg_manifest._manifests
_PYICEBERG_WRITE_MANIFEST_LIST: Callable[..., ManifestListWriter] = _pyiceberg_manifest.write_manifest_list

_LISTS_MAX = 256  # manifest lists kept (their tuples and blocks are shared between parent and child)
_ENCODED_MAX = 50_000  # encoded entries kept by object (~300 bytes each)
_TAIL_CANDIDATES = 4  # lists kept per last manifest as parents to extend


@dataclass(frozen=True)
class _Block:
    """One Avro data block: its records' encoding, and the block as stored (count, size, content, sync)."""

    count: int
    raw: bytes
    stored: bytes


@dataclass(frozen=True)
class _KnownList:
    """A stored manifest list: the decoded tuple ``_manifests`` returns for it, and (if written here) its blocks."""

    entry: weakref.ref[FileEntry]
    manifests: tuple[ManifestFile, ...]
    format_version: int = 0  # 0: read, not written here; it cannot be extended
    codec: str = ""
    sync: bytes = b""
    blocks: tuple[_Block, ...] = ()


class _ManifestListCache:
    """The known lists by location, the last known list ending in each object, and encoded entries by object."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.lists: OrderedDict[str, _KnownList] = OrderedDict()
        # id(last manifest) -> the newest written lists ending in it (every list of an append-only
        # chain ends in the table's first manifest; a few candidates serve branches appended in turn)
        self.by_tail: dict[int, list[_KnownList]] = {}
        self.encoded: OrderedDict[int, tuple[ManifestFile, int, bytes]] = OrderedDict()  # id -> (obj, version, raw)

    def clear(self) -> None:
        with self.lock:
            self.lists.clear()
            self.by_tail.clear()
            self.encoded.clear()

    def get(self, location: str, entry: FileEntry) -> _KnownList | None:
        with self.lock:
            known = self.lists.get(location)
            if known is None or known.entry() is not entry:
                return None
            self.lists.move_to_end(location)
            return known

    def put(self, location: str, known: _KnownList) -> None:
        with self.lock:
            self.lists[location] = known
            self.lists.move_to_end(location)
            if known.blocks and known.manifests:
                candidates = self.by_tail.setdefault(id(known.manifests[-1]), [])
                candidates.insert(0, known)
                del candidates[_TAIL_CANDIDATES:]
            while len(self.lists) > _LISTS_MAX:
                _, old = self.lists.popitem(last=False)
                tail = id(old.manifests[-1]) if old.manifests else None
                if tail is not None and tail in self.by_tail:
                    kept = [c for c in self.by_tail[tail] if c is not old]
                    if kept:
                        self.by_tail[tail] = kept
                    else:
                        del self.by_tail[tail]

    def parent_of(self, manifests: list[ManifestFile], format_version: int, codec: str) -> _KnownList | None:
        """The newest written list that ``manifests`` ends with (same format and codec), if any."""
        if not manifests:
            return None
        with self.lock:
            candidates = list(self.by_tail.get(id(manifests[-1]), ()))
        for known in candidates:
            head = len(manifests) - len(known.manifests)
            if (
                head >= 0
                and known.format_version == format_version
                and known.codec == codec
                and all(a is b for a, b in zip(manifests[head:], known.manifests, strict=True))
            ):
                return known
        return None

    def encoding(self, manifest: ManifestFile, format_version: int) -> bytes | None:
        with self.lock:
            found = self.encoded.get(id(manifest))
        if found is None or found[0] is not manifest or found[1] != format_version:
            return None
        return found[2]

    def remember(self, pairs: list[tuple[ManifestFile, bytes]], format_version: int) -> None:
        with self.lock:
            for manifest, raw in pairs:
                self.encoded[id(manifest)] = (manifest, format_version, raw)
                self.encoded.move_to_end(id(manifest))
            while len(self.encoded) > _ENCODED_MAX:
                self.encoded.popitem(last=False)


_manifest_lists = _ManifestListCache()


def clear_manifest_list_cache() -> None:
    """Forget every kept manifest list and encoded entry (the next commit of each table encodes its list once)."""
    _manifest_lists.clear()


def _stored(location: str) -> FileEntry | None:
    try:
        pool, key = locate(location)
    except (FileNotFoundError, ValueError):
        return None
    return pool.entry(key)


def cached_manifests(io: FileIO, manifest_list: str) -> tuple[ManifestFile, ...]:
    """``pyiceberg.manifest._manifests(io, manifest_list)``, from the kept tuple when the stored file is the one it describes."""
    if not MANIFEST_LISTS.holds or not isinstance(io, MemFileIO) or not is_memcat(manifest_list):
        return _PYICEBERG_MANIFESTS(io, manifest_list)
    entry = _stored(manifest_list)
    if entry is not None and (known := _manifest_lists.get(manifest_list, entry)) is not None:
        return known.manifests
    manifests = _PYICEBERG_MANIFESTS(io, manifest_list)
    if entry is not None and _stored(manifest_list) is entry:  # unchanged while it was read
        _manifest_lists.put(manifest_list, _KnownList(weakref.ref(entry), manifests))
    return manifests


_readers: dict[int, Reader] = {}


def _reader(format_version: int) -> Reader:
    """pyiceberg's resolved reader for one manifest-list record (as ``read_manifest_list`` resolves it)."""
    reader = _readers.get(format_version)
    if reader is None:
        reader = _readers[format_version] = resolve_reader(
            MANIFEST_LIST_FILE_SCHEMAS[format_version],
            MANIFEST_LIST_FILE_SCHEMAS[DEFAULT_READ_VERSION],
            read_types={-1: ManifestFile, 508: PartitionFieldSummary},
            read_enums={517: ManifestContent},
        )
    return reader


def _varint(value: int) -> bytes:
    out = _io.BytesIO()
    BinaryEncoder(out).write_int(value)
    return out.getvalue()


class _ReusingManifestListWriter(ManifestListWriter):
    """pyiceberg's manifest-list writer (V1 or V2 by the concrete class), producing blocks as described above."""

    _avro: AvroOutputFile[ManifestFile] | None = None
    _blocks_written: int = 0
    _new_blocks: list[_Block]
    _decoded: list[ManifestFile]
    _reused: _KnownList | None = None

    @override
    def __enter__(self) -> ManifestListWriter:
        # the header is written at the first block: a reused parent's sync marker goes in it
        self._writer = AvroOutputFile[ManifestFile](
            output_file=self._output_file,
            record_schema=MANIFEST_LIST_FILE_SCHEMAS[DEFAULT_READ_VERSION],
            file_schema=MANIFEST_LIST_FILE_SCHEMAS[self._format_version],
            schema_name="manifest_file",
            metadata=self._meta,
        )
        self._new_blocks, self._decoded = [], []
        return self

    @override
    def __exit__(self, exc_type: Any, exc_value: Any, traceback: Any) -> None:
        if self._avro is None:
            if exc_type is not None:
                return  # nothing was written: leave no file behind
            self._open(None)
        assert self._avro is not None
        self._avro.__exit__(exc_type, exc_value, traceback)
        if exc_type is None and self._blocks_written == 1:
            self._remember()

    def _open(self, sync: bytes | None) -> AvroOutputFile[ManifestFile]:
        if sync is not None:
            self._writer.sync_bytes = sync
        self._writer.__enter__()
        self._avro = self._writer
        return self._avro

    def _unchanged_by_prepare(self, manifest: ManifestFile) -> bool:
        """Whether ``prepare_manifest`` would write ``manifest`` as it is (no sequence number to assign)."""
        if self._format_version == 1:
            return manifest.content == ManifestContent.DATA
        return manifest.sequence_number != UNASSIGNED_SEQ and manifest.min_sequence_number != UNASSIGNED_SEQ

    def _encode(self, manifests: list[ManifestFile]) -> list[tuple[ManifestFile, bytes]]:
        """Each manifest as pyiceberg writes it, with the object reading those bytes back gives."""
        writer, reader = self._writer.writer, _reader(self._format_version)
        out = []
        for manifest in manifests:
            raw = _manifest_lists.encoding(manifest, self._format_version)
            if raw is not None and self._unchanged_by_prepare(manifest):
                out.append((manifest, raw))
                continue
            buffer = _io.BytesIO()
            writer.write(BinaryEncoder(buffer), self.prepare_manifest(manifest))
            raw = buffer.getvalue()
            decoded = _pyiceberg_manifest._manifest_cache.get_or_cache(reader.read(new_decoder(raw)))
            out.append((decoded, raw))
        return out

    def _block(self, raw: bytes, count: int, sync: bytes) -> _Block:
        codec = self._writer.compression_codec()
        content = codec.compress(raw)[0] if codec else raw
        return _Block(count, raw, b"".join((_varint(count), _varint(len(content)), content, sync)))

    @override
    def add_manifests(self, manifest_files: list[ManifestFile]) -> ManifestListWriter:
        codec = self._meta.get("avro.codec", "")
        parent = _manifest_lists.parent_of(manifest_files, self._format_version, codec) if self._avro is None else None
        if parent is not None:
            head = len(manifest_files) - len(parent.manifests)
            pairs = self._encode(manifest_files[:head])
            blocks = list(parent.blocks)
            if pairs:
                blocks.insert(0, self._block(b"".join(raw for _, raw in pairs), len(pairs), parent.sync))
            while len(blocks) >= 2 and blocks[0].count >= blocks[1].count:
                first, second = blocks[0], blocks[1]
                blocks[0:2] = [self._block(first.raw + second.raw, first.count + second.count, parent.sync)]
            avro = self._open(parent.sync)
            for block in blocks:
                avro.output_stream.write(block.stored)
            self._reused, self._new_blocks = parent, blocks
            self._decoded = [m for m, _ in pairs] + list(parent.manifests)
        else:
            pairs = self._encode(manifest_files)
            avro = self._avro or self._open(None)
            block = self._block(b"".join(raw for _, raw in pairs), len(pairs), avro.sync_bytes)
            avro.output_stream.write(block.stored)
            self._new_blocks, self._decoded = [block], [m for m, _ in pairs]
        _manifest_lists.remember(pairs, self._format_version)
        self._blocks_written += 1
        return self

    def _remember(self) -> None:
        location = self._output_file.location
        entry = _stored(location)
        if entry is None:
            return
        known = _KnownList(
            weakref.ref(entry),
            tuple(self._decoded),
            self._format_version,
            self._meta.get("avro.codec", ""),
            self._writer.sync_bytes,
            tuple(self._new_blocks),
        )
        _manifest_lists.put(location, known)


class _ReusingManifestListWriterV1(_ReusingManifestListWriter, ManifestListWriterV1):
    """ManifestListWriterV1 (its metadata and checks) with the reusing blocks."""


class _ReusingManifestListWriterV2(_ReusingManifestListWriter, ManifestListWriterV2):
    """ManifestListWriterV2 (its metadata, sequence numbers and checks) with the reusing blocks."""


def write_manifest_list(
    format_version: Any,
    output_file: OutputFile,
    snapshot_id: int,
    parent_snapshot_id: int | None,
    sequence_number: int | None,
    avro_compression: Any,
) -> ManifestListWriter:
    """``pyiceberg.manifest.write_manifest_list``, with the reusing writer for memcat:// outputs of format 1 and 2."""
    if MANIFEST_LISTS.holds and isinstance(output_file, MemOutputFile):
        if format_version == 1:
            return _ReusingManifestListWriterV1(output_file, snapshot_id, parent_snapshot_id, avro_compression)
        if format_version == 2 and sequence_number is not None:
            return _ReusingManifestListWriterV2(
                output_file, snapshot_id, parent_snapshot_id, sequence_number, avro_compression
            )
    return _PYICEBERG_WRITE_MANIFEST_LIST(
        format_version, output_file, snapshot_id, parent_snapshot_id, sequence_number, avro_compression
    )


def check_manifest_lists() -> str | None:
    """Check this section's assumptions; returns the first broken one, or None."""
    import inspect

    checks: list[tuple[str, Callable[[], bool]]] = [
        (
            "pyiceberg.table.snapshots reads manifest lists through its _manifests",
            lambda: (
                "_manifests(io, self.manifest_list)" in inspect.getsource(Snapshot.manifests)
                and vars(_pyiceberg_snapshots).get("_manifests") in (_PYICEBERG_MANIFESTS, cached_manifests)
            ),
        ),
        (
            "pyiceberg.table.update.snapshot writes manifest lists through its write_manifest_list",
            lambda: (
                "write_manifest_list(" in inspect.getsource(_pyiceberg_snapshot_update._SnapshotProducer._commit)
                and vars(_pyiceberg_snapshot_update).get("write_manifest_list")
                in (_PYICEBERG_WRITE_MANIFEST_LIST, write_manifest_list)
            ),
        ),
        (
            "write_manifest_list(format_version, output_file, snapshot_id, parent_snapshot_id, sequence_number, "
            "avro_compression)",
            lambda: (
                list(inspect.signature(_PYICEBERG_WRITE_MANIFEST_LIST).parameters)
                == [
                    "format_version",
                    "output_file",
                    "snapshot_id",
                    "parent_snapshot_id",
                    "sequence_number",
                    "avro_compression",
                ]
            ),
        ),
        (
            "ManifestListWriter.add_manifests writes its prepared manifests as one block through _writer.write_block",
            lambda: (
                "self._writer.write_block([self.prepare_manifest(manifest_file)formanifest_fileinmanifest_files])"
                in "".join(inspect.getsource(ManifestListWriter.add_manifests).split())
            ),
        ),
        (
            "ManifestListWriter.__enter__ opens an AvroOutputFile with _meta",
            lambda: "metadata=self._meta" in inspect.getsource(ManifestListWriter.__enter__),
        ),
        (
            "AvroOutputFile writes its header at __enter__ with sync_bytes, blocks end with sync_bytes",
            lambda: (
                "self.sync_bytes" in inspect.getsource(AvroOutputFile._write_header)
                and "self.encoder.write(self.sync_bytes)" in inspect.getsource(AvroOutputFile.write_block)
            ),
        ),
        (
            "_manifests caches each ManifestFile through _manifest_cache.get_or_cache",
            lambda: "_manifest_cache.get_or_cache(" in inspect.getsource(_PYICEBERG_MANIFESTS),
        ),
        (
            "read_manifest_list reads with the DEFAULT_READ_VERSION schema, ManifestFile and PartitionFieldSummary",
            lambda: all(
                s in inspect.getsource(_pyiceberg_manifest.read_manifest_list)
                for s in (
                    "MANIFEST_LIST_FILE_SCHEMAS[DEFAULT_READ_VERSION]",
                    "-1: ManifestFile",
                    "508: PartitionFieldSummary",
                    "517: ManifestContent",
                )
            ),
        ),
    ]
    return first_broken(checks)


def install_manifest_lists() -> None:
    """Rebind pyiceberg's manifest-list read and write to this section's (memcat:// only; the rest is pyiceberg's)."""
    if MANIFEST_LISTS.holds:
        vars(_pyiceberg_snapshots)["_manifests"] = cached_manifests
        vars(_pyiceberg_snapshot_update)["write_manifest_list"] = write_manifest_list


def uninstall_manifest_lists() -> None:
    """Give pyiceberg its own manifest-list read and write back (tests; a process that wants pyiceberg's path)."""
    vars(_pyiceberg_snapshots)["_manifests"] = _PYICEBERG_MANIFESTS
    vars(_pyiceberg_snapshot_update)["write_manifest_list"] = _PYICEBERG_WRITE_MANIFEST_LIST


MANIFEST_LISTS = Contract("manifest lists reusing their parent's encoding")
MANIFEST_LISTS.problem = check_manifest_lists()
if MANIFEST_LISTS.problem:  # pragma: no cover - exercised only by a changed pyiceberg
    logger.warning(
        "memcatalog: %s; manifest lists are read and written by pyiceberg's own code.", MANIFEST_LISTS.problem
    )
install_manifest_lists()

# ===================================================================================== end of manifest lists


# =====================================================================================
# Section: snapshot lookup by id (issue 18)
#
# pyiceberg's ``TableMetadata.snapshot_by_id`` is a linear scan of the snapshot list,
# and one append calls it about 11 times (the parent, the summaries, the refs): ~1 ms
# at 1,000 snapshots. For memcat:// tables with at least ``_INDEXED_FROM`` snapshots it
# looks the id up in an index of that snapshot list instead, built once per list (a
# commit makes a new list; pyiceberg never changes one in place) and kept by the list
# object itself, first occurrence first, as pyiceberg's scan finds it.
#
# Private name used, and why: none; ``TableMetadataCommonFields.snapshot_by_id`` is a
# public method, rebound on the class (every metadata version inherits it) and
# delegating to pyiceberg's own for any other location. The contract: pyiceberg's is
# the first snapshot in ``self.snapshots`` with that id.
# =====================================================================================

from pyiceberg.table.metadata import TableMetadataCommonFields  # noqa: E402

_PYICEBERG_SNAPSHOT_BY_ID: Callable[[TableMetadataCommonFields, int], Snapshot | None] = (
    TableMetadataCommonFields.snapshot_by_id
)
_INDEXED_FROM = 32  # below this a scan is as fast as the index
_INDEXES_MAX = 64
# by id of the list's last snapshot: (the list, its length, its index); the entry holds the list, so
# the ids stay their objects'. A list that extends a kept one by a few snapshots (the next commit's)
# copies that index and adds them: a dict copy instead of a Python loop over the whole list.
_indexes: OrderedDict[int, tuple[list[Snapshot], int, dict[int, Snapshot]]] = OrderedDict()
_indexes_lock = threading.Lock()


def _index_of(snapshots: list[Snapshot]) -> dict[int, Snapshot]:
    n = len(snapshots)
    parent = None
    with _indexes_lock:
        for back in (0, 1, 2, 3):  # the same snapshots in another list object, or a few more
            entry = _indexes.get(id(snapshots[-back - 1])) if n > back else None
            if entry is not None and entry[1] == n - back:
                parent = entry
                break
    if parent is not None and _same_objects(snapshots[: parent[1]], parent[0]):
        if parent[1] == n:
            return parent[2]
        index = parent[2].copy()
        for snapshot in snapshots[parent[1] :]:
            index.setdefault(snapshot.snapshot_id, snapshot)  # the first of duplicates wins, as in a scan
    else:
        index = {s.snapshot_id: s for s in reversed(snapshots)}  # the first of duplicates wins, as in a scan
    with _indexes_lock:
        _indexes[id(snapshots[-1])] = (snapshots, n, index)
        _indexes.move_to_end(id(snapshots[-1]))
        while len(_indexes) > _INDEXES_MAX:
            _indexes.popitem(last=False)
    return index


def _same_objects(a: list[Snapshot], b: list[Snapshot]) -> bool:
    """Whether two lists hold the very same objects (by identity; a C-speed compare of their ids)."""
    return len(a) == len(b) and list(map(id, a)) == list(map(id, b))


def snapshot_by_id(self: TableMetadataCommonFields, snapshot_id: int) -> Snapshot | None:
    """``TableMetadata.snapshot_by_id``: from an index of the snapshot list for large memcat:// tables."""
    snapshots = self.snapshots
    if len(snapshots) < _INDEXED_FROM or not SNAPSHOT_INDEX.holds or not is_memcat(self.location):
        return _PYICEBERG_SNAPSHOT_BY_ID(self, snapshot_id)
    return _index_of(snapshots).get(snapshot_id)


def check_snapshot_index() -> str | None:
    """Check this section's assumption; returns it if broken, or None."""
    import inspect

    try:
        source = "".join(inspect.getsource(_PYICEBERG_SNAPSHOT_BY_ID).split())
        if "forsnapshotinself.snapshotsifsnapshot.snapshot_id==snapshot_id" not in source:
            return "pyiceberg changed: TableMetadata.snapshot_by_id is no longer the first snapshot with the id"
    except Exception as e:
        return f"pyiceberg changed: checking snapshot_by_id raised {type(e).__name__}: {e}"
    return None


def install_snapshot_index() -> None:
    """Rebind ``TableMetadata.snapshot_by_id`` to :func:`snapshot_by_id` (memcat:// only; the rest is pyiceberg's)."""
    if SNAPSHOT_INDEX.holds:
        type.__setattr__(TableMetadataCommonFields, "snapshot_by_id", snapshot_by_id)


SNAPSHOT_INDEX = Contract("snapshot lookup by id")
SNAPSHOT_INDEX.problem = check_snapshot_index()
if SNAPSHOT_INDEX.problem:  # pragma: no cover - exercised only by a changed pyiceberg
    logger.warning("memcatalog: %s; snapshots are looked up by pyiceberg's own scan.", SNAPSHOT_INDEX.problem)
install_snapshot_index()

# ===================================================================================== end of snapshot lookup


# =====================================================================================
# Section: the catalog and the writer (issue 14)
#
# What MemCatalog and TableWriter need beyond pyiceberg's public API, each wrapped once:
#   - SqlCatalog.__init__ is bypassed: MetastoreCatalog.__init__ + SqlCatalog._init_catalog
#     (init_sql_catalog);
#   - Catalog._convert_schema_if_needed (to_iceberg_schema);
#   - MetastoreCatalog._write_metadata, overridden (MetadataWriteHook);
#   - MetastoreCatalog._load_file_io, overridden so that table properties cannot replace
#     the catalog's owner in a FileIO (CatalogFileIOKeys);
#   - pyiceberg.io.pyarrow._dataframe_to_data_files (write_data_files).
# The catalog also uses table_type_filter and resolve_table_location from the REST section.
# Everything else goes through public API: pyiceberg.io.load_file_io (MemCatalog's own
# loads), SqlCatalog.create_table (MemCatalog delegates to it).
# =====================================================================================


def init_sql_catalog(
    catalog: SqlCatalog, name: str, properties: Properties, engine: Callable[[Properties], Engine]
) -> None:
    """Do what ``SqlCatalog.__init__`` does, with ``engine(properties)`` as the registry's engine.

    Why: ``SqlCatalog.__init__`` builds its engine with a bare ``create_engine(uri)`` and creates
    the registry tables in it. MemCatalog needs its own engine (one shared connection for an
    in-memory SQLite registry, a busy timeout, pre-ping for servers); letting SqlCatalog build
    one first would open a second connection pool and, for ``sqlite:///:memory:``, create the
    tables in a database nobody uses. Private name used: ``SqlCatalog._init_catalog`` (detects
    the registry's schema version, creates the tables). The contract test checks that
    SqlCatalog's own ``__init__`` sets nothing this leaves out.
    """
    MetastoreCatalog.__init__(catalog, name, **properties)
    catalog.engine = engine(catalog.properties)
    catalog._init_catalog()


def to_iceberg_schema(schema: Schema | pa.Schema, format_version: int = 2) -> Schema:
    """An Arrow schema as the Iceberg schema ``create_table`` would give the table (an Iceberg schema as is).

    Why: pyiceberg has no public conversion of an Arrow schema without field ids (its public
    ``pyarrow_to_schema`` needs ids or a name mapping); ``create_table`` and ``create_view``
    use ``Catalog._convert_schema_if_needed``, which assigns fresh ids and honours the
    nanosecond-downcast setting. MemCatalog converts first so that a bad schema is reported
    before anything else, as SqlCatalog does.
    """
    converted: Schema = Catalog._convert_schema_if_needed(schema, format_version)  # type: ignore[arg-type]
    return converted


class CatalogFileIOKeys(MetastoreCatalog):
    """Mixin: FileIO properties the catalog sets that no table property may override.

    Why: pyiceberg builds the FileIO of a staged table (``create_table``,
    ``create_table_transaction``, every ``commit_table``) with the private
    ``MetastoreCatalog._load_file_io``, from the catalog's properties updated by the
    table's: a table property of the same name wins. MemCatalog records which catalog owns
    each pool file through one FileIO property (``memcatalog.owner``); a table carrying it
    would make its files someone else's. The catalog refuses such properties (create,
    commit, register); this override keeps the catalog's value even so. Private name used:
    ``MetastoreCatalog._load_file_io`` (overridden; the contract test checks its signature
    and that pyiceberg's staging calls it).
    """

    catalog_only_io_properties: tuple[str, ...] = ()

    @override
    def _load_file_io(self, properties: Properties = EMPTY_DICT, location: str | None = None) -> FileIO:
        kept = {key: self.properties[key] for key in self.catalog_only_io_properties if key in self.properties}
        return super()._load_file_io({**properties, **kept}, location)


class MetadataWriteHook(MetastoreCatalog):
    """Mixin: every table metadata file pyiceberg's catalog code writes goes through :meth:`write_metadata_file`.

    Why: ``create_table``, ``commit_table`` and create-table transactions write metadata files
    through the private static ``MetastoreCatalog._write_metadata``; pyiceberg offers no public
    hook. MemCatalog serializes them its own way, caches what it wrote, and frees the file when
    the registry does not take it.
    """

    @override
    def _write_metadata(self, metadata: TableMetadata, io: FileIO, metadata_path: str) -> None:  # type: ignore[override]
        self.write_metadata_file(metadata, io, metadata_path)

    def write_metadata_file(self, metadata: TableMetadata, io: FileIO, metadata_path: str) -> None:
        """Write one table metadata file; pyiceberg's own serializer unless overridden."""
        ToOutputFile.table_metadata(metadata, io.new_output(metadata_path))


def write_data_files(
    metadata: TableMetadata, data: pa.Table, io: FileIO, write_uuid: uuid.UUID, counter: itertools.count[int]
) -> list[DataFile]:
    """Write ``data`` as Parquet data files of the table (target size, partitions, properties) without committing.

    Why: TableWriter writes files as its buffer fills and commits them all in one snapshot at
    the end (bounded memory); pyiceberg's public ``Table.append`` writes and commits in one
    step. The writing step alone is the private ``pyiceberg.io.pyarrow._dataframe_to_data_files``.
    """
    from pyiceberg.io.pyarrow import _dataframe_to_data_files

    return list(_dataframe_to_data_files(metadata, data, io, write_uuid, counter))


def default_table_location(catalog: Catalog, namespace: str, table: str) -> str | None:
    """Where ``catalog`` would put a new table by default, or None when it has no such notion (a REST catalog).

    Why: an export into any pyiceberg catalog writes the files before it registers the table,
    so it needs the location ``create_table`` would choose; ``MetastoreCatalog`` decides it in
    the private ``_resolve_table_location``.
    """
    resolve = getattr(catalog, "_resolve_table_location", None)
    return None if resolve is None else str(resolve(None, namespace, table))


def data_file_with(data_file: DataFile, **changes: Any) -> DataFile:
    """A copy of a data file read from a manifest, with ``changes`` (``file_path=...``) applied.

    Public constructors only (``DataFile.from_args``): pyiceberg's records are positional, with
    read-only properties, and setting a field by position would break silently when a release
    reorders them. Rests on: every field of ``DATA_FILE_TYPE[DEFAULT_READ_VERSION]`` (the layout
    pyiceberg reads manifests with) is a property of that name; the contract test checks it.
    """
    fields = {f.name: getattr(data_file, f.name) for f in DATA_FILE_TYPE[DEFAULT_READ_VERSION].fields}
    unknown = set(changes) - set(fields)
    if unknown:
        raise ValueError(f"DataFile has no field {sorted(unknown)[0]!r}")
    copy = DataFile.from_args(DEFAULT_READ_VERSION, **{**fields, **changes})
    spec_id = getattr(data_file, "spec_id", None)  # set by pyiceberg when it reads a manifest, outside the record
    if spec_id is not None:
        copy.spec_id = spec_id
    return copy


def manifest_file_with(manifest: ManifestFile, **changes: Any) -> ManifestFile:
    """A copy of a manifest list entry with ``changes`` (``manifest_path=...``) applied; as :func:`data_file_with`."""
    fields = {f.name: getattr(manifest, f.name) for f in MANIFEST_LIST_FILE_SCHEMAS[DEFAULT_READ_VERSION].fields}
    unknown = set(changes) - set(fields)
    if unknown:
        raise ValueError(f"ManifestFile has no field {sorted(unknown)[0]!r}")
    return ManifestFile.from_args(DEFAULT_READ_VERSION, **{**fields, **changes})


# ===================================================================================== end of the catalog and the writer


# =====================================================================================
# Section: delete manifests for table copies (issue 13, memcatalog.tablecopy)
#
# pyiceberg 0.12 reads delete manifests but writes only data manifests: ``write_manifest``
# returns a ``ManifestWriterV2`` whose ``content()`` is DATA and whose Avro header says
# ``"content": "data"``. Copying a merge-on-read table (DuckDB writes positional deletes)
# rewrites its delete manifests with new paths, so it needs the same writer with content
# DELETES. Private name used: ``ManifestWriter._meta`` (the Avro header properties),
# overridden to say ``"content": "deletes"`` as the spec requires.
# =====================================================================================


class _DeleteManifestWriterV2(ManifestWriterV2):
    def content(self) -> ManifestContent:
        return ManifestContent.DELETES

    @property
    def _meta(self) -> dict[str, str]:
        return {**super()._meta, "content": "deletes"}


def delete_manifest_writer(
    format_version: int, spec: PartitionSpec, schema: Schema, output: OutputFile, snapshot_id: int
) -> ManifestWriter:
    """A writer of one delete manifest (format v2; v1 tables have no delete files)."""
    if format_version != 2:
        raise ValueError(f"delete manifests exist in format version 2 only, not {format_version}")
    return _DeleteManifestWriterV2(spec, schema, output, snapshot_id, "deflate")
