"""ListObjectsV2 and ListObjects against moto's S3 server as the oracle: same objects, same pages."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

from memcatalog.pool import Pool

KEYS = [
    "a.txt",
    "b/1.parquet",
    "b/2.parquet",
    "b/c/3.parquet",
    "b/c/d/4.parquet",
    "b/e/5.parquet",
    "b-sibling/6",
    "c/x=1/7",
    "c/x=2/8",
    "c/x=2/9",
    "zz",
    "éclair/10",
]


@pytest.fixture(scope="module")
def moto() -> Iterator[Any]:
    # moto's server app as moto.server.ThreadedMotoServer runs it, but polling for shutdown every 10 ms
    # (ThreadedMotoServer's serve_forever waits up to 0.5 s to notice a stop) and on a port of its choice.
    app = DomainDispatcherApplication(create_backend_app)
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler)
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    client = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{port}",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}),
    )
    client.create_bucket(Bucket="oracle")
    for key in KEYS:
        client.put_object(Bucket="oracle", Key=key, Body=key.encode())
    yield client
    server.shutdown()
    server.server_close()
    thread.join()


def _pages(client: Any, bucket: str, v2: bool, **params: Any) -> list[tuple[list[str], list[str], bool]]:
    operation = "list_objects_v2" if v2 else "list_objects"
    out = []
    for page in client.get_paginator(operation).paginate(Bucket=bucket, **params):
        out.append(
            (
                [c["Key"] for c in page.get("Contents", [])],
                [p["Prefix"] for p in page.get("CommonPrefixes", [])],
                page["IsTruncated"],
            )
        )
    return out


CASES = [
    {},
    {"Prefix": "b/"},
    {"Prefix": "b"},
    {"Delimiter": "/"},
    {"Prefix": "b/", "Delimiter": "/"},
    {"Prefix": "c/x=", "Delimiter": "/"},
    {"Delimiter": "/", "PaginationConfig": {"PageSize": 1}},
    {"Delimiter": "/", "PaginationConfig": {"PageSize": 2}},
    {"Prefix": "b/", "Delimiter": "/", "PaginationConfig": {"PageSize": 2}},
    {"PaginationConfig": {"PageSize": 3}},
    {"Prefix": "nothing-here"},
    {"Delimiter": "="},
]


# moto's own V1 pages differ from S3's once max-keys cuts through common prefixes (it returns them all and
# a hashed marker), so V1 is compared with moto unpaginated, and its pages' union with moto's V2.
V1_CASES = [c for c in CASES if "PaginationConfig" not in c]


@pytest.mark.parametrize("params", CASES, ids=[str(c) for c in CASES])
def test_v2_pages_match_moto(client: Any, bucket: Pool, moto: Any, params: dict[str, Any]) -> None:
    for key in KEYS:
        bucket.put(key, key.encode())
    assert _pages(client, bucket.name, True, **params) == _pages(moto, "oracle", True, **params)


@pytest.mark.parametrize("params", V1_CASES, ids=[str(c) for c in V1_CASES])
def test_v1_listing_matches_moto(client: Any, bucket: Pool, moto: Any, params: dict[str, Any]) -> None:
    for key in KEYS:
        bucket.put(key, key.encode())
    assert _pages(client, bucket.name, False, **params) == _pages(moto, "oracle", False, **params)


@pytest.mark.parametrize("size", [1, 2, 5])
def test_v1_pages_cover_what_v2_lists(client: Any, bucket: Pool, moto: Any, size: int) -> None:
    for key in KEYS:
        bucket.put(key, key.encode())
    params: dict[str, Any] = {"Delimiter": "/", "PaginationConfig": {"PageSize": size}}
    ours = _pages(client, bucket.name, False, **params)
    expected = _pages(moto, "oracle", True, Delimiter="/")
    assert [k for keys, _, _ in ours for k in keys] == expected[0][0]
    assert [p for _, prefixes, _ in ours for p in prefixes] == expected[0][1]
    assert all(len(keys) + len(prefixes) <= size for keys, prefixes, _ in ours)


@pytest.mark.parametrize("after", ["", "b/", "b/2.parquet", "c", "zzz"])
def test_start_after_matches_moto(client: Any, bucket: Pool, moto: Any, after: str) -> None:
    for key in KEYS:
        bucket.put(key, key.encode())
    ours = client.list_objects_v2(Bucket=bucket.name, StartAfter=after, MaxKeys=4)
    theirs = moto.list_objects_v2(Bucket="oracle", StartAfter=after, MaxKeys=4)
    assert [c["Key"] for c in ours.get("Contents", [])] == [c["Key"] for c in theirs.get("Contents", [])]
    assert ours["IsTruncated"] == theirs["IsTruncated"]


def test_sizes_and_key_count(client: Any, bucket: Pool) -> None:
    for key in KEYS:
        bucket.put(key, key.encode())
    page = client.list_objects_v2(Bucket=bucket.name, Prefix="c/")
    assert {c["Key"]: c["Size"] for c in page["Contents"]} == {k: len(k.encode()) for k in KEYS if k.startswith("c/")}
    assert page["KeyCount"] == 3


def test_max_keys_zero(client: Any, bucket: Pool) -> None:
    bucket.put("a", b"1")
    page = client.list_objects_v2(Bucket=bucket.name, MaxKeys=0)
    assert page["KeyCount"] == 0 and "Contents" not in page
