"""``memcat://``: the pools as an fsspec filesystem.

URLs are ``memcat://<pool>/<path>``. Instances hold no data: every call looks
the pool up in the process-wide registry, so fsspec's per-thread instance cache
cannot split what threads see.
"""

from __future__ import annotations

import errno
import io
import logging
import os
import threading
from datetime import datetime
from typing import Any, Literal, Protocol, overload

import pyarrow as pa
from fsspec import AbstractFileSystem
from fsspec.transaction import Transaction
from typing_extensions import NotRequired, TypedDict

from memcatalog import paths, urls
from memcatalog.config import PROTOCOL
from memcatalog.files import BufferFile, TextWriteFile, WriteFile
from memcatalog.pool import Pool, list_pools, locate

logger = logging.getLogger("memcatalog.filesystem")
_moving = threading.local()  # set while mv copies: those copies are not deferred by a transaction


class FileInfo(TypedDict):
    """What :meth:`PoolFileSystem.info` says about a path (fsspec's keys)."""

    name: str
    size: int
    type: Literal["file", "directory"]
    created: NotRequired[float]  # files only: seconds since the epoch


class PoolFileSystem(AbstractFileSystem):  # type: ignore[misc]
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

    @overload
    @classmethod
    def _strip_protocol(cls, path: list[str]) -> list[str]: ...

    @overload
    @classmethod
    def _strip_protocol(cls, path: str | os.PathLike[str]) -> str: ...

    @classmethod
    def _strip_protocol(cls, path: list[str] | str | os.PathLike[str]) -> list[str] | str:
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        return paths.normalize(str(path))

    def unstrip_protocol(self, name: str) -> str:
        return urls.from_path(self._strip_protocol(name))

    # ---- pool lookup ------------------------------------------------------
    def _locate(self, path: str, *, create: bool = False) -> tuple[Pool, str]:
        return locate(path, create=create)

    # ---- reading ---------------------------------------------------------------
    def info(self, path: str, **kwargs: object) -> FileInfo:
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

    def ls(self, path: str, detail: bool = True, **kwargs: object) -> list[FileInfo] | list[str]:
        name = self._strip_protocol(path)
        infos: list[FileInfo]
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

    def _child_info(self, pool: Pool, key: str) -> FileInfo | None:
        try:
            return self.info(f"{pool.name}/{key}")
        except FileNotFoundError:  # removed while listing
            return None

    def read_buffer(self, path: str) -> pa.Buffer:
        """The stored bytes as a ``pyarrow.Buffer``, without copying."""
        pool, key = self._locate(path)
        return pool.get(key)

    def cat_file(self, path: str, start: int | None = None, end: int | None = None, **kwargs: object) -> bytes:
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
    def open(
        self,
        path: str,
        mode: str = "rb",
        block_size: int | None = None,
        cache_options: dict[str, object] | None = None,
        compression: str | None = None,
        **kwargs: Any,  # fsspec's own options, and a text mode's encoding, errors and newline
    ) -> Any:  # what fsspec's open returns (ours, its text and compression wrappers): untyped
        """fsspec's ``open``; a text write (``w``, ``x``, ``a``) is discarded on failure like a binary one."""
        options = {"block_size": block_size, "cache_options": cache_options, "compression": compression}
        if "b" in mode or "r" in mode or compression is not None:
            return super().open(path, mode, **options, **kwargs)
        text = {k: kwargs.pop(k) for k in ("encoding", "errors", "newline") if k in kwargs}
        raw = super().open(path, mode.replace("t", "") + "b", **options, **kwargs)
        return TextWriteFile(raw, **text)

    def _open(
        self,
        path: str,
        mode: str = "rb",
        block_size: int | None = None,
        autocommit: bool = True,
        cache_options: dict[str, object] | None = None,
        **kwargs: object,
    ) -> io.RawIOBase:
        if mode == "rb":
            return BufferFile(self.read_buffer(path), self.unstrip_protocol(path))
        if mode not in ("wb", "xb", "ab"):
            raise ValueError(f"unsupported mode {mode!r} for memcat:// (use rb, wb, xb or ab)")
        pool, key = self._locate(path, create=True)
        writer = pool.writer(key, exclusive=mode == "xb", append=mode == "ab")
        return WriteFile(writer, autocommit=autocommit)

    def pipe_file(self, path: str, value: bytes, mode: str = "overwrite", **kwargs: object) -> None:
        if self._intrans:  # deferred like every write inside ``with fs.transaction:``
            with self.open(path, "xb" if mode == "create" else "wb") as f:
                f.write(value)
            return
        pool, key = self._locate(path, create=True)
        pool.put(key, value, exclusive=mode == "create")

    def cp_file(self, path1: str, path2: str, **kwargs: object) -> None:
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

    def rm(self, path: str | list[str], recursive: bool = False, maxdepth: int | None = None) -> None:
        if recursive and maxdepth is None and isinstance(path, str) and not self._has_glob(path):
            pool, key = self._locate(path)
            if pool.is_dir(key):
                pool.remove_tree(key)
                return
        super().rm(path, recursive=recursive, maxdepth=maxdepth)

    @staticmethod
    def _has_glob(path: str) -> bool:
        return any(c in path for c in "*?[")

    def mkdir(self, path: str, create_parents: bool = True, **kwargs: object) -> None:
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


def _is_within(key: str, directory: str) -> bool:
    return key == directory or not directory or key.startswith(directory + "/")


class _Deferred(Protocol):
    """A file a transaction holds back: ours (:class:`WriteFile`) or one fsspec opened."""

    def commit(self) -> None: ...

    def discard(self) -> None: ...


class PoolTransaction(Transaction):  # type: ignore[misc]
    """``with fs.transaction:`` over pools: every file is published, or none is.

    Before publishing any file, every publish is checked (a directory in the way, a file where a
    directory must go, an exclusive create that would replace a file), against the pools and
    against the other files of the transaction; on the first problem every file is discarded and
    the error raised.
    """

    fs: PoolFileSystem | None

    def complete(self, commit: bool = True) -> None:
        files: list[_Deferred] = list(self.files)
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


def _discard_all(files: list[_Deferred]) -> None:
    for f in files:
        try:
            f.discard()
        except Exception:  # one file that cannot be dropped must not keep the others
            logger.debug("discarding a deferred file failed", exc_info=True)


PoolFileSystem.transaction_type = PoolTransaction

# The earlier name (it serves pools, not catalogs). Kept without a warning here, because installed
# fsspec entry points name it; ``memcatalog.MemCatalogFileSystem`` warns.
MemCatalogFileSystem = PoolFileSystem


def _check_publishable(files: list[WriteFile]) -> None:
    """Raise the error the first failing publish of ``files``, in order, would raise; publish nothing."""
    new_files: set[tuple[str, str]] = set()  # what publishing the files before this one adds
    new_dirs: set[tuple[str, str]] = set()
    for f in files:
        pool, key = f.writer.pool, f.writer.key
        if pool.is_dir(key) or (pool.name, key) in new_dirs:
            raise IsADirectoryError(errno.EISDIR, "Is a directory", f.path)
        for d in paths.ancestors(key):
            if pool.entry(d) is not None or (pool.name, d) in new_files:
                raise NotADirectoryError(errno.ENOTDIR, "Not a directory", urls.build(pool.name, d))
        if f.writer.exclusive and (pool.entry(key) is not None or (pool.name, key) in new_files):
            raise FileExistsError(errno.EEXIST, "File exists", f.path)
        new_files.add((pool.name, key))
        new_dirs.update((pool.name, d) for d in paths.ancestors(key))
