"""Pins: the files of a write in flight, which no reclaim may delete whatever their age.

A write holds a :class:`Lease` keyed by its write id; every file it creates is pinned
under the lease from the moment the file is opened (before it is published) until the
lease is released. ``reclaim()`` and reclaim-on-quota skip every pinned file.

- An explicit lease (``hold``) is taken by a writer that knows when it ends:
  ``TableWriter`` (released at commit or abort), and the catalog around each metadata
  file it writes for a commit. It never expires.
- An implicit lease covers pyiceberg's own writes through ``MemFileIO`` (``table.append``,
  ``overwrite``, ...), whose begin and end the catalog does not see. It is keyed by the
  write UUID pyiceberg puts in every data file, manifest and manifest list name, released
  when the catalog commits a snapshot of that write or pyiceberg deletes one of its
  manifest lists (which it does only once the write is over: committed, or given up after
  its retries), failed (its files deleted at once) when one of its files hits the quota or
  its commit surely failed, and otherwise expires ``write-lease-seconds`` (default one
  hour, longer than pyiceberg's commit retries) after its last file was opened: the end of
  a transaction abandoned without a word.
"""

from __future__ import annotations

import contextlib
import functools
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Concatenate, ParamSpec, TypeVar

from memcatalog.pool import find_pool

WRITE_LEASE_SECONDS = "write-lease-seconds"  # catalog property: idle time after which an implicit lease ends
DEFAULT_WRITE_LEASE_SECONDS = 3600.0
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_LEASES: dict[str, Lease] = {}
_LOCK = threading.Lock()
_FINISHED: dict[Pin, None] = {}  # files of writes known to be over without a commit (insertion-ordered, bounded)
_FINISHED_MAX = 100_000
_current = threading.local()  # the explicit lease that this thread's writes are pinned under
P = ParamSpec("P")
R = TypeVar("R")
C = TypeVar("C")  # a catalog: this module sits below the catalog and reads only its ``owner``

Pin = tuple[str, str]  # (pool name, key)


class Lease:
    """The pins of one write in flight."""

    def __init__(self, write_id: str, *, owner: str | None = None, ttl: float | None = None) -> None:
        self.write_id = write_id
        self.owner = owner
        self.ttl = ttl
        self.files: set[Pin] = set()
        self.failed = False
        self.released = False
        self.streams = 0  # its files being written now
        self._touched = time.monotonic()

    def __repr__(self) -> str:
        return f"Lease({self.write_id!r}, files={len(self.files)}, ttl={self.ttl})"

    def pin(self, pool: str, key: str) -> None:
        with _LOCK:
            self.files.add((pool, key))
            self._touched = time.monotonic()

    def stream_opened(self) -> None:
        with _LOCK:
            self.streams += 1

    def stream_closed(self) -> None:
        with _LOCK:
            self.streams -= 1

    def release(self, *, finished: bool = False) -> None:
        """The write is over (committed, or cleaned up by its holder): its files are ordinary files again.

        ``finished`` says the write is known to be over without having committed (pyiceberg gave
        it up): its files need no grace period either (see :func:`finished`).
        """
        with _LOCK:
            self.released = True
            if _LEASES.get(self.write_id) is self:
                del _LEASES[self.write_id]
            if finished:
                for pin in self.files:
                    _FINISHED[pin] = None
                while len(_FINISHED) > _FINISHED_MAX:
                    del _FINISHED[next(iter(_FINISHED))]

    def fail(self) -> int:
        """The write can never commit: delete every file it published (that its owner owns); returns bytes freed.

        The lease stays registered (until its ttl) so that a file of this write opened or
        published later is refused or deletes itself (see ``MemFileIO``); it pins nothing.
        """
        with _LOCK:
            self.failed = True
            files = list(self.files)
        return sum(self.delete_file(pool, key) for pool, key in files)

    def delete_file(self, pool_name: str, key: str) -> int:
        """Delete one file of this write if it is there and its owner's; returns bytes freed."""
        pool = find_pool(pool_name)
        entry = pool.entry(key) if pool is not None else None
        if pool is None or entry is None or entry.owner != self.owner:
            return 0
        return pool.remove_if(key, entry) or 0

    def _expired(self, now: float) -> bool:
        return self.ttl is not None and now - self._touched > self.ttl


def hold(write_id: str | None = None, *, owner: str | None = None) -> Lease:
    """Take an explicit lease (never expires; the holder releases it)."""
    lease = Lease(write_id or f"lease-{uuid.uuid4()}", owner=owner)
    with _LOCK:
        _LEASES[lease.write_id] = lease
    return lease


@contextlib.contextmanager
def holding(owner: str | None = None) -> Iterator[Lease]:
    """An explicit lease for the block; files this thread creates through a catalog's FileIO are pinned under it."""
    lease = hold(owner=owner)
    saved = getattr(_current, "lease", None)
    _current.lease = lease
    try:
        yield lease
    finally:
        _current.lease = saved
        lease.release()


def current() -> Lease | None:
    """The explicit lease of this thread's ``holding()`` block, if any."""
    lease: Lease | None = getattr(_current, "lease", None)
    return lease


def pins_its_writes(fn: Callable[Concatenate[C, P], R]) -> Callable[Concatenate[C, P], R]:
    """Decorate a function whose first argument is a catalog: the files it writes stay pinned until it returns."""

    def wrapper(catalog: C, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with holding(getattr(catalog, "owner", None)):
            return fn(catalog, *args, **kwargs)

    functools.update_wrapper(wrapper, fn)
    return wrapper


def implicit(location: str, *, owner: str | None, ttl: float) -> Lease:
    """The implicit lease of the write that creates ``location`` (keyed by the write UUID in its name)."""
    write_id = write_id_of(location)
    with _LOCK:
        lease = _LEASES.get(write_id)
        # A failed write refuses new files while its other files are still being written; once none
        # is, a file of that name is a new write (a restore of the same files, say).
        if lease is None or lease._expired(time.monotonic()) or (lease.failed and lease.streams <= 0):
            lease = _LEASES[write_id] = Lease(write_id, owner=owner, ttl=ttl)
        lease._touched = time.monotonic()
        return lease


def find(write_id: str) -> Lease | None:
    with _LOCK:
        return _LEASES.get(write_id)


def write_id_of(location: str) -> str:
    """The write a file belongs to: the last UUID in its file name (pyiceberg names every file of a write so), else the file."""
    name = location.rsplit("/", 1)[-1]
    found = _UUID.findall(name.lower())
    return f"write-{found[-1]}" if found else f"file-{location}"


def is_pinned(pool: str, key: str) -> bool:
    now = time.monotonic()
    with _LOCK:
        return any(
            (pool, key) in lease.files for lease in _LEASES.values() if not lease.failed and not lease._expired(now)
        )


def pinned() -> frozenset[Pin]:
    """Every file pinned now; implicit leases past their ttl are dropped on the way."""
    now = time.monotonic()
    with _LOCK:
        for write_id in [w for w, lease in _LEASES.items() if lease._expired(now)]:
            del _LEASES[write_id]
        return frozenset(pin for lease in _LEASES.values() if not lease.failed for pin in lease.files)


def finished() -> frozenset[Pin]:
    """Files of writes known to have ended without committing: orphans at once, no grace period needed."""
    with _LOCK:
        return frozenset(_FINISHED)


def active() -> list[Lease]:
    with _LOCK:
        return list(_LEASES.values())
