"""Signature V4 checked against AWS's own published examples (the S3 SigV4 documentation's example requests)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from memcatalog.s3 import payload, sigv4
from memcatalog.s3.errors import S3Error

# The example account of AWS's documentation.
CREDS = sigv4.Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
WHEN = datetime(2013, 5, 24, tzinfo=timezone.utc)
SCOPE = "AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request"


def test_awss_get_object_example() -> None:
    headers = {
        "host": "examplebucket.s3.amazonaws.com",
        "range": "bytes=0-9",
        "x-amz-content-sha256": sigv4.EMPTY_SHA256,
        "x-amz-date": "20130524T000000Z",
        "authorization": f"AWS4-HMAC-SHA256 Credential={SCOPE},SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
    }
    sigv4.verify("GET", "/test.txt", [], headers, CREDS, WHEN)
    with pytest.raises(S3Error) as e:
        sigv4.verify("GET", "/test.txt", [], {**headers, "range": "bytes=0-10"}, CREDS, WHEN)
    assert e.value.code == "SignatureDoesNotMatch" and e.value.status == 403


PRESIGNED = [
    ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
    ("X-Amz-Credential", SCOPE),
    ("X-Amz-Date", "20130524T000000Z"),
    ("X-Amz-Expires", "86400"),
    ("X-Amz-SignedHeaders", "host"),
    ("X-Amz-Signature", "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"),
]


def test_awss_presigned_url_example_and_its_expiry() -> None:
    headers = {"host": "examplebucket.s3.amazonaws.com"}
    sigv4.verify("GET", "/test.txt", PRESIGNED, headers, CREDS, WHEN + timedelta(hours=1))
    with pytest.raises(S3Error, match="expired"):
        sigv4.verify("GET", "/test.txt", PRESIGNED, headers, CREDS, WHEN + timedelta(days=1, seconds=1))


SEED = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
CHUNKS = [
    (65536, "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"),
    (1024, "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"),
    (0, "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"),
]
CHUNKED_HEADERS = {
    "host": "s3.amazonaws.com",
    "x-amz-date": "20130524T000000Z",
    "x-amz-storage-class": "REDUCED_REDUNDANCY",
    "x-amz-content-sha256": sigv4.STREAMING_SIGNED,
    "content-encoding": "aws-chunked",
    "x-amz-decoded-content-length": "66560",
    "content-length": "66824",
    "authorization": f"AWS4-HMAC-SHA256 Credential={SCOPE},SignedHeaders=content-encoding;content-length;host;"
    f"x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature={SEED}",
}


def _chunked(chunks: list[tuple[int, str]]) -> bytes:
    return b"".join(f"{size:x};chunk-signature={sig}\r\n".encode() + b"a" * size + b"\r\n" for size, sig in chunks)


def _decode(body: bytes, step: int) -> bytes:
    signed = sigv4.verify("PUT", "/examplebucket/chunkObject.txt", [], CHUNKED_HEADERS, CREDS, WHEN)
    decoder = payload.decoder(CHUNKED_HEADERS, signed)
    out = b"".join(b"".join(decoder.feed(body[i : i + step])) for i in range(0, len(body), step))
    decoder.finish()
    return out


@pytest.mark.parametrize("step", [1, 7, 4096, 100_000])
def test_awss_chunked_upload_example_decodes_in_any_pieces(step: int) -> None:
    body = _chunked(CHUNKS)
    assert len(body) == 66824  # the example's Content-Length
    assert _decode(body, step) == b"a" * 66560
    assert payload.declared_length(CHUNKED_HEADERS) == 66560


def test_a_chunk_with_a_wrong_signature_is_refused() -> None:
    forged = [CHUNKS[0], (1024, "0" * 64), CHUNKS[2]]
    with pytest.raises(S3Error) as e:
        _decode(_chunked(forged), 4096)
    assert e.value.code == "SignatureDoesNotMatch"


def test_a_body_cut_short_is_refused() -> None:
    with pytest.raises(S3Error) as e:
        _decode(_chunked(CHUNKS[:2]), 4096)
    assert e.value.code == "IncompleteBody"
