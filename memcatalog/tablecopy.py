"""Copy one Iceberg table, its whole snapshot history, between catalogs.

- ``import_table(catalog, identifier, source)``: an Iceberg table (a metadata location
  anywhere pyiceberg can read, or a table of any pyiceberg catalog) into a MemCatalog.
- ``export_table(catalog, identifier, target_catalog)``: a table into any pyiceberg
  catalog and its warehouse, paths rewritten, registered last.

Data, equality-delete and statistics files are copied byte for byte; positional-delete
files, manifests, manifest lists and the metadata file are rewritten with the new paths.

A copy never destroys what is already at the target: everything that can be checked is
checked before the first byte is written, every file written carries this run's UUID in
its name and is created exclusively (an existing path is an error, never overwritten),
and a failure deletes only the files this run created (and a namespace it created).
``progress`` callbacks receive the bytes copied since the last call.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import CommitStateUnknownException, TableAlreadyExistsError
from pyiceberg.io import FileIO, InputFile, OutputFile, OutputStream, load_file_io
from pyiceberg.manifest import (
    DataFile,
    DataFileContent,
    ManifestContent,
    ManifestFile,
    write_manifest,
    write_manifest_list,
)
from pyiceberg.serializers import FromInputFile, ToOutputFile
from pyiceberg.table import Table
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.table.snapshots import Snapshot
from pyiceberg.typedef import Identifier

from memcatalog.catalog import MemCatalog
from memcatalog.config import COPY_CHUNK_BYTES, FILE_IO_IMPL, PY_IO_IMPL, format_size
from memcatalog.errors import QuotaExceededError
from memcatalog.pyiceberg_internals import (
    data_file_with,
    default_table_location,
    delete_manifest_writer,
    manifest_file_with,
    resolve_table_location,
)

Progress = Callable[[int], None]
_FILE_PATH_FIELD_ID = 2147483546  # the spec's reserved id of a positional delete file's file_path column


@dataclass
class CopyResult:
    metadata_location: str
    files: list[str] = field(default_factory=list)  # every file this run created at the target
    bytes: int = 0


class _NewFile(OutputFile):
    """An output that is only ever created, never overwritten; records the path once it exists."""

    def __init__(self, inner: OutputFile, created: list[str]) -> None:
        super().__init__(inner.location)
        self._inner = inner
        self._created = created

    def __len__(self) -> int:
        return len(self._inner)

    def exists(self) -> bool:
        return self._inner.exists()

    def to_input_file(self) -> InputFile:
        return self._inner.to_input_file()

    def create(self, overwrite: bool = False) -> OutputStream:
        stream = self._inner.create(overwrite=False)  # an existing file is an error, whatever the caller asked
        self._created.append(self.location)
        return stream


class _Copier:
    def __init__(self, metadata: TableMetadata, src_io: FileIO, dst_io: FileIO, target: str, progress: Progress | None):
        self.md = metadata
        self.src_io = src_io
        self.dst_io = dst_io
        self.source = metadata.location.rstrip("/")
        self.target = target.rstrip("/")
        self.run_id = str(uuid.uuid4())  # in every file name this copy writes
        self.progress = progress
        self.result = CopyResult(metadata_location="")
        self.manifests: dict[str, ManifestFile] = {}
        self.copied: dict[str, _Copied] = {}

    def output(self, path: str) -> OutputFile:
        return _NewFile(self.dst_io.new_output(path), self.result.files)

    def new_path(self, old: str) -> str:
        if old.startswith(self.source + "/"):
            relative = old[len(self.source) + 1 :]
        else:
            relative = f"data/imported-{hashlib.sha1(old.encode()).hexdigest()[:12]}-{old.rsplit('/', 1)[-1]}"
        directory, _, name = relative.rpartition("/")
        return f"{self.target}/{directory}/{self.run_id}-{name}" if directory else f"{self.target}/{self.run_id}-{name}"

    def copy_bytes(self, old: str) -> str:
        if old in self.copied:  # a file listed by several manifests is copied once
            return self.copied[old].path
        new = self.new_path(old)
        with self.src_io.new_input(old).open() as src, self.output(new).create() as dst:
            while chunk := src.read(COPY_CHUNK_BYTES):
                dst.write(chunk)
                self._count(len(chunk))
        self.copied[old] = _Copied(new)
        return new

    def copy_positional_deletes(self, old: str) -> _Copied:
        """Rewrite a positional delete file so that it names the data files' new paths."""
        if old in self.copied:
            return self.copied[old]
        new = self.new_path(old)
        with self.src_io.new_input(old).open() as src:
            deletes = pq.read_table(src)
        column = deletes.schema.get_field_index("file_path")
        renamed = pa.array([self.new_path(p) for p in deletes.column(column).to_pylist()], pa.string())
        rewritten = deletes.set_column(column, deletes.schema.field(column), renamed)
        if "pos" in rewritten.column_names:  # the spec orders rows by path, then position
            rewritten = rewritten.sort_by([("file_path", "ascending"), ("pos", "ascending")])
        with self.output(new).create() as dst:
            pq.write_table(rewritten, dst)
            size = dst.tell()
        self._count(size)
        lower, upper = (pc.min(renamed).as_py() or "", pc.max(renamed).as_py() or "")
        copied = self.copied[old] = _Copied(new, size, lower.encode(), upper.encode())
        return copied

    def _count(self, n: int) -> None:
        self.result.bytes += n
        if self.progress:
            self.progress(n)

    def copy_content(self, data_file: DataFile) -> DataFile:
        """Copy the file an entry names; the entry's data file, pointing at the copy."""
        if data_file.content != DataFileContent.POSITION_DELETES:
            return data_file_with(data_file, file_path=self.copy_bytes(data_file.file_path))
        copied = self.copy_positional_deletes(data_file.file_path)
        changes: dict[str, object] = {
            "file_size_in_bytes": copied.size,
            "split_offsets": None,
            "file_path": copied.path,
        }
        for bounds, value in (("lower_bounds", copied.lower), ("upper_bounds", copied.upper)):
            old = getattr(data_file, bounds)
            if old and _FILE_PATH_FIELD_ID in old:  # readers match delete files to data files by these
                changes[bounds] = {**old, _FILE_PATH_FIELD_ID: value}
        return data_file_with(data_file, **changes)

    def copy_manifest(self, manifest: ManifestFile, snapshot_id: int) -> ManifestFile:
        if manifest.manifest_path in self.manifests:
            return self.manifests[manifest.manifest_path]
        new_path = self.new_path(manifest.manifest_path)
        spec = self.md.specs()[manifest.partition_spec_id]
        schema = self.md.schema()
        output = self.output(new_path)
        entries = manifest.fetch_manifest_entry(self.src_io, discard_deleted=False)
        added_by = manifest.added_snapshot_id if manifest.added_snapshot_id is not None else snapshot_id
        for entry in entries:  # before the manifest is opened: a failure must not leave it half written
            if entry.status.name == "DELETED":  # the file is gone from the table; only its new name is kept
                entry.data_file = data_file_with(entry.data_file, file_path=self.new_path(entry.data_file.file_path))
            else:
                entry.data_file = self.copy_content(entry.data_file)
        if manifest.content == ManifestContent.DELETES:
            writer = delete_manifest_writer(self.md.format_version, spec, schema, output, added_by)
        else:
            writer = write_manifest(self.md.format_version, spec, schema, output, added_by, "deflate")
        with writer as w:
            for entry in entries:
                w.add_entry(entry)
        written = w.to_manifest_file()
        copied = manifest_file_with(manifest, manifest_path=new_path, manifest_length=written.manifest_length)
        self.manifests[manifest.manifest_path] = copied
        return copied

    def copy_snapshot_list(self, snapshot: Snapshot) -> str:
        new_list = self.new_path(snapshot.manifest_list)
        manifests = [self.copy_manifest(m, snapshot.snapshot_id) for m in snapshot.manifests(self.src_io)]
        with write_manifest_list(
            self.md.format_version,
            self.output(new_list),
            snapshot.snapshot_id,
            snapshot.parent_snapshot_id,
            snapshot.sequence_number,
            "deflate",
        ) as writer:
            writer.add_manifests(manifests)
        return new_list

    def run(self) -> CopyResult:
        snapshots = [s.model_copy(update={"manifest_list": self.copy_snapshot_list(s)}) for s in self.md.snapshots]
        stats = [
            s.model_copy(update={"statistics_path": self.copy_bytes(s.statistics_path)}) for s in self.md.statistics
        ]
        pstats = [
            s.model_copy(update={"statistics_path": self.copy_bytes(s.statistics_path)})
            for s in self.md.partition_statistics
        ]
        new_md = self.md.model_copy(
            update={
                "location": self.target,
                "snapshots": snapshots,
                "statistics": stats,
                "partition_statistics": pstats,
                "metadata_log": [],  # previous metadata files stay behind; snapshots and their log move
            }
        )
        location = f"{self.target}/metadata/00000-{self.run_id}.metadata.json"
        ToOutputFile.table_metadata(new_md, self.output(location))
        self.result.metadata_location = location
        return self.result


