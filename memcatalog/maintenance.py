"""A catalog's upkeep: ``reclaim()``, ``check()`` and ``usage()``, and which pool files its tables reference.

``MemCatalog.reclaim``, ``check``, ``usage`` and the reclaim-on-quota reliever delegate here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from pyiceberg.catalog import Catalog
from pyiceberg.io import FileIO
from pyiceberg.table import Table
from pyiceberg.typedef import Identifier

from memcatalog import config, leases, ownership, registry, views
from memcatalog.pool import Pool, find_pool, locate
from memcatalog.pyiceberg_internals import table_type_filter
from memcatalog.urls import is_pool_url

if TYPE_CHECKING:
    from memcatalog.catalog import MemCatalog

logger = logging.getLogger("memcatalog.catalog")  # the reliever's warning keeps the name it always had


@dataclass(frozen=True)
class TableUsage:
    """Pool bytes and files under one table's location."""

    identifier: Identifier
    location: str
    bytes: int
    files: int


@dataclass
class ReclaimResult:
    """What ``MemCatalog.reclaim`` did."""

    snapshots_expired: int = 0
    files_deleted: int = 0
    bytes_freed: int = 0
    deleted: list[str] = field(default_factory=list)


def referenced_files(table: Table) -> set[str]:
    """Every file a table's current metadata reaches: metadata log, manifest lists, manifests, data and delete files."""
    md = table.metadata
    out = {table.metadata_location, *(log.metadata_file for log in md.metadata_log)}
    out.update(s.statistics_path for s in md.statistics)
    out.update(s.statistics_path for s in md.partition_statistics)
    for snapshot in md.snapshots:
        out.add(snapshot.manifest_list)
        for manifest in snapshot.manifests(table.io):
            if manifest.manifest_path in out:  # snapshots share manifests: read each one once
                continue
            out.add(manifest.manifest_path)
            for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
                out.add(entry.data_file.file_path)
    return out


def snapshots_to_expire(table: Table, older_than: datetime | None, retain_last: int | None) -> list[int]:
    """Snapshot ids that may go: not current, not named by a branch or tag, outside the newest ``retain_last``."""
    md = table.metadata
    protected = {ref.snapshot_id for ref in md.refs.values()}
    if md.current_snapshot_id is not None:
        protected.add(md.current_snapshot_id)
    ordered = sorted(md.snapshots, key=lambda s: s.timestamp_ms, reverse=True)
    if retain_last is not None:
        protected.update(s.snapshot_id for s in ordered[:retain_last])
    cutoff_ms = None if older_than is None else int(_aware(older_than).timestamp() * 1000)
    return [
        s.snapshot_id
        for s in ordered
        if s.snapshot_id not in protected and (cutoff_ms is None or s.timestamp_ms < cutoff_ms)
    ]


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


# ---- usage -----------------------------------------------------------------
def usage(catalog: MemCatalog) -> list[TableUsage]:
    """Pool bytes and files under each of ``catalog``'s tables, from the pool's own accounting."""
    result = []
    for table in catalog._live_tables():
        location = table.metadata.location
        if not is_pool_url(location):
            continue
        pool, key = locate(location)
        size, files = pool.usage(key)
        result.append(TableUsage(table.name(), location, size, files))
    return sorted(result, key=lambda u: u.identifier)


# ---- reclaim ---------------------------------------------------------------
def reclaim(
    catalog: MemCatalog,
    older_than: datetime | None = None,
    retain_last: int | None = None,
    min_age: timedelta | None = None,
) -> ReclaimResult:
    """``MemCatalog.reclaim``: expire old snapshots, then delete the owned files nothing needs."""
    result = ReclaimResult()
    if older_than is not None or retain_last is not None:
        for table in catalog._live_tables():
            ids = snapshots_to_expire(table, older_than, retain_last)
            if ids:
                table.maintenance.expire_snapshots().by_ids(ids).commit()
                result.snapshots_expired += len(ids)
    written_before = datetime.now(timezone.utc) - min_age if min_age is not None else None
    _delete_unreferenced(catalog, result, written_before)
    return result


def referenced(catalog: MemCatalog) -> set[str]:
    """Every file ``catalog``'s live tables and views reference (errors propagate: never guess)."""
    found: set[str] = set()
    for table in catalog._live_tables():
        found |= referenced_files(table)
    return ownership.canonical(found | views.metadata_files(catalog))


