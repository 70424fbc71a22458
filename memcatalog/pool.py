"""The pool: immutable files held as Arrow buffers, under one byte quota.

Only this module owns bytes and their accounting. Everything above it (the
filesystem, the FileIO, the catalog) looks pools up by name and asks them for
buffers; nothing keeps bytes of its own.
"""

from __future__ import annotations

import errno
import logging
import threading
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import NamedTuple

import pyarrow as pa

from memcatalog import paths, urls
from memcatalog.config import DEFAULT_ALERT_THRESHOLDS, DEFAULT_QUOTA, format_size, parse_size
from memcatalog.errors import QuotaExceededError

logger = logging.getLogger("memcatalog.pool")


@dataclass(frozen=True)
class FileEntry:
    """One stored file: an immutable buffer, when it was published and who owns it.

    ``owner`` is the identity of the catalog that wrote or imported the file (see
    ``memcatalog.ownership``), or None when nobody claimed it (a file written through
    fsspec or DuckDB). Only its owner's ``reclaim()`` may ever delete it.
    """

    buffer: pa.Buffer
    created: datetime
    owner: str | None = None

    @property
    def size(self) -> int:
        return int(self.buffer.size)


class Usage(NamedTuple):
    """Bytes and files stored under one place (a directory, a table, a namespace); unpacks as ``(bytes, files)``."""

    bytes: int
    files: int


@dataclass(frozen=True)
class PoolStats:
    """A consistent snapshot of a pool's accounting, in bytes."""

    name: str
    quota: int
    used: int
    reserved: int
    peak: int
    files: int

    @property
    def free(self) -> int:
        return max(self.quota - self.used - self.reserved, 0)


@dataclass(frozen=True)
class PressureAlert:
    """Sent to pressure callbacks when usage (stored plus reserved bytes) crosses a threshold upwards."""

    pool: str
    threshold: float
    used: int
    reserved: int
    quota: int


AlertCallback = Callable[[PressureAlert], None]
_relieving = threading.local()  # set while a reliever runs in this thread


@dataclass
class _Accounting:
    used: int = 0
    reserved: int = 0
    peak: int = 0
    alert_level: int = 0
    callbacks: list[AlertCallback] = field(default_factory=list)