@dataclass
class _Copied:
    path: str
    size: int = -1
    lower: bytes = b""
    upper: bytes = b""


def copy_table(
    metadata: TableMetadata, src_io: FileIO, dst_io: FileIO, target_location: str, progress: Progress | None = None
) -> CopyResult:
    """Copy a table's files and history to ``target_location``; on failure, delete what this run wrote and re-raise."""
    copier = _Copier(metadata, src_io, dst_io, target_location, progress)
    try:
        return copier.run()
    except BaseException:
        delete_all(dst_io, copier.result.files)
        raise


def delete_all(io: FileIO, paths: list[str]) -> None:
    """Delete files after a failure, newest first; the original error matters more than these."""
    for path in reversed(paths):
        with contextlib.suppress(Exception):
            io.delete(path)


def total_bytes(metadata: TableMetadata, io: FileIO) -> int:
    """Bytes of data and delete files across every snapshot (for progress bars and space checks)."""
    seen: dict[str, int] = {}
    for snapshot in metadata.snapshots:
        for manifest in snapshot.manifests(io):
            for entry in manifest.fetch_manifest_entry(io, discard_deleted=True):
                seen[entry.data_file.file_path] = entry.data_file.file_size_in_bytes
    return sum(seen.values())


# ---- import and export ---------------------------------------------------------------------


