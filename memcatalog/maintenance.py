"""Which pool files a catalog's tables still reference: the basis of reclaim() and check()."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from pyiceberg.table import Table


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
