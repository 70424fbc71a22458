"""A catalog served with s3=True: its tables live at s3://<pool>/..., the same pool files every side reaches."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pyarrow as pa
import pytest
from pyiceberg.catalog.rest import RestCatalog

import memcatalog
import memcatalog.duckdb
import memcatalog.rest
from memcatalog import MemCatalog
from memcatalog.fileio import MemFileIO
from memcatalog.rest import RestServer

S3_KEYS = ["s3.endpoint", "s3.access-key-id", "s3.secret-access-key", "s3.region", "s3.path-style-access"]
SCHEMA = pa.schema([("n", pa.int64()), ("s", pa.string())])


@pytest.fixture
def cat() -> Iterator[MemCatalog]:
    catalog = MemCatalog(f"sv{uuid.uuid4().hex[:10]}")
    catalog.create_namespace("db")
    yield catalog
    assert catalog.check() == []
    memcatalog.drop_pool(catalog.pool.name)


@pytest.fixture
def server(cat: MemCatalog) -> Iterator[RestServer]:
    with memcatalog.rest.serve(cat, s3=True) as s:
        yield s


def test_config_and_load_table_vend_the_s3_endpoint(cat: MemCatalog, server: RestServer) -> None:
    assert server.s3 is not None and server.s3_url == server.s3.url
    config = httpx.get(server.url + "/v1/config").json()
    vended = {k: config["defaults"][k] for k in S3_KEYS}
    assert vended == server.s3.client_properties()
    assert vended["s3.endpoint"] == server.s3_url and vended["s3.path-style-access"] == "true"
    assert "py-io-impl" not in config["defaults"]  # a client without memcatalog must be able to start
    assert config["defaults"]["warehouse"] == f"s3://{cat.pool.name}/"
    cat.create_table("db.t", SCHEMA)
    loaded = httpx.get(server.url + "/v1/namespaces/db/tables/t").json()
    assert {k: loaded["config"][k] for k in S3_KEYS} == vended


def test_new_tables_are_s3_and_read_in_process_without_http(cat: MemCatalog, server: RestServer) -> None:
    table = cat.create_table("db.t", SCHEMA)
    assert table.location() == f"s3://{cat.pool.name}/db/t"
    assert isinstance(table.io, MemFileIO)
    table.append(pa.table({"n": [1, 2], "s": ["a", "b"]}))
    assert cat.pool.keys("db/t/data")  # the data file is in the pool
    assert server.s3 is not None
    server.s3.stop()  # no endpoint left: in-process reads go straight to the pool
    assert cat.load_table("db.t").scan().to_arrow().sort_by("n")["n"].to_pylist() == [1, 2]
    cat.load_table("db.t").append(pa.table({"n": [3], "s": ["c"]}))
    assert len(cat.load_table("db.t").scan().to_arrow()) == 3


def test_a_rest_client_with_only_the_url_writes_through_s3(cat: MemCatalog, server: RestServer) -> None:
    client = RestCatalog("outside", uri=server.url)
    table = client.create_table("db.events", SCHEMA)
    assert type(table.io).__name__ == "PyArrowFileIO"  # its own S3 FileIO, not memcatalog's
    table.append(pa.table({"n": [1, 2, 3], "s": ["x", "y", "z"]}))
    table.overwrite(pa.table({"n": [10], "s": ["w"]}))
    seen = cat.load_table("db.events").scan().to_arrow()
    assert seen.to_pylist() == [{"n": 10, "s": "w"}]
    before = cat.pool.stats().used
    result = cat.reclaim(retain_last=1)
    assert result.files_deleted > 0 and cat.pool.stats().used < before  # the overwritten snapshot's files
    assert client.load_table("db.events").scan().to_arrow().to_pylist() == [{"n": 10, "s": "w"}]


def test_reclaim_keeps_files_named_by_s3_paths(cat: MemCatalog, server: RestServer) -> None:
    table = cat.create_table("db.t", SCHEMA)
    table.append(pa.table({"n": [1], "s": ["a"]}))
    files = cat.pool.usage()[1]
    assert cat.reclaim().files_deleted == 0
    assert cat.pool.usage()[1] == files
    assert cat.check(allow_unreferenced=False) == []


def test_memcat_tables_keep_working_while_served_and_after(cat: MemCatalog) -> None:
    old = cat.create_table("db.old", SCHEMA)
    old.append(pa.table({"n": [1], "s": ["a"]}))
    with memcatalog.rest.serve(cat, s3=True):
        assert cat.warehouse.startswith("s3://")
        cat.load_table("db.old").append(pa.table({"n": [2], "s": ["b"]}))
        new = cat.create_table("db.new", SCHEMA)
        new.append(pa.table({"n": [3], "s": ["c"]}))
    assert cat.warehouse == f"memcat://{cat.pool.name}/"
    assert cat.load_table("db.old").location().startswith("memcat://")
    assert len(cat.load_table("db.old").scan().to_arrow()) == 2
    assert cat.load_table("db.new").scan().to_arrow()["n"].to_pylist() == [3]
    assert cat.create_table("db.later", SCHEMA).location().startswith("memcat://")


def test_in_process_duckdb_reads_s3_tables(cat: MemCatalog, server: RestServer) -> None:
    cat.create_table("db.t", SCHEMA).append(pa.table({"n": [1, 2, 3], "s": ["a", "b", "c"]}))
    con = memcatalog.duckdb.connect(cat)
    assert con.sql("SELECT sum(n) FROM db.t").fetchone() == (6,)


def test_in_process_duckdb_attach_writes_s3_tables(cat: MemCatalog, server: RestServer) -> None:
    con = memcatalog.duckdb.attach(cat, server=server, name="lake")
    con.execute("CREATE TABLE lake.db.d (n BIGINT)")
    con.execute("INSERT INTO lake.db.d VALUES (1), (2)")
    table = cat.load_table("db.d")
    assert table.location().startswith(f"s3://{cat.pool.name}/")
    assert sorted(table.scan().to_arrow()["n"].to_pylist()) == [1, 2]


def test_pyarrows_s3_writer_uploads_a_large_data_file_in_parts(cat: MemCatalog, server: RestServer) -> None:
    import os

    client = RestCatalog("outside", uri=server.url)  # pyarrow's S3 filesystem (the AWS C++ SDK), not boto3
    table = client.create_table("db.big", pa.schema([("b", pa.binary())]))
    rows = [os.urandom(1024) for _ in range(12_000)]  # ~12 MiB that does not compress: more than one part
    table.append(pa.table({"b": rows}))
    assert server.s3 is not None
    (key,) = cat.pool.keys("db/big/data")
    etag = server.s3.boto3_client().head_object(Bucket=cat.pool.name, Key=key)["ETag"]
    assert etag.strip('"').rpartition("-")[2].isdigit()  # S3's multipart ETag: md5-of-parts-N
    assert cat.load_table("db.big").scan().to_arrow()["b"].to_pylist() == rows
    assert cat.pool.stats().reserved == 0
