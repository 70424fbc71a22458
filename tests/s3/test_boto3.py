"""boto3 against the S3 endpoint: what an S3 client relies on, with the pool's accounting checked after each."""

from __future__ import annotations

import io
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3
import httpx
import pytest
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

import memcatalog
import memcatalog.s3
from memcatalog import urls
from memcatalog.pool import Pool
from memcatalog.s3 import S3Error, S3Server, sigv4

MiB = 2**20


def _error(e: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = e.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def _payload(size: int) -> bytes:
    return bytes((i * 7 + i // 251) % 256 for i in range(min(size, 1 << 16))) * (size // (1 << 16) + 1)


def test_put_get_head_round_trip(client: Any, bucket: Pool) -> None:
    client.put_object(Bucket=bucket.name, Key="db/t/data/a.parquet", Body=b"hello, pool")
    assert bytes(bucket.get("db/t/data/a.parquet")) == b"hello, pool"
    got = client.get_object(Bucket=bucket.name, Key="db/t/data/a.parquet")
    assert got["Body"].read() == b"hello, pool"
    head = client.head_object(Bucket=bucket.name, Key="db/t/data/a.parquet")
    assert head["ContentLength"] == 11
    assert head["ETag"] == got["ETag"]


def test_files_written_in_process_are_objects(client: Any, bucket: Pool) -> None:
    bucket.put("x/y.bin", b"\x00\x01\x02")
    assert client.get_object(Bucket=bucket.name, Key="x/y.bin")["Body"].read() == b"\x00\x01\x02"


def test_multipart_upload_of_several_parts(client: Any, bucket: Pool) -> None:
    data = _payload(12 * MiB + 12345)[: 12 * MiB + 12345]
    config = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB, max_concurrency=3)
    client.upload_fileobj(io.BytesIO(data), bucket.name, "big/file.bin", Config=config)
    head = client.head_object(Bucket=bucket.name, Key="big/file.bin")
    assert head["ETag"].strip('"').endswith("-3")  # three parts, S3's multipart ETag
    assert bytes(bucket.get("big/file.bin")) == data
    assert client.get_object(Bucket=bucket.name, Key="big/file.bin")["Body"].read() == data  # sent in pieces
    ranged = client.get_object(Bucket=bucket.name, Key="big/file.bin", Range="bytes=1000-5000000")
    assert ranged["Body"].read() == data[1000:5000001]
    assert bucket.stats().reserved == 0


def test_multipart_parts_are_invisible_and_reserved_until_complete(client: Any, bucket: Pool) -> None:
    used = bucket.stats().used
    upload = client.create_multipart_upload(Bucket=bucket.name, Key="m.bin")["UploadId"]
    first = client.upload_part(Bucket=bucket.name, Key="m.bin", UploadId=upload, PartNumber=1, Body=b"a" * 5 * MiB)
    second = client.upload_part(Bucket=bucket.name, Key="m.bin", UploadId=upload, PartNumber=2, Body=b"b" * 10)
    assert bucket.stats().reserved == 5 * MiB + 10
    assert client.list_objects_v2(Bucket=bucket.name).get("Contents") is None
    with pytest.raises(ClientError) as missing:
        client.head_object(Bucket=bucket.name, Key="m.bin")
    assert _error(missing)[1] == 404
    parts = [{"PartNumber": 1, "ETag": first["ETag"]}, {"PartNumber": 2, "ETag": second["ETag"]}]
    client.complete_multipart_upload(Bucket=bucket.name, Key="m.bin", UploadId=upload, MultipartUpload={"Parts": parts})
    stats = bucket.stats()
    assert (stats.reserved, stats.used) == (0, used + 5 * MiB + 10)
    assert bytes(bucket.get("m.bin")) == b"a" * 5 * MiB + b"b" * 10


def test_abort_frees_every_part(client: Any, bucket: Pool) -> None:
    upload = client.create_multipart_upload(Bucket=bucket.name, Key="m.bin")["UploadId"]
    client.upload_part(Bucket=bucket.name, Key="m.bin", UploadId=upload, PartNumber=1, Body=b"a" * MiB)
    client.abort_multipart_upload(Bucket=bucket.name, Key="m.bin", UploadId=upload)
    assert bucket.stats().reserved == 0
    assert bucket.entry("m.bin") is None
    with pytest.raises(ClientError) as gone:
        client.upload_part(Bucket=bucket.name, Key="m.bin", UploadId=upload, PartNumber=2, Body=b"x")
    assert _error(gone) == ("NoSuchUpload", 404)


def test_complete_with_a_wrong_etag_keeps_the_upload(client: Any, bucket: Pool) -> None:
    upload = client.create_multipart_upload(Bucket=bucket.name, Key="m.bin")["UploadId"]
    part = client.upload_part(Bucket=bucket.name, Key="m.bin", UploadId=upload, PartNumber=1, Body=b"abc")
    with pytest.raises(ClientError) as wrong:
        client.complete_multipart_upload(
            Bucket=bucket.name,
            Key="m.bin",
            UploadId=upload,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"0123"'}]},
        )
    assert _error(wrong) == ("InvalidPart", 400)
    assert bucket.entry("m.bin") is None
    client.complete_multipart_upload(
        Bucket=bucket.name,
        Key="m.bin",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    assert bytes(bucket.get("m.bin")) == b"abc"


@pytest.mark.parametrize(
    "spec", ["bytes=0-0", "bytes=5-99", "bytes=100-", "bytes=-17", "bytes=990-5000", "bytes=-5000"]
)
def test_ranged_reads(client: Any, bucket: Pool, spec: str) -> None:
    data = bytes(range(256)) * 4
    bucket.put("r.bin", data)
    first, last = spec.removeprefix("bytes=").split("-")
    expected = data[-int(last) :] if first == "" else data[int(first) : int(last) + 1 if last else None]
    got = client.get_object(Bucket=bucket.name, Key="r.bin", Range=spec)
    assert got["Body"].read() == expected
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["ContentRange"].endswith(f"/{len(data)}")


def test_a_range_past_the_end_is_refused(client: Any, bucket: Pool) -> None:
    bucket.put("r.bin", b"0123456789")
    with pytest.raises(ClientError) as e:
        client.get_object(Bucket=bucket.name, Key="r.bin", Range="bytes=10-20")
    assert _error(e) == ("InvalidRange", 416)


def test_upload_over_the_quota_is_refused_and_leaves_nothing(client: Any, bucket: Pool) -> None:
    bucket.put("keep.bin", b"k" * MiB)
    before = bucket.stats()
    with pytest.raises(ClientError) as e:
        client.put_object(Bucket=bucket.name, Key="huge.bin", Body=b"x" * (70 * MiB))
    code, status = _error(e)
    message = e.value.response["Error"]["Message"]
    assert (code, status) == ("EntityTooLarge", 400)
    assert "pool is full" in message and "63.0 MiB free of 64.0 MiB" in message and "7.0 MiB short" in message
    after = bucket.stats()
    assert (after.used, after.reserved, after.files) == (before.used, 0, before.files)
    assert bucket.entry("huge.bin") is None


def test_a_multipart_part_over_the_quota_is_refused_and_the_rest_freed_on_abort(client: Any, bucket: Pool) -> None:
    upload = client.create_multipart_upload(Bucket=bucket.name, Key="m.bin")["UploadId"]
    client.upload_part(Bucket=bucket.name, Key="m.bin", UploadId=upload, PartNumber=1, Body=b"a" * 40 * MiB)
    with pytest.raises(ClientError) as e:
        client.upload_part(Bucket=bucket.name, Key="m.bin", UploadId=upload, PartNumber=2, Body=b"b" * 30 * MiB)
    assert _error(e)[0] == "EntityTooLarge"
    assert bucket.stats().reserved == 40 * MiB
    client.abort_multipart_upload(Bucket=bucket.name, Key="m.bin", UploadId=upload)
    assert bucket.stats().reserved == 0


def _client(s3: S3Server, key: str, secret: str, retries: int = 1) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=s3.url,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        region_name="us-east-1",
        config=Config(signature_version="s3v4", retries={"max_attempts": retries}),
    )


def test_a_wrong_secret_is_refused(s3: S3Server, bucket: Pool) -> None:
    with pytest.raises(ClientError) as e:
        _client(s3, s3.access_key, s3.secret_key + "x").put_object(Bucket=bucket.name, Key="a", Body=b"1")
    assert _error(e) == ("SignatureDoesNotMatch", 403)
    assert bucket.entry("a") is None


def test_an_unknown_access_key_is_refused(s3: S3Server, bucket: Pool) -> None:
    with pytest.raises(ClientError) as e:
        _client(s3, "someone-else", s3.secret_key).list_objects_v2(Bucket=bucket.name)
    assert _error(e) == ("InvalidAccessKeyId", 403)


def test_an_unsigned_request_is_refused(s3: S3Server, bucket: Pool) -> None:
    bucket.put("a", b"secret")
    response = httpx.get(f"{s3.url}/{bucket.name}/a")
    assert response.status_code == 403
    assert b"<Code>AccessDenied</Code>" in response.content


def test_presigned_urls(client: Any, bucket: Pool) -> None:
    bucket.put("a/b c.txt", b"shared")
    url = client.generate_presigned_url("get_object", Params={"Bucket": bucket.name, "Key": "a/b c.txt"})
    assert httpx.get(url).content == b"shared"
    tampered = url.replace("X-Amz-Expires=3600", "X-Amz-Expires=3601")
    assert httpx.get(tampered).status_code == 403


def test_an_expired_presigned_url_is_refused(s3: S3Server, client: Any, bucket: Pool) -> None:
    url = httpx.URL(
        client.generate_presigned_url("get_object", Params={"Bucket": bucket.name, "Key": "a"}, ExpiresIn=5)
    )
    pairs = [(k, v) for k, v in url.params.multi_items()]
    headers = {"host": url.netloc.decode()}
    creds = s3.endpoint.credentials
    now = datetime.now(timezone.utc)
    sigv4.verify("GET", url.path, pairs, headers, creds, now)  # valid now
    with pytest.raises(S3Error, match="expired"):
        sigv4.verify("GET", url.path, pairs, headers, creds, now + timedelta(seconds=6))


def test_a_tampered_body_is_refused(s3: S3Server, bucket: Pool) -> None:
    client = s3.boto3_client()

    def corrupt(request: Any, **_: Any) -> None:
        request.body = b"evil"
        request.headers["Content-Length"] = "4"

    client.meta.events.register_last("before-send.s3.PutObject", corrupt)
    with pytest.raises(ClientError) as e:
        client.put_object(Bucket=bucket.name, Key="a", Body=b"good")
    assert _error(e)[1] == 400
    assert bucket.entry("a") is None


def test_copy_and_delete(client: Any, bucket: Pool) -> None:
    bucket.put("src/a.bin", b"abc" * 100)
    client.copy_object(Bucket=bucket.name, Key="dst/a.bin", CopySource={"Bucket": bucket.name, "Key": "src/a.bin"})
    assert bytes(bucket.get("dst/a.bin")) == b"abc" * 100
    client.delete_object(Bucket=bucket.name, Key="src/a.bin")
    client.delete_object(Bucket=bucket.name, Key="never-was")  # S3 answers 204 either way
    assert bucket.entry("src/a.bin") is None
    bucket.put("x/1", b"1")
    bucket.put("x/2", b"2")
    result = client.delete_objects(Bucket=bucket.name, Delete={"Objects": [{"Key": "x/1"}, {"Key": "x/2"}]})
    assert sorted(d["Key"] for d in result["Deleted"]) == ["x/1", "x/2"]
    assert bucket.keys() == ["dst/a.bin"]


def test_missing_bucket_and_key(client: Any, bucket: Pool) -> None:
    with pytest.raises(ClientError) as no_key:
        client.get_object(Bucket=bucket.name, Key="nope")
    assert _error(no_key) == ("NoSuchKey", 404)
    with pytest.raises(ClientError) as no_bucket:
        client.list_objects_v2(Bucket="no-such-pool-anywhere")
    assert _error(no_bucket) == ("NoSuchBucket", 404)
    with pytest.raises(ClientError) as head:
        client.head_bucket(Bucket="no-such-pool-anywhere")
    assert _error(head)[1] == 404
    client.head_bucket(Bucket=bucket.name)
    assert bucket.name in [b["Name"] for b in client.list_buckets()["Buckets"]]


def test_a_key_a_path_cannot_hold_is_refused(client: Any, bucket: Pool) -> None:
    with pytest.raises(ClientError) as e:
        client.put_object(Bucket=bucket.name, Key="a//b", Body=b"1")
    assert _error(e) == ("InvalidArgument", 400)
    assert "no empty" in e.value.response["Error"]["Message"]
    assert bucket.keys() == []


def test_an_endpoint_serves_only_its_pools(bucket: Pool) -> None:
    other = memcatalog.get_pool(f"other-{uuid.uuid4().hex[:8]}")
    try:
        other.put("secret", b"x")
        with memcatalog.s3.serve(pools=[bucket.name]) as limited:
            client = limited.boto3_client()
            with pytest.raises(ClientError) as e:
                client.get_object(Bucket=other.name, Key="secret")
            assert _error(e) == ("NoSuchBucket", 404)
            assert [b["Name"] for b in client.list_buckets()["Buckets"]] == [bucket.name]
            with pytest.raises(ClientError) as created:
                client.create_bucket(Bucket="brand-new-pool")
            assert _error(created) == ("AccessDenied", 403)
            assert memcatalog.pool.find_pool("brand-new-pool") is None
    finally:
        memcatalog.drop_pool(other.name)


def test_an_endpoint_of_every_pool_creates_buckets(client: Any) -> None:
    name = f"created-{uuid.uuid4().hex[:8]}"
    try:
        client.create_bucket(Bucket=name)
        client.put_object(Bucket=name, Key="a", Body=b"1")
        assert bytes(memcatalog.get_pool(name).get("a")) == b"1"
        assert urls.is_pool_url(f"s3://{name}/a")  # in this process, straight to the pool
    finally:
        memcatalog.drop_pool(name)


def test_a_managed_copy_of_a_large_object_copies_it_in_parts(client: Any, bucket: Pool) -> None:
    data = _payload(11 * MiB)[: 11 * MiB + 7]
    bucket.put("src.bin", data)
    config = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)
    client.copy({"Bucket": bucket.name, "Key": "src.bin"}, bucket.name, "dst.bin", Config=config)  # UploadPartCopy
    assert client.head_object(Bucket=bucket.name, Key="dst.bin")["ETag"].strip('"').endswith("-3")
    assert bytes(bucket.get("dst.bin")) == data
    assert bucket.stats().reserved == 0


def test_uploads_in_flight_and_their_parts_are_listed(client: Any, bucket: Pool) -> None:
    upload = client.create_multipart_upload(Bucket=bucket.name, Key="m/a.bin")["UploadId"]
    part = client.upload_part(Bucket=bucket.name, Key="m/a.bin", UploadId=upload, PartNumber=1, Body=b"abc")
    listed = client.list_multipart_uploads(Bucket=bucket.name)["Uploads"]
    assert [(u["Key"], u["UploadId"]) for u in listed] == [("m/a.bin", upload)]
    parts = client.list_parts(Bucket=bucket.name, Key="m/a.bin", UploadId=upload)["Parts"]
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in parts] == [(1, part["ETag"], 3)]
    client.abort_multipart_upload(Bucket=bucket.name, Key="m/a.bin", UploadId=upload)
    assert "Uploads" not in client.list_multipart_uploads(Bucket=bucket.name)


