"""A pyiceberg FileIO that sends ``memcat://`` to the pools and every other scheme to pyiceberg's own FileIO.

``s3://`` URLs of buckets that this process's S3 endpoint serves (``memcatalog.buckets``) are
pool files too: they are read and written here straight from the pool, with no HTTP.
"""

from __future__ import annotations

import contextlib

import pyarrow as pa
from pyiceberg.io import FileIO, InputFile, InputStream, OutputFile, OutputStream, load_file_io
from pyiceberg.typedef import EMPTY_DICT, Properties

from memcatalog import buckets  # noqa: F401  (registers served s3:// buckets with memcatalog.urls)
from memcatalog.config import PY_IO_IMPL, WAREHOUSE
from memcatalog.files import WriteFile
from memcatalog.pool import locate
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
    """A file to be written; ``create()`` streams into the pool and publishes on a clean close."""

    def __len__(self) -> int:
        return len(self.to_input_file())

    def exists(self) -> bool:
        return self.to_input_file().exists()

    def to_input_file(self) -> InputFile:
        return MemInputFile(self.location)

    def create(self, overwrite: bool = False) -> OutputStream:
        pool, key = locate(self.location, create=True)
        stream: OutputStream = WriteFile(pool.writer(key, exclusive=not overwrite))
        return stream


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
        return MemOutputFile(location) if is_pool_url(location) else self._fallback(location).new_output(location)

    def delete(self, location: str | InputFile | OutputFile) -> None:
        path = location if isinstance(location, str) else location.location
        if not is_pool_url(path):
            self._fallback(path).delete(location)
            return
        pool, key = locate(path)
        pool.remove(key)

    def __getstate__(self) -> dict[str, Properties]:
        return {"properties": self.properties}

    def __setstate__(self, state: dict[str, Properties]) -> None:
        FileIO.__init__(self, state["properties"])
        self._fallbacks = {}