class Pool:
    """A named set of immutable files kept in memory as ``pyarrow.Buffer`` objects.

    Keys are paths inside the pool (``db/t/data/x.parquet``). Parents of a file
    are directories and exist as long as they are not removed, like on a disk.

    Args:
        name: the pool's name, the first component of its ``memcat://`` URLs.
        quota: bytes, or a size string such as ``"512MiB"``. Default 1 GiB.
        thresholds: fractions of the quota at which pressure alerts fire.
    """

    def __init__(
        self,
        name: str,
        quota: int | str = DEFAULT_QUOTA,
        thresholds: tuple[float, ...] = DEFAULT_ALERT_THRESHOLDS,
    ) -> None:
        self.name = _check_pool_name(name)
        self._quota = parse_size(quota)
        self._thresholds = tuple(sorted(thresholds))
        self._files: dict[str, FileEntry] = {}
        self._dirs: dict[str, set[str]] = {"": set()}
        self._acct = _Accounting()
        self._relievers: list[Callable[[], Callable[[int], int] | None]] = []
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        s = self.stats()
        return f"Pool({self.name!r}, used={format_size(s.used)}, quota={format_size(s.quota)}, files={s.files})"

    # ---- reading --------------------------------------------------------
    def entry(self, key: str) -> FileEntry | None:
        """The file stored under ``key``, or None. Constant time."""
        return self._files.get(key)

    def get(self, key: str) -> pa.Buffer:
        """The buffer stored under ``key`` (zero copy).

        Raises:
            IsADirectoryError: ``key`` is a directory.
            FileNotFoundError: nothing is stored under ``key``.
        """
        found = self._files.get(key)
        if found is not None:
            return found.buffer
        if key in self._dirs:
            raise IsADirectoryError(self._url(key))
        raise FileNotFoundError(self._url(key))

    def is_dir(self, key: str) -> bool:
        return key in self._dirs

    def listdir(self, key: str) -> list[str]:
        """Keys of the entries directly inside directory ``key``, sorted."""
        with self._lock:
            return sorted(self._children(key))

    def keys(self, prefix: str = "") -> list[str]:
        """Keys of every file at or below directory ``prefix`` (all files when empty)."""
        with self._lock:
            if not prefix:
                return list(self._files)
            start = prefix.rstrip("/") + "/"
            return [k for k in self._files if k.startswith(start) or k == prefix]

    def items(self) -> Iterator[tuple[str, FileEntry]]:
        with self._lock:
            snapshot = list(self._files.items())
        return iter(snapshot)

    # ---- writing --------------------------------------------------------
    def writer(
        self, key: str, *, exclusive: bool = False, append: bool = False, owner: str | None = None
    ) -> PoolWriter:
        """Start a streaming write to ``key``; nothing is visible until ``commit()``.

        ``owner`` is recorded on the published file (an append keeps the old file's owner
        when none is given).
        """
        self._check_writable(key)
        if exclusive and key in self._files:
            raise FileExistsError(self._url(key))
        old = self._files.get(key) if append else None
        w = PoolWriter(self, key, exclusive=exclusive, owner=owner if owner is not None or old is None else old.owner)
        if old is not None:
            w.write(old.buffer)
        return w

    def put(
        self,
        key: str,
        data: bytes | bytearray | memoryview | pa.Buffer,
        *,
        exclusive: bool = False,
        owner: str | None = None,
    ) -> FileEntry:
        """Store ``data`` under ``key`` in one step (reserve, copy, publish)."""
        w = self.writer(key, exclusive=exclusive, owner=owner)
        w.write(data)
        return w.commit()

    def put_buffer(
        self, key: str, buffer: pa.Buffer, *, exclusive: bool = False, owner: str | None = None
    ) -> FileEntry:
        """Store an existing immutable Arrow buffer under ``key`` without copying it."""
        self._check_writable(key)
        self._reserve(buffer.size, key)
        return self._publish(key, buffer, buffer.size, exclusive, owner)

    def remove(self, key: str) -> int:
        """Delete one file; returns the bytes freed."""
        with self._lock:
            old = self._files.pop(key, None)
            if old is None:
                if key in self._dirs:
                    raise IsADirectoryError(self._url(key))
                raise FileNotFoundError(self._url(key))
            self._dirs[paths.parent(key)].discard(key)
            self._acct.used -= old.size
        self._check_pressure()
        return old.size

    def remove_if(self, key: str, entry: FileEntry) -> int | None:
        """Delete ``key`` only if it still holds ``entry`` (not a file published since).

        Returns the bytes freed, or None when nothing was deleted.
        """
        with self._lock:
            if self._files.get(key) is not entry:
                return None
            del self._files[key]
            self._dirs[paths.parent(key)].discard(key)
            self._acct.used -= entry.size
        self._check_pressure()
        return entry.size

    def adopt(self, key: str, owner: str) -> bool:
        """Record ``owner`` on a file that has none; False when the file is missing or already owned."""
        with self._lock:
            entry = self._files.get(key)
            if entry is None or entry.owner is not None:
                return False
            self._files[key] = FileEntry(entry.buffer, entry.created, owner)
            return True

    def owned_by(self, owner: str) -> list[tuple[str, FileEntry]]:
        """(key, entry) of every file whose recorded owner is ``owner``."""
        with self._lock:
            return [(k, e) for k, e in self._files.items() if e.owner == owner]

    def mkdir(self, key: str, *, parents: bool = True, exist_ok: bool = True) -> None:
        with self._lock:
            if key in self._files:
                raise FileExistsError(self._url(key))
            for d in paths.ancestors(key):  # a directory under a file would make it both
                if d in self._files:
                    raise NotADirectoryError(errno.ENOTDIR, "Not a directory", self._url(d))
            if key in self._dirs:
                if not exist_ok:
                    raise FileExistsError(self._url(key))
                return
            if not parents and paths.parent(key) not in self._dirs:
                raise FileNotFoundError(self._url(paths.parent(key)))
            self._add_dirs(key)

    def rmdir(self, key: str) -> None:
        with self._lock:
            if self._children(key):
                raise OSError(errno.ENOTEMPTY, "Directory not empty", self._url(key))
            if key:
                del self._dirs[key]
                self._dirs[paths.parent(key)].discard(key)

    def remove_tree(self, key: str) -> int:
        """Remove a directory and everything below it; returns the bytes freed."""
        freed = 0
        with self._lock:
            if key not in self._dirs:
                raise FileNotFoundError(self._url(key))
            start = key + "/" if key else ""
            for k in [k for k in self._files if k.startswith(start)]:
                freed += self._files.pop(k).size
            for d in [d for d in self._dirs if d.startswith(start)]:
                del self._dirs[d]
            if key:
                del self._dirs[key]
                self._dirs[paths.parent(key)].discard(key)
            else:
                self._dirs[""] = set()
            self._acct.used -= freed
        self._check_pressure()
        return freed

    def rename(self, src: str, dst: str) -> None:
        """Move a file without copying its bytes. Replaces ``dst`` if it is a file."""
        with self._lock:
            entry = self._files.get(src)
            if entry is None:
                raise FileNotFoundError(self._url(src))
            self._check_target(dst)
            old = self._files.pop(dst, None)
            del self._files[src]
            self._dirs[paths.parent(src)].discard(src)
            self._add_dirs(paths.parent(dst))
            self._dirs[paths.parent(dst)].add(dst)
            self._files[dst] = entry
            if old is not None:
                self._acct.used -= old.size

    def clear(self) -> int:
        """Remove every file and directory; returns the bytes freed."""
        return self.remove_tree("")

    # ---- quota and accounting -------------------------------------------
    @property
    def quota(self) -> int:
        return self._quota

    def set_quota(self, quota: int | str) -> None:
        """Change the quota while running. Lowering it below current use refuses new writes; no data is dropped."""
        new = parse_size(quota)
        with self._lock:
            self._quota = new
        self._check_pressure()

    def stats(self) -> PoolStats:
        with self._lock:
            a = self._acct
            return PoolStats(self.name, self._quota, a.used, a.reserved, a.peak, len(self._files))

    def usage(self, prefix: str = "") -> Usage:
        """(bytes, files) stored at or below directory ``prefix``."""
        with self._lock:
            start = prefix.rstrip("/") + "/" if prefix else ""
            sizes = [e.size for k, e in self._files.items() if k.startswith(start)]
        return Usage(sum(sizes), len(sizes))

    def reset_peak(self) -> None:
        with self._lock:
            self._acct.peak = self._acct.used + self._acct.reserved

    def check(self) -> list[str]:
        """Recompute the accounting from the stored files; one line per discrepancy, empty when healthy."""
        problems: list[str] = []
        with self._lock:
            total = sum(e.size for e in self._files.values())
            if total != self._acct.used:
                problems.append(f"pool {self.name!r}: used is {self._acct.used} bytes but files hold {total}")
            if self._acct.reserved != 0:
                problems.append(f"pool {self.name!r}: {self._acct.reserved} bytes reserved by writes never finished")
            if self._acct.used < 0:
                problems.append(f"pool {self.name!r}: used is negative ({self._acct.used})")
            for key in self._files:
                parent = paths.parent(key)
                if key not in self._dirs.get(parent, ()):
                    problems.append(f"pool {self.name!r}: file {key!r} is missing from its directory {parent!r}")
                if key in self._dirs:
                    problems.append(f"pool {self.name!r}: {key!r} is both a file and a directory")
        return problems

    def on_pressure(self, callback: AlertCallback) -> Callable[[], None]:
        """Call ``callback`` each time usage crosses a threshold upwards; returns a function that unsubscribes."""
        with self._lock:
            self._acct.callbacks.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._acct.callbacks:
                    self._acct.callbacks.remove(callback)

        return unsubscribe

    # ---- internals ------------------------------------------------------
    def _url(self, key: str) -> str:
        return urls.build(self.name, key)

    def _reserve(self, n: int, key: str, alerts: list[PressureAlert] | None = None) -> None:
        """Reserve ``n`` bytes for ``key``; with ``alerts`` given, pressure alerts are left there to fire later."""
        for attempt in range(2):
            with self._lock:
                a = self._acct
                free = self._quota - a.used - a.reserved
                if n <= free:
                    a.reserved += n
                    a.peak = max(a.peak, a.used + a.reserved)
                    break
            if attempt == 0 and self._relieve(n - free):
                continue  # something was freed: try once more
            raise QuotaExceededError(self._url(key), n, free, self._quota, self.name)
        self._check_pressure(alerts)

    def on_full(self, reliever: Callable[[int], int]) -> None:
        """Ask ``reliever(shortfall_bytes) -> bytes_freed`` to free space before a write fails on the quota.

        Held by weak reference when it is a bound method, so a catalog can go away. Not called
        again from inside a reliever (a reliever's own writes fail normally).
        """
        ref: Callable[[], Callable[[int], int] | None]
        ref = weakref.WeakMethod(reliever) if hasattr(reliever, "__self__") else (lambda: reliever)
        with self._lock:
            self._relievers.append(ref)

    def _relieve(self, shortfall: int) -> bool:
        if getattr(_relieving, "active", False):
            return False
        with self._lock:
            relievers = [r() for r in self._relievers]
        freed = 0
        _relieving.active = True
        try:
            for reliever in relievers:
                if reliever is None or freed >= shortfall:
                    continue
                try:
                    freed += reliever(shortfall - freed)
                except Exception:  # a failing reliever must not hide the quota error behind its own
                    logger.exception("pool %r: a reliever failed while the pool was full", self.name)
        finally:
            _relieving.active = False
        return freed > 0

    def _release(self, n: int, alerts: list[PressureAlert] | None = None) -> None:
        with self._lock:
            self._acct.reserved -= n
        self._check_pressure(alerts)

    def _publish(
        self, key: str, buffer: pa.Buffer, reserved: int, exclusive: bool, owner: str | None = None
    ) -> FileEntry:
        entry = FileEntry(buffer, datetime.now(timezone.utc), owner)
        with self._lock:
            try:
                self._check_target(key)
                if exclusive and key in self._files:
                    raise FileExistsError(self._url(key))
            except OSError:
                self._acct.reserved -= reserved
                raise
            old = self._files.get(key)
            self._files[key] = entry
            self._add_dirs(paths.parent(key))
            self._dirs[paths.parent(key)].add(key)
            self._acct.reserved -= reserved
            self._acct.used += entry.size - (old.size if old else 0)
        self._check_pressure()
        return entry

    def _children(self, key: str) -> set[str]:
        # Caller holds the lock.
        children = self._dirs.get(key)
        if children is None:
            if key in self._files:
                raise NotADirectoryError(self._url(key))
            raise FileNotFoundError(self._url(key))
        return children

    def _check_writable(self, key: str) -> None:
        with self._lock:
            self._check_target(key)

    def _check_target(self, key: str) -> None:
        # Caller holds the lock.
        if not key:
            raise IsADirectoryError(self._url(key))
        if key in self._dirs:
            raise IsADirectoryError(self._url(key))
        for d in paths.ancestors(key):
            if d in self._files:
                raise NotADirectoryError(self._url(d))

    def _add_dirs(self, key: str) -> None:
        # Caller holds the lock.
        child: str | None = None
        while True:
            existed = key in self._dirs
            if not existed:
                self._dirs[key] = set()
            if child is not None:
                self._dirs[key].add(child)
            if existed:
                return
            child, key = key, paths.parent(key)

    def _check_pressure(self, deferred: list[PressureAlert] | None = None) -> None:
        """Fire the alerts of thresholds crossed upwards, outside the pool's lock.

        A caller that holds a lock of its own (a writer) passes ``deferred`` and fires the alerts
        with :meth:`_fire` once it has let go: a callback may then do anything, even abort that writer.
        """
        with self._lock:
            a = self._acct
            level_now = sum(1 for t in self._thresholds if a.used + a.reserved >= t * self._quota)
            crossed = self._thresholds[a.alert_level : level_now]
            a.alert_level = level_now
            alerts = [PressureAlert(self.name, t, a.used, a.reserved, self._quota) for t in crossed]
        if deferred is not None:
            deferred.extend(alerts)
        else:
            self._fire(alerts)

    def _fire(self, alerts: list[PressureAlert]) -> None:
        if not alerts:
            return
        with self._lock:
            callbacks = list(self._acct.callbacks)
        for alert in alerts:
            logger.warning(
                "memory pressure in pool %r: %s of %s in use (over %.0f%% of the quota)",
                alert.pool,
                format_size(alert.used + alert.reserved),
                format_size(alert.quota),
                alert.threshold * 100,
            )
            for cb in callbacks:
                try:
                    cb(alert)
                except Exception:  # a failing callback must not fail (nor leak) the write that crossed the line
                    logger.exception("pool %r: a pressure callback failed", alert.pool)


