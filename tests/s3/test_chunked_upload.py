"""aws-chunked uploads (STREAMING-UNSIGNED-PAYLOAD-TRAILER, as SDKs send over TLS) through the HTTP endpoint.

Signed by botocore's own SigV4 signer; the body is framed as the AWS documentation describes.
Without a declared decoded length, a write that runs out of quota is found while streaming.
"""

from __future__ import annotations

import httpx
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from memcatalog.pool import Pool
from memcatalog.s3 import S3Server

MiB = 2**20


def _framed(data: bytes, chunk: int) -> bytes:
    pieces = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    return (
        b"".join(f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in pieces)
        + b"0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n"
    )


def _put(s3: S3Server, bucket: str, key: str, data: bytes, *, decoded_length: bool) -> httpx.Response:
    body = _framed(data, 64 * 1024)
    headers = {"Content-Encoding": "aws-chunked", "X-Amz-Trailer": "x-amz-checksum-crc32"}
    if decoded_length:
        headers["X-Amz-Decoded-Content-Length"] = str(len(data))
    request = AWSRequest("PUT", f"{s3.url}/{bucket}/{key}", data=body, headers=headers)
    request.context["checksum"] = {"request_algorithm": {"in": "trailer"}}  # botocore signs it as streaming
    S3SigV4Auth(Credentials(s3.access_key, s3.secret_key), "s3", "us-east-1").add_auth(request)
    assert request.headers["X-Amz-Content-SHA256"] == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    return httpx.put(request.url, content=body, headers=dict(request.headers.items()), timeout=30)


def test_a_chunked_upload_stores_the_decoded_payload(s3: S3Server, bucket: Pool) -> None:
    data = bytes(range(256)) * 1000
    response = _put(s3, bucket.name, "c/x.bin", data, decoded_length=True)
    assert response.status_code == 200, response.text
    assert bytes(bucket.get("c/x.bin")) == data


def test_quota_found_while_streaming_leaves_nothing(s3: S3Server, bucket: Pool) -> None:
    bucket.put("filler", b"f" * (63 * MiB))
    response = _put(s3, bucket.name, "c/big.bin", b"x" * (2 * MiB), decoded_length=False)
    assert response.status_code == 400
    assert b"<Code>EntityTooLarge</Code>" in response.content and b"the pool is full" in response.content
    assert b"1.0 MiB free of 64.0 MiB" in response.content and b"at least" in response.content
    stats = bucket.stats()
    assert (stats.reserved, stats.files, bucket.entry("c/big.bin")) == (0, 1, None)


def test_a_declared_length_over_the_quota_is_refused_before_the_body(s3: S3Server, bucket: Pool) -> None:
    bucket.put("filler", b"f" * (63 * MiB))
    response = _put(s3, bucket.name, "c/big.bin", b"x" * (2 * MiB), decoded_length=True)
    assert response.status_code == 400 and b"needs 2.0 MiB" in response.content
    assert bucket.stats().reserved == 0
