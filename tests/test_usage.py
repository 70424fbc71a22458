"""usage(): the pool's, a catalog's tables' and namespaces' all name their numbers .bytes and .files."""

from __future__ import annotations

import pyarrow as pa

import memcatalog
from memcatalog import MemCatalog, Usage
from memcatalog.pool import Pool


def test_pool_usage_names_bytes_and_files_and_still_unpacks(pool: Pool) -> None:
    pool.put("d/a.bin", b"abc")
    pool.put("d/b.bin", b"de")
    pool.put("other.bin", b"x")
    usage = pool.usage("d")
    assert (usage.bytes, usage.files) == (5, 2)
    size, files = usage
    assert (size, files) == (5, 2) and isinstance(usage, Usage)
    assert pool.usage() == Usage(6, 3)


def test_namespace_usage_sums_the_tables_usage(memcatalog_catalog: MemCatalog) -> None:
    cat = memcatalog_catalog
    cat.create_namespace("db")
    for name in ("a", "b"):
        cat.create_table(f"db.{name}", pa.schema([("n", pa.int64())])).append(pa.table({"n": [1, 2, 3]}))
    tables = cat.usage()
    total = cat.namespace_usage()["db"]
    assert isinstance(total, Usage)
    assert total == (sum(t.bytes for t in tables), sum(t.files for t in tables))
    assert (total.bytes, total.files) == cat.pool.usage(memcatalog.urls.parse(cat.warehouse)[1] + "db")