def _delete_unreferenced(
    catalog: MemCatalog, result: ReclaimResult, written_before: datetime | None = None, grace: bool = False
) -> None:
    candidates = ownership.owned_files(catalog.owner)
    if written_before is not None:
        # The grace period is a defence for files no pin speaks for: a write known to be over needs none.
        over = leases.finished() if grace else frozenset()
        candidates = [c for c in candidates if c.entry.created < written_before or (c.pool.name, c.key) in over]
    for f in ownership.unreferenced(catalog, candidates):
        freed = f.pool.remove_if(f.key, f.entry)  # never a file published under that key since
        if freed is not None:
            result.bytes_freed += freed
            result.files_deleted += 1
            result.deleted.append(f.url)


def reclaim_on_full(catalog: MemCatalog, shortfall: int) -> int:
    """Pool reliever (``reclaim-on-quota``): delete what ``reclaim()`` would; returns the bytes freed.

    Pinned files are spared whatever their age (the mechanism); so, as a defence, are files
    younger than ``reclaim-grace-seconds``.
    """
    grace = float(catalog.properties.get(config.RECLAIM_GRACE_SECONDS, config.DEFAULT_RECLAIM_GRACE_SECONDS))
    result = ReclaimResult()
    _delete_unreferenced(catalog, result, datetime.now(timezone.utc) - timedelta(seconds=grace), grace=True)
    if result.files_deleted:
        logger.warning(
            "pool %r was full: reclaim-on-quota freed %d bytes in %d unreferenced files",
            catalog.pool.name,
            result.bytes_freed,
            result.files_deleted,
        )
    return result.bytes_freed


# ---- check -----------------------------------------------------------------
def check(catalog: MemCatalog, allow_unreferenced: bool = False) -> list[str]:
    """``MemCatalog.check``: one line per finding, empty when healthy. Never raises."""
    findings = list(catalog.pool.check())
    found: set[str] = set()
    try:
        tables = registry.all_tables(catalog.engine, catalog.name, table_type_filter(catalog))
    except Exception as e:  # an unreachable registry is a finding; without it nothing else can be judged
        url = catalog.engine.url.render_as_string(hide_password=True)
        findings.append(f"registry {url} cannot be read ({type(e).__name__}: {first_line(e)})")
        return findings
    for ns, name, loc in tables:
        try:
            table = catalog.load_table((*Catalog.identifier_to_tuple(ns), name))
            files = referenced_files(table)
        except Exception as e:  # an audit reports, it does not raise
            findings.append(f"table {ns}.{name}: cannot be read ({type(e).__name__}: {e}) [{loc}]")
            continue
        found |= files
        for path in sorted(files):
            if is_pool_url(path) and not _exists(table.io, path):
                findings.append(f"table {ns}.{name}: references {path}, which is not in the pool")
    if not allow_unreferenced:
        try:
            findings.extend(_unreferenced_findings(catalog, found))
        except Exception as e:
            findings.append(f"pool files cannot be audited ({type(e).__name__}: {first_line(e)})")
    return findings


def _unreferenced_findings(catalog: MemCatalog, found: set[str]) -> list[str]:
    found = ownership.canonical(found | views.metadata_files(catalog))
    owned = [f for f in ownership.owned_files(catalog.owner) if f.url not in found]
    out = [f"unreferenced file {f.url} ({f.entry.size} bytes)" for f in ownership.unreferenced(catalog, owned)]
    if is_pool_url(catalog.warehouse) and (pool := location_pool(catalog.warehouse)) is not None:
        key = ownership.split(catalog.warehouse)[1]
        for f in ownership.unowned_files(pool, key):
            if f.url not in found:
                out.append(
                    f"owner unknown: {f.url} ({f.entry.size} bytes) was not written by a catalog; "
                    "reclaim() never deletes it (remove it yourself if nothing needs it)"
                )
    return sorted(out)


def location_pool(location: str) -> Pool | None:
    """The pool of this process that ``location`` is in, if any."""
    return find_pool(ownership.split(location)[0])


def first_line(e: BaseException) -> str:
    """The first line of an error's message, for a one-line finding or error."""
    return str(e).strip().splitlines()[0] if str(e).strip() else ""


def _exists(io: FileIO, path: str) -> bool:
    try:
        return bool(io.new_input(path).exists())
    except OSError:  # the pool itself is gone: the file is not there either
        return False
