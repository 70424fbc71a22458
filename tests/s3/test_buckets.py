"""memcatalog.buckets: which s3:// URLs name pool files in this process (no S3 endpoint is left running here)."""

from __future__ import annotations

import uuid

import memcatalog
import memcatalog.s3
from memcatalog import buckets, urls
from memcatalog.fileio import MemFileIO


def test_a_served_bucket_stays_mapped_after_the_endpoint_stops() -> None:
    pool = memcatalog.get_pool(f"kept-{uuid.uuid4().hex[:8]}")
    try:
        pool.put("db/t/x", b"1")
        with memcatalog.s3.serve(pools=[pool.name]) as server:
            assert buckets.endpoint_for(pool.name) == server.client_properties()
        assert buckets.endpoint_for(pool.name) is None  # no longer over HTTP
        url = f"s3://{pool.name}/db/t/x"
        assert urls.is_pool_url(url) and urls.is_pool_url(f"s3a://{pool.name}/db/t/x")
        assert MemFileIO().new_input(url).open().read() == b"1"
    finally:
        memcatalog.drop_pool(pool.name)


def test_after_an_endpoint_of_every_pool_stops_only_the_pools_it_saw_stay_mapped() -> None:
    seen = memcatalog.get_pool(f"seen-{uuid.uuid4().hex[:8]}")
    with memcatalog.s3.serve(pools=None):
        pass
    later = memcatalog.get_pool(f"later-{uuid.uuid4().hex[:8]}")
    try:
        assert urls.is_pool_url(f"s3://{seen.name}/a")  # its tables stay readable here
        assert not urls.is_pool_url(f"s3://{later.name}/a")  # a pool made afterwards is not a bucket
    finally:
        memcatalog.drop_pool(seen.name)
        memcatalog.drop_pool(later.name)


def test_a_bucket_with_no_pool_is_not_a_pool_url() -> None:
    assert not urls.is_pool_url(f"s3://no-pool-{uuid.uuid4().hex[:8]}/a")


def test_stopping_an_endpoint_frees_the_parts_of_uploads_in_flight() -> None:
    pool = memcatalog.get_pool(f"inflight-{uuid.uuid4().hex[:8]}", quota="16MiB")
    try:
        with memcatalog.s3.serve(pools=[pool.name]) as server:
            client = server.boto3_client()
            upload = client.create_multipart_upload(Bucket=pool.name, Key="m")["UploadId"]
            client.upload_part(Bucket=pool.name, Key="m", UploadId=upload, PartNumber=1, Body=b"x" * 2**20)
            assert pool.stats().reserved == 2**20
        assert pool.stats().reserved == 0 and pool.check() == []
    finally:
        memcatalog.drop_pool(pool.name)


def test_adopt_maps_the_bucket_of_a_restored_location() -> None:
    pool = memcatalog.get_pool(f"adopted-{uuid.uuid4().hex[:8]}")
    try:
        assert not urls.is_pool_url(f"s3://{pool.name}/db/t/metadata/x.json")
        buckets.adopt(f"memcat://{pool.name}/db/t/metadata/x.json")  # not an S3 location: nothing to map
        assert not urls.is_pool_url(f"s3://{pool.name}/db/t/metadata/x.json")
        buckets.adopt(f"s3://{pool.name}/db/t/metadata/x.json")
        assert urls.is_pool_url(f"s3://{pool.name}/db/t/data/y.parquet")
    finally:
        memcatalog.drop_pool(pool.name)
