"""Keep a whole catalog past the process: ``save`` it to a directory or ``.tar`` archive, ``restore`` it.

The save holds the registry (namespaces with their properties, tables) and every pool
file the tables reference; ``restore`` rebuilds an identical catalog, history included.

A save is published whole or not at all: it is written under a partial name unique to
the call and renamed into place, so concurrent saves never mix and a failed one leaves
nothing. A restore checks the whole save (manifest, every member and its size) before
it loads a byte, and undoes everything it loaded when anything fails.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import shutil
import stat
import tarfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypedDict, cast

import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.typedef import Identifier

from memcatalog import buckets, maintenance, urls
from memcatalog.catalog import MemCatalog
from memcatalog.errors import QuotaExceededError, SaveFormatError
from memcatalog.pool import drop_pool, find_pool, get_pool, locate

__all__ = ["FORMAT", "MANIFEST", "SaveFormatError", "restore", "save"]

FORMAT = "memcatalog-save/1"
MANIFEST = "memcatalog.json"

Put = Callable[[str, "pa.Buffer | bytes"], None]
Get = Callable[[str], bytes]


class SavedTable(TypedDict):
    """One table of a save: its identifier and the metadata file it is registered at."""

    identifier: list[str]
    metadata_location: str


class SaveManifest(TypedDict):
    """The manifest of a save (``memcatalog.json``), as :func:`save` returns it."""

    format: str
    catalog: str
    pool: str
    warehouse: str
    namespaces: dict[str, dict[str, str]]
    tables: list[SavedTable]
    files: dict[str, int]


# ---- save ----------------------------------------------------------------------------------


def save(catalog: MemCatalog, path: str | Path) -> SaveManifest:
    """Write the catalog to ``path``: a directory, or one archive file when it ends in ``.tar``.

    Returns the manifest written (namespaces, tables, files). Only memcat:// files are
    saved; tables whose files live elsewhere (``file://``) are recorded by location.
    An archive replaces an older one at ``path`` atomically; a directory must be new or empty.

    Raises:
        FileExistsError: ``path`` is a directory that is not empty.
    """
    manifest: SaveManifest = {
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
        # memcat:// form: s3:// paths of buckets this process serves name the same pool files.
        files |= {buckets.canonical(f) for f in maintenance.referenced_files(table) if urls.is_pool_url(f)}
    with _writer(Path(path)) as put:
        for url in sorted(files):
            pool, key = locate(url)
            buffer = pool.get(key)
            manifest["files"][url] = buffer.size
            put(_member(url), buffer)
        put(MANIFEST, json.dumps(manifest, indent=1).encode())
    return manifest


def _member(url: str) -> str:
    """The name of a pool file inside a save; never one that climbs out of it."""
    pool, _, key = url.removeprefix("memcat://").partition("/")
    name = f"files/{pool}/{key}"
    parts = name.split("/")
    if not pool or not key or any(p in ("", ".", "..") for p in parts):
        raise SaveFormatError(f"{url} cannot be a member of a save (empty, '.' or '..' path segment)")
    return name


def _partial(path: Path) -> Path:
    return path.with_name(f".{path.name}.{uuid.uuid4().hex}.partial")


@contextmanager
def _writer(path: Path) -> Iterator[Put]:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".tar":
        with _tar_writer(path) as put:
            yield put
    else:
        with _directory_writer(path) as put:
            yield put


@contextmanager
def _tar_writer(path: Path) -> Iterator[Put]:
    partial = _partial(path)
    try:
        with tarfile.open(partial, "x") as tar:

            def put(name: str, data: pa.Buffer | bytes) -> None:
                info = tarfile.TarInfo(name)
                info.size = len(memoryview(data))
                tar.addfile(info, io.BytesIO(memoryview(data)))

            yield put
        os.replace(partial, path)  # the archive appears whole or not at all
    finally:
        partial.unlink(missing_ok=True)


@contextmanager
def _directory_writer(path: Path) -> Iterator[Put]:
    if path.is_dir() and any(path.iterdir()):
        raise FileExistsError(errno.EEXIST, f"{path} is not empty: save into a new directory", str(path))
    partial = _partial(path)
    partial.mkdir()  # ours alone: nothing in it can be a link placed by someone else

    def put(name: str, data: pa.Buffer | bytes) -> None:
        target = partial / name
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "xb") as f:
            f.write(memoryview(data))

    try:
        yield put
        try:
            os.rename(partial, path)  # replaces only an empty directory; atomic
        except OSError as e:
            if e.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR):
                raise FileExistsError(
                    errno.EEXIST, f"{path} appeared meanwhile and is not empty: save into a new directory", str(path)
                ) from e
            raise
    finally:
        if partial.exists():
            shutil.rmtree(partial)


# ---- restore -------------------------------------------------------------------------------


def restore(path: str | Path, *, name: str | None = None, **properties: str) -> MemCatalog:
    """Rebuild a saved catalog in this process: same namespaces, properties, tables and history.

    Files go back to pools of the same names (memcat:// paths are inside the metadata).
    The save is checked whole and the free space is checked before anything is loaded;
    on any failure everything loaded is removed again.

    Raises:
        FileNotFoundError: nothing at ``path``.
        SaveFormatError: ``path`` is not a memcatalog save, or it is damaged (the message names what).
        QuotaExceededError: the pool is too small; nothing was loaded.
        FileExistsError: a pool already holds a file the save would put back.
    """
    path = Path(path)
    with _reader(path) as (get, sizes):
        manifest = _read_manifest(path, get)
        for url, size in manifest["files"].items():
            member = _member(url)
            found = sizes(member)
            if found is None:
                raise SaveFormatError(f"{path}: damaged save: {member} is missing (the manifest lists {url})")
            if found != size:
                raise SaveFormatError(f"{path}: damaged save: {member} holds {found} bytes, the manifest says {size}")
        pools = {manifest["pool"], *(url.removeprefix("memcat://").partition("/")[0] for url in manifest["files"])}
        new_pools = {p for p in pools if find_pool(p) is None}
        catalog = MemCatalog(name or manifest["catalog"], **{"pool": manifest["pool"], **properties})
        loaded = _Loaded(catalog)
        try:
            _check_room(manifest)
            for entry in manifest["tables"]:  # tables saved while served name their files s3://<pool>/...
                buckets.adopt(entry["metadata_location"])
            for url, size in manifest["files"].items():
                loaded.put(url, _read_member(path, get, _member(url), size))
            _register_all(path, manifest, loaded)
        except BaseException:
            loaded.undo(drop_pools=new_pools)
            raise
    return catalog


class _Loaded:
    """What a restore has put in so far, so that a failure can take it all out again."""

    def __init__(self, catalog: MemCatalog) -> None:
        self.catalog = catalog
        self.files: list[str] = []
        self.namespaces: list[str] = []
        self.tables: list[Identifier] = []

    def put(self, url: str, data: bytes) -> None:
        # Through the catalog's FileIO, as every file the catalog writes: it records the catalog as the owner.
        with self.catalog.load_file_io_for(url).new_output(url).create(overwrite=False) as f:
            f.write(data)
        self.files.append(url)

    def undo(self, drop_pools: set[str]) -> None:
        """Take out what was put in, newest first; pools this restore created go too once empty."""
        with contextlib.suppress(Exception):
            for identifier in reversed(self.tables):
                self.catalog.drop_table(identifier)
            for ns in reversed(self.namespaces):
                self.catalog.drop_namespace(ns)
        for url in reversed(self.files):
            with contextlib.suppress(Exception):
                self.catalog.load_file_io_for(url).delete(url)
        with contextlib.suppress(Exception):
            self.catalog.close()
        for name in drop_pools:
            left = find_pool(name)
            if left is not None and not left.keys():
                drop_pool(name)


def _register_all(path: Path, manifest: SaveManifest, loaded: _Loaded) -> None:
    catalog = loaded.catalog
    for ns, props in manifest["namespaces"].items():
        if not catalog.namespace_exists(ns):
            catalog.create_namespace(ns, props)
            loaded.namespaces.append(ns)
    for entry in manifest["tables"]:
        identifier = tuple(entry["identifier"])
        metadata = buckets.canonical(entry["metadata_location"])
        if not urls.is_pool_url(metadata) or metadata in manifest["files"]:
            table = catalog.register_table(identifier, entry["metadata_location"])
        else:
            raise SaveFormatError(
                f"{path}: damaged save: table {'.'.join(identifier)}'s metadata file "
                f"{entry['metadata_location']} is not in it"
            )
        loaded.tables.append(identifier)
        referenced = {buckets.canonical(f) for f in maintenance.referenced_files(table)}
        missing = sorted(f for f in referenced if urls.is_pool_url(f) and f not in manifest["files"])
        if missing:
            more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
            raise SaveFormatError(
                f"{path}: damaged save: table {'.'.join(identifier)} references {missing[0]}{more}, not in the save"
            )


def _read_member(path: Path, get: Get, member: str, size: int) -> bytes:
    try:
        data = get(member)
    except (tarfile.TarError, EOFError, OSError) as e:
        raise SaveFormatError(f"{path}: damaged save: {member} cannot be read ({type(e).__name__}: {e})") from e
    if len(data) != size:
        raise SaveFormatError(f"{path}: damaged save: {member} holds {len(data)} bytes, the manifest says {size}")
    return data


def _read_manifest(path: Path, get: Get) -> SaveManifest:
    try:
        manifest = json.loads(get(MANIFEST))
    except (KeyError, FileNotFoundError) as e:
        raise SaveFormatError(f"{path}: not a memcatalog save: no {MANIFEST} in it") from e
    except (json.JSONDecodeError, UnicodeDecodeError, tarfile.TarError, EOFError, OSError) as e:
        raise SaveFormatError(f"{path}: damaged save: {MANIFEST} cannot be read ({e})") from e
    if not isinstance(manifest, dict):
        raise SaveFormatError(f"{path}: malformed {MANIFEST}: a JSON object expected, got {type(manifest).__name__}")
    if manifest.get("format") != FORMAT:
        raise SaveFormatError(
            f"{path}: unsupported save format {manifest.get('format')!r} (this memcatalog reads {FORMAT})"
        )
    _check_shape(path, manifest)
    return cast(SaveManifest, manifest)  # its shape is checked just above


def _check_shape(path: Path, m: dict[str, object]) -> None:
    def bad(what: str) -> SaveFormatError:
        return SaveFormatError(f"{path}: malformed {MANIFEST}: {what}")

    for key in ("catalog", "pool"):
        if not isinstance(m.get(key), str) or not m[key]:
            raise bad(f"{key!r} must be a non-empty string")
    namespaces, tables, files = m.get("namespaces"), m.get("tables"), m.get("files")
    if not isinstance(namespaces, dict) or not all(
        isinstance(k, str) and isinstance(v, dict) and all(isinstance(x, str) for x in (*v, *v.values()))
        for k, v in namespaces.items()
    ):
        raise bad("'namespaces' must map names to string properties")
    if not isinstance(tables, list) or not all(
        isinstance(t, dict)
        and isinstance(t.get("identifier"), list)
        and t["identifier"]
        and all(isinstance(p, str) for p in t["identifier"])
        and isinstance(t.get("metadata_location"), str)
        for t in tables
    ):
        raise bad("'tables' must be a list of {identifier: [...], metadata_location: ...}")
    if not isinstance(files, dict) or not all(
        isinstance(k, str) and urls.is_pool_url(k) and type(v) is int and v >= 0 for k, v in files.items()
    ):
        raise bad("'files' must map memcat:// URLs to sizes in bytes")


def _check_room(manifest: SaveManifest) -> None:
    needed: dict[str, int] = {}
    for url, size in manifest["files"].items():
        pool, key = locate(url, create=True)
        if pool.entry(key) is not None:
            raise FileExistsError(
                errno.EEXIST, f"{url} is already in pool {pool.name!r}: restore into a fresh process or pool", url
            )
        needed[pool.name] = needed.get(pool.name, 0) + size
    for pool_name, size in needed.items():
        stats = get_pool(pool_name).stats()
        if size > stats.free:
            raise QuotaExceededError(f"{urls.build(pool_name)} (restore)", size, stats.free, stats.quota, pool_name)


def _all_namespaces(catalog: MemCatalog, parent: Identifier = ()) -> list[Identifier]:
    out: list[Identifier] = []
    for ns in catalog.list_namespaces(parent):
        out.append(ns)
        out.extend(_all_namespaces(catalog, ns))
    return out


Sizes = Callable[[str], "int | None"]


@contextmanager
def _reader(path: Path) -> Iterator[tuple[Get, Sizes]]:
    """``get(member)`` reads a member, ``sizes(member)`` is its size or None when it is missing."""
    if path.is_file():
        with _tar_reader(path) as found:
            yield found
    elif path.is_dir():
        yield _directory_reader(path)
    else:
        raise FileNotFoundError(
            errno.ENOENT,
            f"no saved catalog at {path}: give a .tar archive or a directory written by save() "
            "or `memcatalog import --save`",
            str(path),
        )


@contextmanager
def _tar_reader(path: Path) -> Iterator[tuple[Get, Sizes]]:
    if not tarfile.is_tarfile(path):
        raise SaveFormatError(f"{path} is not a memcatalog save archive (not a tar file)")
    with tarfile.open(path, "r") as tar:
        try:
            members = {m.name: m for m in tar.getmembers()}
        except (tarfile.TarError, EOFError, OSError) as e:
            raise SaveFormatError(f"{path}: damaged save archive ({type(e).__name__}: {e})") from e

        def get(name: str) -> bytes:
            member = members.get(name)
            if member is None or not member.isreg():
                raise KeyError(name)
            stream = tar.extractfile(member)
            if stream is None:
                raise KeyError(name)
            return stream.read()

        def sizes(name: str) -> int | None:
            member = members.get(name)
            if member is not None and not member.isreg():
                raise SaveFormatError(f"{path}: {name} is a link or special file; a save holds only regular files")
            return member.size if member is not None else None

        yield get, sizes


def _directory_reader(root: Path) -> tuple[Get, Sizes]:
    def inside(name: str) -> Path | None:
        """The member's path, refusing every symbolic link on the way: a save never reads outside itself."""
        here = root
        for part in name.split("/"):
            here = here / part
            try:
                mode = os.lstat(here).st_mode
            except FileNotFoundError:
                return None
            if stat.S_ISLNK(mode):
                raise SaveFormatError(
                    f"{root}: {here.relative_to(root)} is a symbolic link; a save directory holds only regular "
                    "files and directories (links could reach outside it)"
                )
        if not stat.S_ISREG(os.lstat(here).st_mode):
            raise SaveFormatError(f"{root}: {name} is not a regular file")
        return here

    def get(name: str) -> bytes:
        found = inside(name)
        if found is None:
            raise FileNotFoundError(errno.ENOENT, f"{name} is not in the save", str(root / name))
        fd = os.open(found, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as f:
            return f.read()

    def sizes(name: str) -> int | None:
        found = inside(name)
        return None if found is None else os.lstat(found).st_size

    return get, sizes