def test_etags_are_the_md5_and_change_when_the_file_does(client: Any, bucket: Pool) -> None:
    import hashlib

    put = client.put_object(Bucket=bucket.name, Key="e", Body=b"first")
    assert put["ETag"] == f'"{hashlib.md5(b"first").hexdigest()}"'
    assert client.head_object(Bucket=bucket.name, Key="e")["ETag"] == put["ETag"]
    bucket.put("e", b"second")  # replaced in the process, not through the endpoint
    assert client.head_object(Bucket=bucket.name, Key="e")["ETag"] != put["ETag"]


def test_conditional_reads(client: Any, bucket: Pool) -> None:
    etag = client.put_object(Bucket=bucket.name, Key="c", Body=b"v1")["ETag"]
    assert client.get_object(Bucket=bucket.name, Key="c", IfMatch=etag)["Body"].read() == b"v1"
    with pytest.raises(ClientError) as not_modified:
        client.get_object(Bucket=bucket.name, Key="c", IfNoneMatch=etag)
    assert not_modified.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    client.put_object(Bucket=bucket.name, Key="c", Body=b"v2")
    with pytest.raises(ClientError) as changed:
        client.get_object(Bucket=bucket.name, Key="c", IfMatch=etag)
    assert _error(changed) == ("PreconditionFailed", 412)


