"""A validating table writer with bounded memory: rows in, Parquet data files out, one snapshot at the end."""

from __future__ import annotations

import itertools
import uuid
import weakref
from types import TracebackType

import pyarrow as pa
from pyiceberg.exceptions import CommitStateUnknownException
from pyiceberg.expressions import AlwaysTrue
from pyiceberg.manifest import DataFile
from pyiceberg.table import Table, TableProperties
from pyiceberg.table.metadata import TableMetadata

from memcatalog import leases
from memcatalog.config import (
    DEFAULT_COMPRESSION,
    DEFAULT_TARGET_FILE_SIZE,
    DEFAULT_WRITER_BUFFER_BYTES,
    TARGET_FILE_SIZE_QUOTA_DIVISOR,
    parse_size,
)
from memcatalog.ownership import OWNER
from memcatalog.pyiceberg_internals import write_data_files
from memcatalog.tracking import TrackingFileIO
from memcatalog.validation import Batch, validate


class TableWriter:
    """Stream rows into one table.

    Each ``write`` validates its batch (the first error rejects the whole batch) and
    buffers it as Arrow; when the buffer passes ``max_buffer_bytes`` it is written as
    Parquet data files into the table's location. ``commit()`` (or a clean exit from
    ``with``) adds them all in one snapshot; a failure deletes every file it wrote (data
    files, manifests, manifest lists) and commits nothing. From the moment it opens a file
    until it commits or aborts, the writer holds a lease that pins every file it wrote, so
    no ``reclaim()`` (nor reclaim-on-quota) can take them, however long the write takes.
    When the registry may have taken the commit without saying so
    (``CommitStateUnknownException``), the writer deletes nothing.

    Args:
        table: the table to write to.
        max_buffer_bytes: Arrow bytes held in memory before they are written out.
        target_file_size: upper bound of one data file (default 128 MiB, at most a
            quarter of the pool's quota).
        compression: Parquet codec (zstd, snappy, gzip, lz4, none).
        row_group_size: rows per Parquet row group.
        commit_every_files: commit a snapshot each time this many files are pending.
        mode: ``append`` or ``overwrite`` (replace the table's rows at commit).
        ignore_unknown_fields: drop fields the schema does not know instead of failing.
    """

    def __init__(
        self,
        table: Table,
        *,
        max_buffer_bytes: int | str = DEFAULT_WRITER_BUFFER_BYTES,
        target_file_size: int | str | None = None,
        compression: str = DEFAULT_COMPRESSION,
        row_group_size: int | None = None,
        commit_every_files: int | None = None,
        mode: str = "append",
        ignore_unknown_fields: bool = False,
    ) -> None:
        if mode not in ("append", "overwrite"):
            raise ValueError(f"mode must be 'append' or 'overwrite', not {mode!r}")
        self.table = table
        self.max_buffer_bytes = parse_size(max_buffer_bytes)
        self.target_file_size = parse_size(target_file_size) if target_file_size else self._default_target()
        self.compression = compression
        self.row_group_size = row_group_size
        self.commit_every_files = commit_every_files
        self.mode = mode
        self.ignore_unknown_fields = ignore_unknown_fields
        self.rows_written = 0
        self.snapshots_committed = 0
        self._buffer: list[pa.Table] = []
        self._buffered_bytes = 0
        self._pending: list[DataFile] = []
        owner = table.io.properties.get(OWNER)
        self._lease = leases.hold(owner=str(owner) if owner else None)
        self._io = TrackingFileIO(table.io, self._lease)
        weakref.finalize(self, self._lease.release)  # an abandoned writer pins nothing once it is gone
        self._write_uuid = uuid.uuid4()
        self._counter = itertools.count()
        self._closed = False

    def _default_target(self) -> int:
        catalog = getattr(self.table, "catalog", None)
        pool = getattr(catalog, "pool", None)
        return (
            min(DEFAULT_TARGET_FILE_SIZE, pool.quota // TARGET_FILE_SIZE_QUOTA_DIVISOR)
            if pool is not None
            else DEFAULT_TARGET_FILE_SIZE
        )

    # ---- the public api -------------------------------------------------------
    def write(self, data: Batch) -> int:
        """Validate and buffer one batch; returns its row count."""
        if self._closed:
            raise ValueError("this writer was already committed or aborted")
        try:
            batch = validate(data, self.table.schema(), ignore_unknown_fields=self.ignore_unknown_fields)
            if batch.num_rows:  # an empty batch is valid and writes nothing
                self._buffer.append(batch)
            self._buffered_bytes += batch.nbytes
            if self._buffered_bytes >= self.max_buffer_bytes:
                self.flush()
        except BaseException:
            self.abort()
            raise
        rows = int(batch.num_rows)
        self.rows_written += rows
        return rows

    def flush(self) -> None:
        """Write the buffered rows as Parquet data files now."""
        if not self._buffer:
            return
        data = pa.concat_tables(self._buffer)
        self._buffer, self._buffered_bytes = [], 0
        self._pending.extend(write_data_files(self._metadata(), data, self._io, self._write_uuid, self._counter))
        if self.commit_every_files and len(self._pending) >= self.commit_every_files:
            self._commit_pending()

    def commit(self) -> None:
        """Flush what is buffered and commit everything pending in one snapshot."""
        if self._closed:
            raise ValueError("this writer was already committed or aborted")
        try:
            self.flush()
            self._commit_pending(final=True)
        except CommitStateUnknownException:
            self._closed = True  # the snapshot may be live: its files must stay (reclaim frees them if not)
            self._lease.release()
            raise
        except BaseException:
            self.abort()
            raise
        self._closed = True
        self._lease.release()

    def abort(self) -> None:
        """Drop the buffer and delete every data file written but not committed."""
        if self._closed:
            return
        self._closed = True
        self._buffer = []
        self._pending = []
        # Files of an earlier commit (commit_every_files) stay; everything else this writer created goes
        # (data files, manifests, manifest lists), including files that pyiceberg's thread pool was still
        # finishing when the failure happened.
        try:
            self._io.abort()
        finally:
            self._lease.release()

    def __enter__(self) -> TableWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()

    # ---- internals --------------------------------------------------------------
    def _metadata(self) -> TableMetadata:
        props = dict(self.table.metadata.properties)
        props[TableProperties.PARQUET_COMPRESSION] = self.compression
        props[TableProperties.WRITE_TARGET_FILE_SIZE_BYTES] = str(self.target_file_size)
        if self.row_group_size:
            props[TableProperties.PARQUET_ROW_GROUP_LIMIT] = str(self.row_group_size)
        return self.table.metadata.model_copy(update={"properties": props})

    def _commit_pending(self, final: bool = False) -> None:
        overwrite_now = self.mode == "overwrite" and self.snapshots_committed == 0
        if not self._pending and not (final and overwrite_now):
            return
        # The commit writes its manifests and manifest list through the tracking FileIO too: a
        # failed commit (the quota, a lost race after the retries) frees them with the data files.
        table = self.table
        shadow = type(table)(
            identifier=table.name(),
            metadata=table.metadata,
            metadata_location=table.metadata_location,
            io=self._io,
            catalog=table.catalog,
        )
        with shadow.transaction() as tx:
            if overwrite_now:
                tx.delete(AlwaysTrue())
            if self._pending:
                with tx.update_snapshot().fast_append() as append:
                    for data_file in self._pending:
                        append.append_data_file(data_file)
        table.metadata, table.metadata_location = shadow.metadata, shadow.metadata_location
        self._io.committed()
        self._pending = []
        self.snapshots_committed += 1
