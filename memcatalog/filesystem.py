"""``memcat://``: the pools as an fsspec filesystem.

URLs are ``memcat://<pool>/<path>``. Instances hold no data: every call looks
the pool up in the process-wide registry, so fsspec's per-thread instance cache
cannot split what threads see.
"""

from __future__ import annotations

import errno
import io
import logging
import sys
import threading
from datetime import datetime
from types import FrameType
from typing import Any

import pyarrow as pa
from fsspec import AbstractFileSystem
from fsspec.core import OpenFile
from fsspec.transaction import Transaction

from memcatalog import paths
from memcatalog.config import PROTOCOL
from memcatalog.pool import Pool, PoolWriter, find_pool, get_pool, list_pools

logger = logging.getLogger("memcatalog.filesystem")
_moving = threading.local()  # set while mv copies: those copies are not deferred by a transaction


class MemCatalogFileSystem(AbstractFileSystem):  # type: ignore[misc]
    """An fsspec filesystem over memcatalog's pools.

    Example:
        >>> import fsspec
        >>> with fsspec.open("memcat://docs-example/hello.txt", "wb") as f:
        ...     _ = f.write(b"hello")
        >>> fsspec.open("memcat://docs-example/hello.txt", "rb").open().read()
        b'hello'
    """

    protocol = (PROTOCOL,)
    root_marker = ""
    transaction_type: type[Transaction]  # PoolTransaction, set below its definition

    @classmethod
    def _strip_protocol(cls, path: Any) -> str:
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]  # type: ignore[return-value]
        return paths.normalize(str(path))

    def unstrip_protocol(self, name: str) -> str:
        return f"{PROTOCOL}://{name}"

    # ---- pool lookup ------------------------------------------------------
    def _locate(self, path: str, *, create: bool = False) -> tuple[Pool, str]:
        pool_name, key = paths.split_pool(self._strip_protocol(path))
        if not pool_name:
            raise IsADirectoryError(errno.EISDIR, "the memcat:// root lists pools; it holds no files", path)
        pool = get_pool(pool_name) if create else find_pool(pool_name)
        if pool is None:
            raise FileNotFoundError(errno.ENOENT, f"no pool named {pool_name!r} in this process", path)
        return pool, key

    # ---- reading ---------------------------------------------------------------
    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        name = self._strip_protocol(path)
        if not name:
            return {"name": "", "size": 0, "type": "directory"}
        pool, key = self._locate(name)
        entry = pool.entry(key)
        if entry is not None:
            return {"name": name, "size": entry.size, "type": "file", "created": entry.created.timestamp()}
        if pool.is_dir(key):
            return {"name": name, "size": 0, "type": "directory"}
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        name = self._strip_protocol(path)
        infos: list[dict[str, Any]]
        if not name:
            infos = [{"name": p, "size": 0, "type": "directory"} for p in list_pools()]
        else:
            pool, key = self._locate(name)
            if pool.entry(key) is not None:
                infos = [self.info(name)]
            else:
                found = [self._child_info(pool, k) for k in pool.listdir(key)]
                infos = [i for i in found if i is not None]
        return infos if detail else [i["name"] for i in infos]

    def _child_info(self, pool: Pool, key: str) -> dict[str, Any] | None:
        try:
            return self.info(f"{pool.name}/{key}")
        except FileNotFoundError:  # removed while listing
            return None

    def read_buffer(self, path: str) -> pa.Buffer:
        """The stored bytes as a ``pyarrow.Buffer``, without copying."""
        pool, key = self._locate(path)
        return pool.get(key)

    def cat_file(self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any) -> bytes:
        buf = self.read_buffer(path)
        begin, stop, _ = slice(start, end).indices(buf.size)
        return bytes(buf.slice(begin, max(stop - begin, 0)))

    def created(self, path: str) -> datetime:
        pool, key = self._locate(path)
        entry = pool.entry(key)
        if entry is None:
            raise FileNotFoundError(errno.ENOENT, "No such file", path)
        return entry.created

    def modified(self, path: str) -> datetime:
        # Files are immutable: a rewrite publishes a new file, so created == modified.
        return self.created(path)

    # ---- writing ---------------------------------------------------------------
    def open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        """fsspec's ``open``; a text write (``w``, ``x``, ``a``) is discarded on failure like a binary one."""
        if "b" in mode or "r" in mode or kwargs.get("compression") is not None:
            return super().open(path, mode, **kwargs)
        text = {k: kwargs.pop(k) for k in ("encoding", "errors", "newline") if k in kwargs}
        raw = super().open(path, mode.replace("t", "") + "b", **kwargs)
        return TextWriteFile(raw, **text)

    def _open(
        self,
        path: str,
        mode: str = "rb",
        block_size: int | None = None,
        autocommit: bool = True,
        cache_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> io.RawIOBase:
        if mode == "rb":
            return BufferFile(self.read_buffer(path), self.unstrip_protocol(self._strip_protocol(path)))
        if mode not in ("wb", "xb", "ab"):
            raise ValueError(f"unsupported mode {mode!r} for memcat:// (use rb, wb, xb or ab)")
        pool, key = self._locate(path, create=True)
        writer = pool.writer(key, exclusive=mode == "xb", append=mode == "ab")
        return WriteFile(writer, autocommit=autocommit)

    def pipe_file(self, path: str, value: bytes, mode: str = "overwrite", **kwargs: Any) -> None:
        if self._intrans:  # deferred like every write inside ``with fs.transaction:``
            with self.open(path, "xb" if mode == "create" else "wb") as f:
                f.write(value)
            return
        pool, key = self._locate(path, create=True)
        pool.put(key, value, exclusive=mode == "create")

    def cp_file(self, path1: str, path2: str, **kwargs: Any) -> None:
        src_pool, src_key = self._locate(path1)
        if src_pool.is_dir(src_key):
            self.makedirs(path2, exist_ok=True)
            return
        buf = src_pool.get(src_key)
        if self._intrans and not getattr(_moving, "active", False):
            with self.open(path2, "wb") as f:
                f.write(buf)
            return
        dst_pool, dst_key = self._locate(path2, create=True)
        dst_pool.put_buffer(dst_key, buf)  # buffers are immutable, so a copy can share them

    def mv(self, path1: str, path2: str, recursive: bool = False, maxdepth: int | None = None, **kwargs: Any) -> None:
        src_pool, src_key = self._locate(path1)
        dst_pool, dst_key = self._locate(path2, create=True)
        if src_pool is dst_pool and src_pool.entry(src_key) is not None:
            if dst_pool.is_dir(dst_key):
                dst_key = f"{dst_key}/{src_key.rpartition('/')[2]}" if dst_key else src_key.rpartition("/")[2]
            if dst_key != src_key:  # onto itself: nothing to do, as on a disk
                src_pool.rename(src_key, dst_key)
            return
        if src_pool.entry(src_key) is None and not src_pool.is_dir(src_key) and not self._has_glob(path1):
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", path1)
        if src_pool is dst_pool and src_pool.is_dir(src_key) and _is_within(dst_key, src_key):
            if dst_key == src_key:
                return  # onto itself, as on a disk
            raise OSError(errno.EINVAL, f"cannot move directory {self.unstrip_protocol(path1)} into itself", path2)
        # fsspec moves by copy then delete; the delete is immediate, so the copy must be too,
        # even inside a transaction (LocalFileSystem moves at once there as well).
        _moving.active = True
        try:
            super().mv(path1, path2, recursive=recursive, maxdepth=maxdepth, **kwargs)
        finally:
            _moving.active = False

    def _rm(self, path: str) -> None:
        pool, key = self._locate(path)
        if pool.entry(key) is not None:
            pool.remove(key)
        else:
            self.rmdir(path)

    def rm(self, path: Any, recursive: bool = False, maxdepth: int | None = None) -> None:
        if recursive and maxdepth is None and isinstance(path, str) and not self._has_glob(path):
            pool, key = self._locate(path)
            if pool.is_dir(key):
                pool.remove_tree(key)
                return
        super().rm(path, recursive=recursive, maxdepth=maxdepth)

    @staticmethod
    def _has_glob(path: str) -> bool:
        return any(c in path for c in "*?[")

    def mkdir(self, path: str, create_parents: bool = True, **kwargs: Any) -> None:
        pool, key = self._locate(path, create=True)
        if not key:
            return
        pool.mkdir(key, parents=create_parents, exist_ok=False)

    def makedirs(self, path: str, exist_ok: bool = False) -> None:
        pool, key = self._locate(path, create=True)
        if key:
            pool.mkdir(key, parents=True, exist_ok=exist_ok)

    def rmdir(self, path: str) -> None:
        pool, key = self._locate(path)
        pool.rmdir(key)


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

    def readinto(self, b: Any) -> int:
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
        self.path = self.name = writer.pool._url(writer.key)

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
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

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
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

    def __init__(self, raw: WriteFile, **text: Any) -> None:
        super().__init__(raw, **text)  # a raw file, as fsspec's own text mode wraps it
        self._raw = raw

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is not None:
            self._raw.discard()  # the wrapper then sees a closed file and flushes nothing
        super().__exit__(exc_type, exc, tb)

    def __del__(self) -> None:
        # Never publish from garbage collection (io's finalizer would close, and so publish).
        raw = getattr(self, "_raw", None)
        if raw is not None and not raw.closed:
            raw.discard()


def _is_within(key: str, directory: str) -> bool:
    return key == directory or not directory or key.startswith(directory + "/")


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


class PoolTransaction(Transaction):  # type: ignore[misc]
    """``with fs.transaction:`` over pools: every file is published, or none is.

    Before publishing any file, every publish is checked (a directory in the way, a file where a
    directory must go, an exclusive create that would replace a file), against the pools and
    against the other files of the transaction; on the first problem every file is discarded and
    the error raised.
    """

    fs: MemCatalogFileSystem | None

    def complete(self, commit: bool = True) -> None:
        files: list[Any] = list(self.files)
        self.files.clear()
        try:
            if not commit:
                _discard_all(files)
                return
            try:
                _check_publishable([f for f in files if isinstance(f, WriteFile)])
            except BaseException:
                _discard_all(files)
                raise
            for i, f in enumerate(files):
                try:
                    f.commit()
                except BaseException:  # a writer racing in from outside the transaction
                    _discard_all(files[i + 1 :])
                    raise
        finally:
            # As fsspec's own Transaction: the transaction ends even when completing it failed.
            if self.fs is not None:
                self.fs._intrans = False
                self.fs._transaction = None
                self.fs = None


def _discard_all(files: list[Any]) -> None:
    for f in files:
        try:
            f.discard()
        except Exception:  # one file that cannot be dropped must not keep the others
            logger.debug("discarding a deferred file failed", exc_info=True)


MemCatalogFileSystem.transaction_type = PoolTransaction


def _check_publishable(files: list[WriteFile]) -> None:
    """Raise the error the first failing publish of ``files``, in order, would raise; publish nothing."""
    new_files: set[tuple[str, str]] = set()  # what publishing the files before this one adds
    new_dirs: set[tuple[str, str]] = set()
    for f in files:
        pool, key = f._writer.pool, f._writer.key
        if pool.is_dir(key) or (pool.name, key) in new_dirs:
            raise IsADirectoryError(errno.EISDIR, "Is a directory", f.path)
        for d in paths.ancestors(key):
            if pool.entry(d) is not None or (pool.name, d) in new_files:
                raise NotADirectoryError(errno.ENOTDIR, "Not a directory", pool._url(d))
        if f._writer.exclusive and (pool.entry(key) is not None or (pool.name, key) in new_files):
            raise FileExistsError(errno.EEXIST, "File exists", f.path)
        new_files.add((pool.name, key))
        new_dirs.update((pool.name, d) for d in paths.ancestors(key))
