"""Copy an Iceberg table, its whole snapshot history, to a new location with every path rewritten.

Data and statistics files are copied byte for byte; manifests, manifest lists and the
metadata file are rewritten with the new paths. Nothing is registered here: the
caller registers the returned metadata location in the catalog of its choice.
"""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pyiceberg.io import FileIO
from pyiceberg.manifest import ManifestContent, ManifestFile, write_manifest, write_manifest_list
from pyiceberg.serializers import ToOutputFile
from pyiceberg.table.metadata import TableMetadata

from memcatalog.config import COPY_CHUNK_BYTES
from memcatalog.pyiceberg_internals import data_file_with, manifest_file_with

Progress = Callable[[int], None]


@dataclass
class CopyResult:
    metadata_location: str
    files: list[str] = field(default_factory=list)  # every file written at the target
    bytes: int = 0


class _Copier:
    def __init__(self, metadata: TableMetadata, src_io: FileIO, dst_io: FileIO, target: str, progress: Progress | None):
        self.md = metadata
        self.src_io = src_io
        self.dst_io = dst_io
        self.source = metadata.location.rstrip("/")
        self.target = target.rstrip("/")
        self.progress = progress
        self.result = CopyResult(metadata_location="")
        self.manifests: dict[str, ManifestFile] = {}
        self.copied: dict[str, str] = {}

    def new_path(self, old: str) -> str:
        if old.startswith(self.source + "/"):
            return self.target + old[len(self.source) :]
        digest = hashlib.sha1(old.encode()).hexdigest()[:12]
        return f"{self.target}/data/imported-{digest}-{old.rsplit('/', 1)[-1]}"

    def copy_bytes(self, old: str) -> str:
        if old in self.copied:  # a file listed by several manifests is copied once
            return self.copied[old]
        new = self.copied[old] = self.new_path(old)
        with self.src_io.new_input(old).open() as src, self.dst_io.new_output(new).create(overwrite=True) as dst:
            self.result.files.append(new)
            while chunk := src.read(COPY_CHUNK_BYTES):
                dst.write(chunk)
                self.result.bytes += len(chunk)
                if self.progress:
                    self.progress(len(chunk))
        return new

    def copy_manifest(self, manifest: ManifestFile, snapshot_id: int) -> ManifestFile:
        if manifest.manifest_path in self.manifests:
            return self.manifests[manifest.manifest_path]
        if manifest.content != ManifestContent.DATA:
            raise NotImplementedError(
                f"{manifest.manifest_path} holds delete files; copying merge-on-read tables is not supported"
            )
        new_path = self.new_path(manifest.manifest_path)
        spec = self.md.specs()[manifest.partition_spec_id]
        schema = self.md.schema()
        output = self.dst_io.new_output(new_path)
        self.result.files.append(new_path)
        entries = manifest.fetch_manifest_entry(self.src_io, discard_deleted=False)
        added_by = manifest.added_snapshot_id if manifest.added_snapshot_id is not None else snapshot_id
        with write_manifest(self.md.format_version, spec, schema, output, added_by, "deflate") as w:
            for entry in entries:
                old = entry.data_file.file_path
                new = self.copy_bytes(old) if entry.status.name != "DELETED" else self.new_path(old)
                entry.data_file = data_file_with(entry.data_file, file_path=new)
                w.add_entry(entry)
        written = w.to_manifest_file()
        copied = manifest_file_with(manifest, manifest_path=new_path, manifest_length=written.manifest_length)
        self.manifests[manifest.manifest_path] = copied
        return copied

    def copy_snapshot_list(self, snapshot: Any) -> str:
        new_list = self.new_path(snapshot.manifest_list)
        manifests = [self.copy_manifest(m, snapshot.snapshot_id) for m in snapshot.manifests(self.src_io)]
        output = self.dst_io.new_output(new_list)
        self.result.files.append(new_list)
        with write_manifest_list(
            self.md.format_version,
            output,
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
        location = f"{self.target}/metadata/00000-{uuid.uuid4()}.metadata.json"
        ToOutputFile.table_metadata(new_md, self.dst_io.new_output(location))
        self.result.files.append(location)
        self.result.metadata_location = location
        return self.result


def copy_table(
    metadata: TableMetadata, src_io: FileIO, dst_io: FileIO, target_location: str, progress: Progress | None = None
) -> CopyResult:
    """Copy a table's files and history to ``target_location``; on failure, delete what was written and re-raise."""
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
    """Bytes of data files across every snapshot (for progress bars and quota checks)."""
    seen: dict[str, int] = {}
    for snapshot in metadata.snapshots:
        for manifest in snapshot.manifests(io):
            for entry in manifest.fetch_manifest_entry(io, discard_deleted=True):
                seen[entry.data_file.file_path] = entry.data_file.file_size_in_bytes
    return sum(seen.values())
