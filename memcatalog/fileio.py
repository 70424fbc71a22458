"""A pyiceberg FileIO that sends ``memcat://`` to the pools and every other scheme to pyiceberg's own FileIO.

``s3://`` URLs of buckets that this process's S3 endpoint serves (``memcatalog.buckets``) are
pool files too: they are read and written here straight from the pool, with no HTTP.
"""

from __future__ import annotations

import contextlib

import pyarrow as pa
from pyiceberg.io import FileIO, InputFile, InputStream, OutputFile, OutputStream, load_file_io
from pyiceberg.typedef import EMPTY_DICT, Properties

from memcatalog import (
    buckets,  # noqa: F401  (registers served s3:// buckets with memcatalog.urls)
    leases,
)
from memcatalog.config import PY_IO_IMPL, WAREHOUSE
from memcatalog.errors import QuotaExceededError, WriteAbortedError
from memcatalog.files import WriteFile
from memcatalog.ownership import OWNER
from memcatalog.pool import PoolWriter, locate
from memcatalog.urls import is_pool_url

__all__ = ["MemFileIO", "MemInputFile", "MemOutputFile", "delete_quietly", "is_memcat", "locate"]

# The names callers used before memcatalog.urls and memcatalog.pool.locate; kept for one release.
is_memcat = is_pool_url


def delete_quietly(io: FileIO, location: str) -> None:
    """Delete a file that may already be gone."""
    with contextlib.suppress(FileNotFoundError):
        io.delete(location)


class MemInputFile(InputFile):
    """A stored file; ``open()`` hands out a zero-copy ``pyarrow.BufferReader``."""

    def _buffer(self) -> pa.Buffer:
        pool, key = locate(self.location)
        return pool.get(key)

    def __len__(self) -> int:
        return int(self._buffer().size)

    def exists(self) -> bool:
        try:
            pool, key = locate(self.location)
        except (FileNotFoundError, IsADirectoryError):  # no such pool; the memcat:// root is no file
            return False
        return pool.entry(key) is not None

    def open(self, seekable: bool = True) -> InputStream:
        reader: InputStream = pa.BufferReader(self._buffer())
        return reader


class MemOutputFile(OutputFile):
    """A file to be written; ``create()`` streams into the pool and publishes on a clean close.

    With an ``owner`` (a catalog's FileIO), the file records it and is pinned from
    ``create()`` on: under the writer's explicit lease when one already pinned it
    (``TableWriter``), else under the implicit lease of its write (``memcatalog.leases``).
    """

    def __init__(
        self, location: str, owner: str | None = None, ttl: float = leases.DEFAULT_WRITE_LEASE_SECONDS
    ) -> None:
        super().__init__(location)
        self.owner = owner
        self.ttl = ttl

    def __len__(self) -> int:
        return len(self.to_input_file())

    def exists(self) -> bool:
        return self.to_input_file().exists()

    def to_input_file(self) -> InputFile:
        return MemInputFile(self.location)

    def create(self, overwrite: bool = False) -> OutputStream:
        pool, key = locate(self.location, create=True)
        lease = None
        held = leases.current()
        if held is not None:
            held.pin(pool.name, key)  # a write whose holder knows when it ends (a commit, a copy)
        elif self.owner is not None and not leases.is_pinned(pool.name, key):
            lease = leases.implicit(self.location, owner=self.owner, ttl=self.ttl)
            if lease.failed:
                raise WriteAbortedError(f"another file of this write failed, so {self.location} is not created")
        writer = pool.writer(key, exclusive=not overwrite, owner=self.owner)
        if lease is None:
            return WriteFile(writer)
        lease.pin(pool.name, key)
        return _LeasedWriteFile(writer, lease)


class _LeasedWriteFile(WriteFile):
    """A stream of a write under an implicit lease: a quota failure fails the whole write (its files go)."""

    def __init__(self, writer: PoolWriter, lease: leases.Lease) -> None:
        super().__init__(writer)
        self._lease = lease
        self._open = True
        lease.stream_opened()

    def _ended(self) -> None:
        if self._open:
            self._open = False
            self._lease.stream_closed()

    def write(self, data: bytes | bytearray | memoryview | pa.Buffer) -> int:
        try:
            return super().write(data)
        except QuotaExceededError:
            self._lease.fail()  # pyiceberg's write cannot commit any more: free what it wrote now
            raise

    def close(self) -> None:
        try:
            super().close()
        except OSError:  # the file could not be published: this write cannot commit either
            self._lease.fail()
            raise
        finally:
            self._ended()
        if self._lease.failed:  # published after its write failed: nobody will ever reference it
            self._lease.delete_file(self._writer.pool.name, self._writer.key)

    def discard(self) -> None:
        try:
            super().discard()
        finally:
            self._ended()


class MemFileIO(FileIO):
    """FileIO for memcatalog tables. Picklable: it holds only its properties."""

    def __init__(self, properties: Properties = EMPTY_DICT) -> None:
        super().__init__(properties)
        self._fallbacks: dict[str, FileIO] = {}

    def _fallback(self, location: str) -> FileIO:
        scheme = location.split("://", 1)[0] if "://" in location else "file"
        io = self._fallbacks.get(scheme)
        if io is None:
            # Without our own impl and memcat:// warehouse, pyiceberg picks its FileIO by the location alone.
            props = {k: v for k, v in self.properties.items() if k not in (PY_IO_IMPL, WAREHOUSE)}
            io = self._fallbacks[scheme] = load_file_io(props, location)
        return io

    def new_input(self, location: str) -> InputFile:
        return MemInputFile(location) if is_pool_url(location) else self._fallback(location).new_input(location)

    def new_output(self, location: str) -> OutputFile:
        if not is_pool_url(location):
            return self._fallback(location).new_output(location)
        owner = self.properties.get(OWNER)
        ttl = float(self.properties.get(leases.WRITE_LEASE_SECONDS, leases.DEFAULT_WRITE_LEASE_SECONDS))
        return MemOutputFile(location, str(owner) if owner else None, ttl)

    def delete(self, location: str | InputFile | OutputFile) -> None:
        path = location if isinstance(location, str) else location.location
        if not is_pool_url(path):
            self._fallback(path).delete(location)
            return
        pool, key = locate(path)
        pool.remove(key)
        if path.rsplit("/", 1)[-1].startswith("snap-"):
            # pyiceberg deletes a manifest list of a write only once that write is over (committed,
            # or given up after its retries): its other files need no pin any more.
            lease = leases.find(leases.write_id_of(path))
            if lease is not None and lease.ttl is not None:
                lease.release(finished=True)

    def __getstate__(self) -> dict[str, Properties]:
        return {"properties": self.properties}

    def __setstate__(self, state: dict[str, Properties]) -> None:
        FileIO.__init__(self, state["properties"])
        self._fallbacks = {}
