"""Keep a whole catalog past the process: ``save`` it to a directory or ``.tar`` archive, ``restore`` it.

The save holds the registry (namespaces with their properties, tables) and every pool
file the tables reference; ``restore`` rebuilds an identical catalog, history included.
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
from pyiceberg.typedef import Identifier

from memcatalog import maintenance
from memcatalog.catalog import MemCatalog
from memcatalog.errors import QuotaExceededError, SaveFormatError
from memcatalog.fileio import is_memcat, locate
from memcatalog.pool import get_pool

__all__ = ["FORMAT", "MANIFEST", "SaveFormatError", "restore", "save"]

FORMAT = "memcatalog-save/1"
MANIFEST = "memcatalog.json"


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
            raise QuotaExceededError(f"memcat://{pool_name}/ (restore)", size, stats.free, stats.quota, pool_name)


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
