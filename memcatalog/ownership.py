"""Who owns which pool file, and what reclaim may therefore delete.

The model (docs/reliability.md, "Ownership model"):

- Every file a catalog writes (through its FileIO) or imports records the catalog's
  identity as its owner when it is published (``FileEntry.owner``). The identity is a
  stable id kept in the catalog's registry (``registry.catalog_id``): every MemCatalog
  object of that name on that registry is the same catalog and owns the same files.
- A file with no recorded owner (written through fsspec, DuckDB, ...) belongs to
  nobody: ``check()`` reports it, nothing ever deletes it on its own.
- ``reclaim()`` deletes a file only when (1) its own catalog owns it, (2) no write in
  flight pins it (``memcatalog.leases``) and (3) no live table of any catalog in the
  process references it. Where a file sits decides nothing.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from memcatalog import buckets, leases, urls
from memcatalog.errors import ReservedPropertyError
from memcatalog.pool import FileEntry, Pool, find_pool, list_pools

if TYPE_CHECKING:
    from pyiceberg.io import FileIO
    from pyiceberg.table.snapshots import Snapshot


class Owner(Protocol):
    """What this module needs of a catalog (``MemCatalog``)."""

    name: str
    owner: str
    pool: Pool

    def _referenced(self) -> set[str]: ...


logger = logging.getLogger("memcatalog.ownership")

OWNER = "memcatalog.owner"  # FileIO property: the owner recorded on every pool file the FileIO publishes


def check_table_properties(properties: Mapping[str, str], what: str) -> None:
    """Refuse table properties that name a file's owner: pyiceberg lets them override the catalog's FileIO settings.

    Raises:
        ReservedPropertyError: ``properties`` has ``memcatalog.owner``.
    """
    if OWNER in properties:
        raise ReservedPropertyError(
            f"{what}: the table property {OWNER!r} is reserved (memcatalog records under it which catalog owns "
            "each file, and a table property would override that); remove it, or use another name"
        )


_LIVE: weakref.WeakSet[Owner] = weakref.WeakSet()
_LIVE_LOCK = threading.Lock()


def attach(catalog: Owner) -> None:
    """Count ``catalog`` among the live catalogs whose tables protect files from every reclaim."""
    with _LIVE_LOCK:
        _LIVE.add(catalog)


def live_catalogs() -> list[Owner]:
    with _LIVE_LOCK:
        return list(_LIVE)


def catalogs_on_pool(pool: Pool) -> list[Owner]:
    """The live catalogs whose own pool is ``pool``."""
    return [c for c in live_catalogs() if c.pool is pool]


@dataclass(frozen=True)
class PoolFile:
    pool: Pool
    key: str
    entry: FileEntry

    @property
    def url(self) -> str:
        return urls.build(self.pool.name, self.key)


def split(location: str) -> tuple[str, str]:
    """(pool name, key) of a pool file's location: ``memcat://``, or ``s3://`` of a served bucket."""
    return urls.parse(location)


def canonical(locations: Iterable[str]) -> set[str]:
    """The ``memcat://`` form of each location (served ``s3://`` URLs name pool files too)."""
    return {buckets.canonical(p) for p in locations}


def owned_files(owner: str) -> list[PoolFile]:
    """Every file of every pool in this process whose recorded owner is ``owner``."""
    found: list[PoolFile] = []
    for name in list_pools():
        pool = find_pool(name)
        if pool is not None:
            found.extend(PoolFile(pool, key, entry) for key, entry in pool.owned_by(owner))
    return found


def unowned_files(pool: Pool, prefix: str) -> list[PoolFile]:
    """Files at or below ``prefix`` of ``pool`` that record no owner."""
    found = []
    for key in pool.keys(prefix):
        entry = pool.entry(key)
        if entry is not None and entry.owner is None:
            found.append(PoolFile(pool, key, entry))
    return found


def unreferenced(catalog: Owner, candidates: Iterable[PoolFile]) -> list[PoolFile]:
    """The ``candidates`` that no live table references and no write in flight pins.

    The order matters: pins are read before references, so a write that commits (and
    lets go of its pins) in between is seen by the reference walk.
    """
    pinned = leases.pinned()
    left = [c for c in candidates if (c.pool.name, c.key) not in pinned]
    if not left:
        return []
    referenced = catalog._referenced()  # the catalog's own tables: errors propagate (never guess)
    left = [c for c in left if c.url not in referenced]
    seen = {catalog.owner}
    for other in live_catalogs():
        if not left:
            break
        if other.owner in seen or find_pool(other.pool.name) is not other.pool:
            continue  # same catalog (already walked), or a catalog whose pool was dropped
        seen.add(other.owner)
        try:
            theirs = other._referenced()
        except Exception:  # another catalog's broken table can only be skipped
            logger.debug("reclaim: catalog %r cannot be read; skipped", other.name, exc_info=True)
            continue
        left = [c for c in left if c.url not in theirs]
    return left


def adopt_snapshot_files(owner: str, snapshot: Snapshot, io: FileIO) -> int:
    """A commit took a snapshot written by a client with no owner (over S3, say): its new files become ``owner``'s.

    Only when the snapshot's manifest list records no owner: a catalog's own writes are owned
    already, and then nothing is read. Returns how many files were adopted.
    """
    pool_name, key = split(snapshot.manifest_list)
    pool = find_pool(pool_name)
    entry = pool.entry(key) if pool is not None else None
    if pool is None or entry is None or entry.owner is not None:
        return 0
    adopted = int(pool.adopt(key, owner))
    for manifest in snapshot.manifests(io):
        if manifest.added_snapshot_id != snapshot.snapshot_id:
            continue
        adopted += _adopt(manifest.manifest_path, owner)
        for found in manifest.fetch_manifest_entry(io, discard_deleted=True):
            if found.snapshot_id == snapshot.snapshot_id:
                adopted += _adopt(found.data_file.file_path, owner)
    return adopted


def _adopt(location: str, owner: str) -> int:
    pool_name, key = split(location)
    pool = find_pool(pool_name)
    return int(pool.adopt(key, owner)) if pool is not None else 0
