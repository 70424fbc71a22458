"""The catalogs a user would pick instead of memcatalog, set up identically for the benchmark."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from dataclasses import dataclass

from fsspec import AbstractFileSystem
from fsspec.implementations.memory import MemoryFileSystem
from pyiceberg.catalog import Catalog
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.io.fsspec import FsspecFileIO
from pyiceberg.typedef import Properties

from memcatalog.catalog import MemCatalog
from memcatalog.config import PY_IO_IMPL
from memcatalog.pool import drop_pool


def _memory_fs(_: Properties) -> MemoryFileSystem:
    return MemoryFileSystem()


class MemoryFsFileIO(FsspecFileIO):
    """pyiceberg's FsspecFileIO taught the ``memory://`` scheme (fsspec's MemoryFileSystem)."""

    def __init__(self, properties: Properties) -> None:
        super().__init__(properties)
        self._scheme_to_fs["memory"] = _memory_fs


@dataclass
class Peer:
    name: str
    catalog: Catalog
    tmpdir: str | None = None
    memory_root: str | None = None

    def close(self) -> None:
        self.catalog.close()
        if isinstance(self.catalog, MemCatalog):
            drop_pool(self.catalog.pool.name)
        if self.tmpdir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
        if self.memory_root:
            fs = MemoryFileSystem()
            if fs.exists(self.memory_root):
                fs.rm(self.memory_root, recursive=True)

    def duckdb_filesystem(self) -> AbstractFileSystem | None:
        """The fsspec filesystem DuckDB needs to read this peer's files (None: local files)."""
        if self.name == "memcatalog":
            from memcatalog.filesystem import PoolFileSystem

            return PoolFileSystem()
        if self.name == "sql-memoryfs":
            return MemoryFileSystem()
        return None


def _shm_dir() -> str:
    return tempfile.mkdtemp(prefix="memcatalog-bench-", dir="/dev/shm")


def make(name: str) -> Peer:
    """A fresh catalog: memcatalog, sql-tmpfs (SqlCatalog, file:// on /dev/shm) or sql-memoryfs."""
    tag = uuid.uuid4().hex[:8]
    if name == "memcatalog":
        return Peer(name, MemCatalog(f"bench_{tag}", quota="16GiB"))
    tmp = _shm_dir()
    registry = f"sqlite:///{tmp}/registry.db"
    if name == "sql-tmpfs":
        return Peer(name, SqlCatalog(f"b{tag}", uri=registry, warehouse=f"file://{tmp}/wh"), tmp)
    if name == "sql-memoryfs":
        catalog = SqlCatalog(
            f"b{tag}",
            uri=registry,
            warehouse=f"memory://bench-{tag}/wh",
            **{PY_IO_IMPL: f"{__name__}.MemoryFsFileIO"},
        )
        return Peer(name, catalog, tmp)
    raise ValueError(f"unknown peer {name!r}")


PEERS = ["memcatalog", "sql-tmpfs", "sql-memoryfs"]