class PoolWriter:
    """A streaming write: bytes are reserved against the quota as they arrive.

    ``commit()`` publishes the file atomically; ``abort()`` (also on garbage
    collection) drops it and releases every reserved byte.
    """

    def __init__(self, pool: Pool, key: str, *, exclusive: bool = False, owner: str | None = None) -> None:
        self.pool = pool
        self.key = key
        self.exclusive = exclusive
        self.owner = owner
        self._chunks: list[bytes] = []
        self._size = 0
        self._done = False
        self._lock = threading.Lock()  # a writer may be aborted from another thread mid-write

    def write(self, data: bytes | bytearray | memoryview | pa.Buffer) -> int:
        chunk = memoryview(data).cast("B").tobytes() if not isinstance(data, bytes) else data
        n = len(chunk)
        alerts: list[PressureAlert] = []  # fired after the lock is released: a callback may abort this writer
        try:
            with self._lock:
                if self._done:
                    raise ValueError(f"write to {self.pool._url(self.key)} after it was committed or aborted")
                if n == 0:
                    return 0
                try:
                    self.pool._reserve(n, self.key, alerts)
                except QuotaExceededError:
                    self._abort_locked(alerts)
                    raise
                self._chunks.append(chunk)
                self._size += n
        finally:
            self.pool._fire(alerts)
        return n

    def tell(self) -> int:
        return self._size

    @property
    def closed(self) -> bool:
        return self._done

    def commit(self) -> FileEntry:
        with self._lock:
            if self._done:
                raise ValueError(f"{self.pool._url(self.key)} was already committed or aborted")
            self._done = True
            chunks, self._chunks = self._chunks, []
        return self.pool._publish(self.key, _concat(chunks, self._size), self._size, self.exclusive, self.owner)

    def take(self, other: PoolWriter) -> int:
        """Append the bytes of ``other``, an unfinished writer of the same pool, moving its reservation.

        Nothing new is reserved, so joining parts written separately (S3 multipart uploads) cannot
        fail on the quota; ``other`` ends finished. Returns the bytes taken.
        """
        if other.pool is not self.pool or other is self:
            raise ValueError("take() joins two different writers of one pool")
        with self._lock, other._lock:
            if self._done or other._done:
                raise ValueError(f"take() into {self.pool._url(self.key)}: a writer was already committed or aborted")
            chunks, size = other._chunks, other._size
            other._chunks, other._size, other._done = [], 0, True
            self._chunks.extend(chunks)
            self._size += size
        return size

    def abort(self) -> None:
        alerts: list[PressureAlert] = []
        with self._lock:
            self._abort_locked(alerts)
        self.pool._fire(alerts)

    def _abort_locked(self, alerts: list[PressureAlert]) -> None:
        if self._done:
            return
        self._done = True
        self._chunks = []
        self.pool._release(self._size, alerts)

    def __del__(self) -> None:
        self.abort()


