"""Keep tables past the process, bring tables in, and move them out to a real warehouse.

- ``save(catalog, path)`` / ``restore(path)``: a whole catalog (registry and every pool
  file its tables reference) to a directory or a ``.tar`` archive, and back, identical.
- ``import_table(catalog, identifier, source)``: copy an Iceberg table (a metadata
  location anywhere pyiceberg can read, or a table of any pyiceberg catalog) into a
  MemCatalog with its snapshot history.
- ``export_table(catalog, identifier, target_catalog)``: copy a table with its history
  into any pyiceberg catalog and its warehouse, paths rewritten, registered last.
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pyiceberg.catalog import Catalog
from pyiceberg.io import load_file_io
from pyiceberg.serializers import FromInputFile
from pyiceberg.table import Table
from pyiceberg.typedef import Identifier

from memcatalog import config, maintenance
from memcatalog.catalog import MemCatalog
from memcatalog.config import format_size
from memcatalog.copying import CopyResult, copy_table, delete_all, total_bytes
from memcatalog.errors import QuotaExceededError, SaveFormatError
from memcatalog.pool import get_pool, locate
from memcatalog.pyiceberg_internals import resolve_table_location
from memcatalog.urls import build as pool_url
from memcatalog.urls import is_memcat

FORMAT = "memcatalog-save/1"
MANIFEST = "memcatalog.json"


# ---- save and restore ------------------------------------------------------------------


def save(catalog: MemCatalog, path: str | Path) -> dict[str, Any]:
    """Write the catalog to ``path``: a directory, or one archive file when it ends in ``.tar``.

    Returns the manifest written (namespaces, tables, files). Only memcat:// files are
    saved; tables whose files live elsewhere (``file://``) are recorded by location.
    """
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "catalog": catalog.name,
        "pool": catalog.pool.name,
        "warehouse": catalog.warehouse,
        "namespaces": {},
        "tables": [],
        "files": {},
    }
    for ns in _all_namespaces(catalog):
        manifest["namespaces"][Catalog.namespace_to_string(ns)] = catalog.load_namespace_properties(ns)
    files: set[str] = set()
    for table in catalog._live_tables():
        manifest["tables"].append({"identifier": list(table.name()), "metadata_location": table.metadata_location})
        files |= {f for f in maintenance.referenced_files(table) if is_memcat(f)}
    with _writer(Path(path)) as put:
        for url in sorted(files):
            pool, key = locate(url)
            buffer = pool.get(key)
            manifest["files"][url] = buffer.size
            put(f"files/{pool.name}/{key}", buffer)
        put(MANIFEST, json.dumps(manifest, indent=1).encode())
    return manifest


def restore(path: str | Path, *, name: str | None = None, **properties: str) -> MemCatalog:
    """Rebuild a saved catalog in this process: same namespaces, properties, tables and history.

    Files go back to pools of the same names (memcat:// paths are inside the metadata).
    The free space is checked before anything is loaded.

    Raises:
        SaveFormatError: ``path`` is not a memcatalog save.
        QuotaExceededError: the pool is too small; nothing was loaded.
        FileExistsError: a pool already holds a file the save would put back.
    """
    with _reader(Path(path)) as get:
        manifest = _read_manifest(get)
        catalog = MemCatalog(name or manifest["catalog"], **{"pool": manifest["pool"], **properties})
        _check_room(manifest)
        for url, size in manifest["files"].items():
            pool, key = locate(url, create=True)
            data = get(f"files/{pool.name}/{key}")
            if len(data) != size:
                raise SaveFormatError(f"{path}: {url} holds {len(data)} bytes, the manifest says {size}")
            pool.put(key, data, exclusive=True)
    for ns, props in manifest["namespaces"].items():
        if not catalog.namespace_exists(ns):
            catalog.create_namespace(ns, props)
    for entry in manifest["tables"]:
        catalog.register_table(tuple(entry["identifier"]), entry["metadata_location"])
    return catalog


def _read_manifest(get: Any) -> dict[str, Any]:
    try:
        manifest: dict[str, Any] = json.loads(get(MANIFEST))
    except (KeyError, FileNotFoundError, json.JSONDecodeError) as e:
        raise SaveFormatError(f"not a memcatalog save: no readable {MANIFEST} ({e})") from e
    if manifest.get("format") != FORMAT:
        raise SaveFormatError(f"unsupported save format {manifest.get('format')!r} (this memcatalog reads {FORMAT})")
    return manifest


def _check_room(manifest: dict[str, Any]) -> None:
    needed: dict[str, int] = {}
    for url, size in manifest["files"].items():
        pool, key = locate(url, create=True)
        if pool.entry(key) is not None:
            raise FileExistsError(f"{url} is already in pool {pool.name!r}: restore into a fresh process or pool")
        needed[pool.name] = needed.get(pool.name, 0) + size
    for pool_name, size in needed.items():
        stats = get_pool(pool_name).stats()
        if size > stats.free:
            raise QuotaExceededError(f"{pool_url(pool_name)} (restore)", size, stats.free, stats.quota, pool_name)


def _all_namespaces(catalog: MemCatalog, parent: Identifier = ()) -> list[Identifier]:
    out: list[Identifier] = []
    for ns in catalog.list_namespaces(parent):
        out.append(ns)
        out.extend(_all_namespaces(catalog, ns))
    return out


@contextmanager
def _writer(path: Path) -> Iterator[Any]:
    if path.suffix == ".tar":
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tar.partial")
        with tarfile.open(tmp, "w") as tar:

            def put(name: str, data: Any) -> None:
                info = tarfile.TarInfo(name)
                info.size = len(memoryview(data))
                tar.addfile(info, io.BytesIO(memoryview(data)))

            yield put
        tmp.replace(path)  # the archive appears whole or not at all
    else:
        path.mkdir(parents=True, exist_ok=True)
        if any(path.iterdir()):
            raise FileExistsError(f"{path} is not empty: save into a new directory")

        def put_file(name: str, data: Any) -> None:
            target = path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(memoryview(data))

        yield put_file


@contextmanager
def _reader(path: Path) -> Iterator[Any]:
    if path.is_file():
        if not tarfile.is_tarfile(path):
            raise SaveFormatError(f"{path} is not a memcatalog save archive (not a tar file)")
        with tarfile.open(path, "r") as tar:

            def get(name: str) -> bytes:
                member = tar.extractfile(name)
                if member is None:
                    raise KeyError(name)
                return member.read()

            yield get
    elif path.is_dir():
        yield lambda name: (path / name).read_bytes()
    else:
        raise FileNotFoundError(f"no saved catalog at {path}")


# ---- import and export --------------------------------------------------------------------


def import_table(
    catalog: MemCatalog, identifier: str | Identifier, source: str | Table, *, progress: bool = False
) -> Table:
    """Copy an Iceberg table with its snapshot history into ``catalog`` as ``identifier``.

    ``source`` is a metadata location (a local path, ``file://`` or any URL pyiceberg
    reads) or a pyiceberg ``Table`` from any catalog.
    """
    if isinstance(source, Table):
        metadata, src_io = source.metadata, source.io
    else:
        src_io = load_file_io(catalog.properties | {config.PY_IO_IMPL: config.FILE_IO_IMPL}, source)
        metadata = FromInputFile.table_metadata(src_io.new_input(source))
    ns = Catalog.namespace_to_string(Catalog.namespace_from(identifier))
    target = resolve_table_location(catalog, None, ns, Catalog.table_name_from(identifier))
    if catalog.table_exists(identifier):
        from pyiceberg.exceptions import TableAlreadyExistsError

        raise TableAlreadyExistsError(f"Table {ns}.{Catalog.table_name_from(identifier)} already exists")
    needed = total_bytes(metadata, src_io)
    stats = catalog.pool.stats()
    if needed > stats.free:
        raise QuotaExceededError(target, needed, stats.free, stats.quota, catalog.pool.name)
    dst_io = catalog.load_file_io_for(target)
    label = f"importing {ns}.{Catalog.table_name_from(identifier)}"
    result = _copy(metadata, src_io, dst_io, target, needed, progress, label)
    return _register(catalog, identifier, result, dst_io)


def export_table(
    catalog: MemCatalog,
    identifier: str | Identifier,
    target_catalog: Catalog,
    *,
    target_identifier: str | Identifier | None = None,
    location: str | None = None,
    progress: bool = False,
) -> Table:
    """Copy a table with its full snapshot history into ``target_catalog`` (any pyiceberg catalog).

    Files go to ``location`` (default: the target catalog's location for the table),
    with every path rewritten. The table is registered last; if anything fails, the
    copied files are deleted and nothing is registered. The source is left untouched.
    """
    source = catalog.load_table(identifier)
    name = target_identifier or identifier
    ns = Catalog.namespace_from(name)
    if not target_catalog.namespace_exists(ns):
        target_catalog.create_namespace(ns)
    target = location or _default_location(target_catalog, name)
    dst_io = load_file_io(target_catalog.properties, target)
    needed = total_bytes(source.metadata, source.io)
    result = _copy(source.metadata, source.io, dst_io, target, needed, progress, f"exporting {'.'.join(source.name())}")
    return _register(target_catalog, name, result, dst_io)


def _default_location(catalog: Catalog, identifier: str | Identifier) -> str:
    resolve = getattr(catalog, "_resolve_table_location", None)
    ns = Catalog.namespace_to_string(Catalog.namespace_from(identifier))
    if resolve is None:
        raise ValueError(f"give location= for {type(catalog).__name__}: it has no default table location")
    return str(resolve(None, ns, Catalog.table_name_from(identifier)))


def _copy(metadata: Any, src_io: Any, dst_io: Any, target: str, total: int, progress: bool, label: str) -> CopyResult:
    if not progress:
        return copy_table(metadata, src_io, dst_io, target)
    from rich.progress import Progress

    with Progress(transient=False) as bar:
        task = bar.add_task(f"{label} ({format_size(total)})", total=max(total, 1))
        return copy_table(metadata, src_io, dst_io, target, progress=lambda n: bar.advance(task, n))


def _register(catalog: Catalog, identifier: str | Identifier, result: CopyResult, dst_io: Any) -> Table:
    try:
        return catalog.register_table(identifier, result.metadata_location)
    except BaseException:
        delete_all(dst_io, result.files)
        raise
