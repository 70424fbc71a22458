"""File objects over a pool: reading one stored buffer, streaming one write.

Shared by the fsspec filesystem (``fs.open``) and the pyiceberg FileIO (``OutputFile.create``):
both hand these out, neither borrows them from the other.
"""

from __future__ import annotations

import errno
import io
import sys
from types import FrameType, TracebackType

import pyarrow as pa
from fsspec.core import OpenFile
from typing_extensions import Buffer

from memcatalog import urls
from memcatalog.pool import PoolWriter


class BufferFile(io.RawIOBase):
    """A read-only file over one stored buffer. Every open has its own position."""

    def __init__(self, buffer: pa.Buffer, name: str) -> None:
        super().__init__()
        self.buffer = buffer
        self._view = memoryview(buffer).cast("B")
        self.size = len(self._view)
        self.name = name
        self.path = name
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        bases = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}
        if whence not in bases:
            raise ValueError(f"invalid whence ({whence!r}, should be {io.SEEK_SET}, {io.SEEK_CUR} or {io.SEEK_END})")
        base = bases[whence]
        if base + offset < 0:
            raise OSError(errno.EINVAL, "negative seek position", self.name)
        self._pos = base + offset
        return self._pos

    def read(self, size: int | None = -1) -> bytes:
        if self.closed:
            raise ValueError("I/O operation on closed file")
        end = self.size if size is None or size < 0 else min(self._pos + size, self.size)
        out = self._view[self._pos : end].tobytes() if end > self._pos else b""
        self._pos = max(self._pos, end)
        return out

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, b: Buffer) -> int:
        target = memoryview(b).cast("B")
        n = max(min(len(target), self.size - self._pos), 0)
        target[:n] = self._view[self._pos : self._pos + n]
        self._pos += n
        return n

    def close(self) -> None:
        self._view.release()
        super().close()


class WriteFile(io.RawIOBase):
    """A streaming write into a pool: published on a clean close, discarded otherwise."""

    def __init__(self, writer: PoolWriter, *, autocommit: bool = True) -> None:
        super().__init__()
        self._writer = writer
        # fsspec's OpenFile closes its files on the way out of a failed with-block without saying
        # why; see _leaving_failed_open_file.
        self._exception_at_open = sys.exc_info()[1]
        self.autocommit = autocommit
        self.path = self.name = urls.build(writer.pool.name, writer.key)

    @property
    def writer(self) -> PoolWriter:
        """The pool writer this file streams into."""
        return self._writer

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview | pa.Buffer) -> int:
        if self.closed:
            raise ValueError("I/O operation on closed file")
        return self._writer.write(data)

    def tell(self) -> int:
        return self._writer.tell()

    def close(self) -> None:
        if self.closed:
            return
        if _leaving_failed_open_file(self._exception_at_open):
            self.discard()
            return
        try:
            # A writer that already failed (quota) stays discarded.
            if self.autocommit and not self._writer.closed:
                self._writer.commit()
        finally:
            super().close()

    def commit(self) -> None:
        """Publish a file written inside ``fs.transaction``."""
        self._writer.commit()

    def discard(self) -> None:
        """Drop a file written inside ``fs.transaction``."""
        self._writer.abort()
        super().close()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None:
            self.discard()
        else:
            self.close()

    def __del__(self) -> None:
        # Never publish from garbage collection: an unclosed writer is an abandoned one.
        writer = getattr(self, "_writer", None)
        if writer is not None:
            writer.abort()


class TextWriteFile(io.TextIOWrapper):
    """Text over a :class:`WriteFile`, with its rules: a failed with-block or garbage collection discards, close publishes."""

    def __init__(
        self, raw: WriteFile, *, encoding: str | None = None, errors: str | None = None, newline: str | None = None
    ) -> None:
        # a raw file, as fsspec's own text mode wraps it
        super().__init__(raw, encoding=encoding, errors=errors, newline=newline)
        self._raw = raw

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None:
            self._raw.discard()  # the wrapper then sees a closed file and flushes nothing
        super().__exit__(exc_type, exc, tb)

    def __del__(self) -> None:
        # Never publish from garbage collection (io's finalizer would close, and so publish).
        raw = getattr(self, "_raw", None)
        if raw is not None and not raw.closed:
            raw.discard()


_OPEN_FILE_EXIT = OpenFile.__exit__.__code__


def _leaving_failed_open_file(exception_at_open: BaseException | None) -> bool:
    """Whether ``close()`` is fsspec's ``OpenFile.__exit__`` leaving a with-block on an exception.

    ``with fsspec.open(url, "wb") as f:`` ends in ``OpenFile.__exit__``, which calls ``close()``
    and never says that the block failed: an exception being handled there that was not already
    being handled at open means it did. Any other ``close()`` (an explicit one, even inside an
    ``except:`` block) publishes.
    """
    failing = sys.exc_info()[1]
    if failing is None or failing is exception_at_open:
        return False
    frame: FrameType | None = sys._getframe(2)  # our caller's caller: OpenFile.close, then OpenFile.__exit__
    for _ in range(4):
        if frame is None:
            return False
        if frame.f_code is _OPEN_FILE_EXIT:
            return True
        frame = frame.f_back
    return False