def _concat(chunks: list[bytes], size: int) -> pa.Buffer:
    if len(chunks) == 1:
        return pa.py_buffer(chunks[0])
    out = pa.allocate_buffer(size)
    view = memoryview(out).cast("B")
    pos = 0
    chunks.reverse()  # pop from the end so each chunk is freed as soon as it is copied
    while chunks:
        chunk = chunks.pop()
        view[pos : pos + len(chunk)] = chunk
        pos += len(chunk)
    return out


def _check_pool_name(name: str) -> str:
    if not name or "/" in name or "\x00" in name or name in (".", "..") or len(name) > 255:
        raise ValueError(
            f"invalid pool name {name!r}: use 1-255 characters without '/' or NUL (it is the first part of memcat:// URLs)"
        )
    return name


_POOLS: dict[str, Pool] = {}
_POOLS_LOCK = threading.Lock()


def get_pool(name: str, *, create: bool = True, quota: int | str | None = None) -> Pool:
    """The process-wide pool called ``name``, created with ``quota`` if it does not exist yet.

    Raises:
        FileNotFoundError: no such pool and ``create`` is false.
    """
    with _POOLS_LOCK:
        pool = _POOLS.get(name)
        if pool is None:
            if not create:
                raise FileNotFoundError(f"{urls.build(name)} (no pool named {name!r} in this process)")
            pool = _POOLS[name] = Pool(name, DEFAULT_QUOTA if quota is None else quota)
        return pool