def test_a_conditional_write_creates_only(client: Any, bucket: Pool) -> None:
    client.put_object(Bucket=bucket.name, Key="once", Body=b"first", IfNoneMatch="*")
    with pytest.raises(ClientError) as e:
        client.put_object(Bucket=bucket.name, Key="once", Body=b"second", IfNoneMatch="*")
    assert _error(e) == ("PreconditionFailed", 412)
    assert bytes(bucket.get("once")) == b"first"
    assert bucket.stats().reserved == 0


def test_a_body_that_differs_from_its_content_md5_is_refused(s3: S3Server, client: Any, bucket: Pool) -> None:
    import base64
    import hashlib

    wrong = base64.b64encode(hashlib.md5(b"abd").digest()).decode()
    # botocore retries a BadDigest after a random pause of up to a second: ask once.
    once = _client(s3, s3.access_key, s3.secret_key, retries=0)
    with pytest.raises(ClientError) as e:
        once.put_object(Bucket=bucket.name, Key="m", Body=b"abc", ContentMD5=wrong)
    assert _error(e) == ("BadDigest", 400)
    assert bucket.entry("m") is None and bucket.stats().reserved == 0
    right = base64.b64encode(hashlib.md5(b"abc").digest()).decode()
    client.put_object(Bucket=bucket.name, Key="m", Body=b"abc", ContentMD5=right)
    assert bytes(bucket.get("m")) == b"abc"