def import_table(
    catalog: MemCatalog, identifier: str | Identifier, source: str | Table, *, progress: Progress | None = None
) -> Table:
    """Copy an Iceberg table with its snapshot history into ``catalog`` as ``identifier``.

    ``source`` is a metadata location (a local path, ``file://`` or any URL pyiceberg
    reads) or a pyiceberg ``Table`` from any catalog.

    Raises:
        TableAlreadyExistsError: ``identifier`` exists; nothing was written.
        QuotaExceededError: the pool cannot hold the table's files; nothing was written.
    """
    if isinstance(source, Table):
        metadata, src_io = source.metadata, source.io
    else:
        src_io = load_file_io(catalog.properties | {PY_IO_IMPL: FILE_IO_IMPL}, source)
        metadata = FromInputFile.table_metadata(src_io.new_input(source))
    ns = Catalog.namespace_to_string(Catalog.namespace_from(identifier))
    target = resolve_table_location(catalog, None, ns, Catalog.table_name_from(identifier))
    _refuse_existing(catalog, identifier)
    needed = total_bytes(metadata, src_io)
    stats = catalog.pool.stats()
    if needed > stats.free:
        raise QuotaExceededError(target, needed, stats.free, stats.quota, catalog.pool.name)
    dst_io = catalog.load_file_io_for(target)
    result = copy_table(metadata, src_io, dst_io, target, progress)
    return _register(catalog, identifier, result, dst_io, created_namespace=None)


def export_table(
    catalog: MemCatalog,
    identifier: str | Identifier,
    target_catalog: Catalog,
    *,
    target_identifier: str | Identifier | None = None,
    location: str | None = None,
    progress: Progress | None = None,
) -> Table:
    """Copy a table with its full snapshot history into ``target_catalog`` (any pyiceberg catalog).

    Files go to ``location`` (default: the target catalog's location for the table),
    with every path rewritten and this run's UUID in every file name. The table is
    registered last. Nothing at the target is ever overwritten or deleted: if anything
    fails, the files this run created are deleted, a namespace it created is dropped,
    and nothing is registered. The source is left untouched.

    Raises:
        TableAlreadyExistsError: the target catalog has the table; nothing was written.
        QuotaExceededError: a local target directory lacks the space; nothing was written.
    """
    source = catalog.load_table(identifier)
    name = target_identifier or identifier
    _refuse_existing(target_catalog, name)
    ns = Catalog.namespace_from(name)
    created = _create_namespace(target_catalog, ns)  # its properties decide the default location
    try:
        target = location or _default_location(target_catalog, name)
        _check_local_space(target, total_bytes(source.metadata, source.io))
        dst_io = load_file_io(target_catalog.properties, target)
        result = copy_table(source.metadata, source.io, dst_io, target, progress)
    except BaseException:
        _drop_created(target_catalog, created)
        raise
    return _register(target_catalog, name, result, dst_io, created_namespace=created)