def find_pool(name: str) -> Pool | None:
    return _POOLS.get(name)


def locate(url: str, *, create: bool = False) -> tuple[Pool, str]:
    """The pool and key behind a pool URL (see :mod:`memcatalog.urls`); ``create`` makes a missing pool.

    The one lookup the filesystem, the FileIO, the catalog and transfers share.

    Raises:
        IsADirectoryError: the URL is the root of ``memcat://`` (which lists pools, and holds no files).
        FileNotFoundError: the pool does not exist in this process (and ``create`` is false).
    """
    pool_name, key = urls.parse(url)
    if not pool_name:
        raise IsADirectoryError(errno.EISDIR, "the memcat:// root lists pools; it holds no files", url)
    pool = get_pool(pool_name) if create else find_pool(pool_name)
    if pool is None:
        raise FileNotFoundError(
            errno.ENOENT,
            f"no pool named {pool_name!r} in this process: memcat:// data lives only in the memory "
            "of the process that wrote it",
            url,
        )
    return pool, key


def list_pools() -> list[str]:
    with _POOLS_LOCK:
        return sorted(_POOLS)


def drop_pool(name: str) -> int:
    """Forget a pool and free its bytes; returns the bytes freed (0 if there was none)."""
    with _POOLS_LOCK:
        pool = _POOLS.pop(name, None)
    return pool.clear() if pool is not None else 0