def _refuse_existing(catalog: Catalog, identifier: str | Identifier) -> None:
    if catalog.table_exists(identifier):
        shown = ".".join(Catalog.identifier_to_tuple(identifier))
        raise TableAlreadyExistsError(
            f"table {shown} already exists in catalog {catalog.name!r}: nothing was copied; "
            "drop it there first, or copy under another name (target_identifier=)"
        )


def _check_local_space(target: str, needed: int) -> None:
    """Refuse before writing when a local target's disk cannot hold the data (other targets cannot tell)."""
    if "://" in target and not target.startswith("file://"):
        return
    probe = Path(target.removeprefix("file://"))
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if needed > free:
        raise OSError(
            errno.ENOSPC,
            f"not enough space for the export to {target}: needs {format_size(needed)}, "
            f"{format_size(free)} free on {probe}; nothing was written (free space or choose another location=)",
            target,
        )


def _default_location(catalog: Catalog, identifier: str | Identifier) -> str:
    ns = Catalog.namespace_to_string(Catalog.namespace_from(identifier))
    location = default_table_location(catalog, ns, Catalog.table_name_from(identifier))
    if location is None:
        raise ValueError(f"give location= for {type(catalog).__name__}: it has no default table location")
    return location


def _register(
    catalog: Catalog,
    identifier: str | Identifier,
    result: CopyResult,
    dst_io: FileIO,
    created_namespace: Identifier | None,
) -> Table:
    try:
        return catalog.register_table(identifier, result.metadata_location)
    except BaseException as e:
        registered = _registered_location(catalog, identifier)
        if registered == result.metadata_location:
            # The registry took it and only the answer was lost (or loading it back failed): the copy is complete.
            if isinstance(e, Exception):
                return catalog.load_table(identifier)
            raise
        if registered is _UNKNOWN:
            raise CommitStateUnknownException(
                f"registering {result.metadata_location} as {'.'.join(Catalog.identifier_to_tuple(identifier))} "
                f"failed ({type(e).__name__}: {e}) and the registry cannot say whether it took it; the copied files "
                f"stay in place: check the table, and if it is not registered delete {len(result.files)} files under "
                f"{result.metadata_location.rsplit('/metadata/', 1)[0]} named with {_run_of(result)}"
            ) from e
        delete_all(dst_io, result.files)
        _drop_created(catalog, created_namespace)
        raise


_UNKNOWN = "<unknown>"


def _registered_location(catalog: Catalog, identifier: str | Identifier) -> str | None:
    """The metadata location the registry holds for ``identifier``; None when absent, _UNKNOWN when it cannot tell."""
    try:
        if not catalog.table_exists(identifier):
            return None
        return str(catalog.load_table(identifier).metadata_location)
    except Exception:
        return _UNKNOWN


def _run_of(result: CopyResult) -> str:
    return result.metadata_location.rsplit("/", 1)[-1].removeprefix("00000-").removesuffix(".metadata.json")


def _create_namespace(catalog: Catalog, namespace: Identifier) -> Identifier | None:
    """Create ``namespace`` if it is missing; returns it when this call created it (so a failure can drop it)."""
    if catalog.namespace_exists(namespace):
        return None
    try:
        catalog.create_namespace(namespace)
    except BaseException:
        if _namespace_exists(catalog, namespace):  # created, but the answer was lost
            _drop_created(catalog, namespace)
        raise
    return namespace


def _namespace_exists(catalog: Catalog, namespace: Identifier) -> bool:
    try:
        return catalog.namespace_exists(namespace)
    except Exception:
        return False


def _drop_created(catalog: Catalog, namespace: Identifier | None) -> None:
    """Drop the namespace this run created; one that gained a table meanwhile stays."""
    if namespace is not None:
        with contextlib.suppress(Exception):
            catalog.drop_namespace(namespace)
