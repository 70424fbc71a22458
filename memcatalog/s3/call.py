"""What every S3 handler works with: the endpoint's state and one parsed, authenticated request."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from memcatalog import buckets, paths
from memcatalog.errors import QuotaExceededError
from memcatalog.pool import FileEntry, Pool, PoolWriter, find_pool, get_pool, list_pools
from memcatalog.s3 import payload, sigv4
from memcatalog.s3.errors import S3Error, quota_error
from memcatalog.s3.multipart import Uploads

if TYPE_CHECKING:
    from starlette.requests import Request

DEFAULT_REGION = "us-east-1"


@dataclass
class Endpoint:
    """One S3 endpoint's state: whom it lets in, which pools it serves, and its uploads in flight.

    Args:
        credentials: the only key pair accepted.
        pools: the pool names served as buckets; None serves every pool of the process (and lets
            clients create pools with CreateBucket).
        region: what GetBucketLocation answers and what clients are told to sign for.
    """

    credentials: sigv4.Credentials
    pools: list[str] | None = None
    region: str = DEFAULT_REGION
    uploads: Uploads = field(default_factory=Uploads)
    started: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    _etags: dict[tuple[str, str], tuple[datetime, int, str]] = field(default_factory=dict)
    _etag_lock: threading.Lock = field(default_factory=threading.Lock)

    def bucket_names(self) -> list[str]:
        """The buckets served now (pools that exist), sorted."""
        names = list_pools() if self.pools is None else [p for p in self.pools if find_pool(p) is not None]
        return sorted(names)

    def pool(self, bucket: str) -> Pool:
        """The pool a bucket names; NoSuchBucket unless this endpoint serves it and it exists."""
        pool = find_pool(bucket) if self.pools is None or bucket in self.pools else None
        if pool is None:
            raise S3Error.no_such_bucket(bucket)
        return pool

    def create_bucket(self, bucket: str) -> Pool:
        """CreateBucket: a new pool (default quota), only on an endpoint that serves every pool."""
        if self.pools is not None and bucket not in self.pools:
            raise S3Error.access_denied(f"this endpoint serves only the pools {self.pools}; it creates no others")
        pool = get_pool(bucket)  # raises ValueError for a name no pool can have
        buckets.serve([bucket])
        return pool

    # ETags: the MD5 of what a PUT or multipart upload stored; an opaque tag for files written otherwise.
    def remember_etag(self, pool: Pool, key: str, entry: FileEntry, etag: str) -> None:
        """Keep the ETag of what a request stored (valid while the file is that very entry)."""
        with self._etag_lock:
            self._etags[(pool.name, key)] = (entry.created, entry.size, etag)

    def forget_etag(self, pool: Pool, key: str) -> None:
        """Drop the ETag of a deleted object."""
        with self._etag_lock:
            self._etags.pop((pool.name, key), None)

    def etag(self, pool: Pool, key: str, entry: FileEntry) -> str:
        """The object's ETag: the MD5 remembered from its upload, else an opaque tag of the stored file."""
        with self._etag_lock:
            known = self._etags.get((pool.name, key))
            if known is not None and (known[0] != entry.created or known[1] != entry.size):
                del self._etags[(pool.name, key)]  # the file was replaced by other means: its MD5 is gone
                known = None
        if known is not None:
            return known[2]
        tag = f"{pool.name}/{key}:{entry.size}:{entry.created.timestamp()}:{id(entry.buffer)}"
        return hashlib.md5(tag.encode(), usedforsecurity=False).hexdigest()


@dataclass
class Call:
    """One request: bucket and key from the path, query and headers, and the checked signature."""

    endpoint: Endpoint
    request: Request
    method: str
    bucket: str
    key: str
    query: dict[str, str]
    headers: dict[str, str]
    signed: sigv4.Signed

    @property
    def resource(self) -> str:
        return f"/{self.bucket}/{self.key}" if self.key else f"/{self.bucket}"

    def pool(self) -> Pool:
        return self.endpoint.pool(self.bucket)

    def pool_key(self) -> str:
        return pool_key(self.bucket, self.key)

    async def body(self) -> bytes:
        """A small request body (an XML document), decoded and checked."""
        decoder = payload.decoder(self.headers, self.signed)
        out = bytearray()
        async for chunk in self.request.stream():
            for piece in decoder.feed(chunk):
                out += piece
        decoder.finish()
        return bytes(out)

    async def receive_into(self, writer: PoolWriter) -> str:
        """Stream the body into ``writer`` (reserving as it arrives); returns the payload's hex MD5.

        On any failure the writer is aborted (nothing stays reserved) and the rest of the body is read
        and dropped, so the client gets the error instead of a broken connection.
        """
        declared = payload.declared_length(self.headers)
        free = writer.pool.stats().free
        if declared is not None and declared > free:
            writer.abort()
            raise QuotaExceededError(writer.pool._url(writer.key), declared, free, writer.pool.quota, writer.pool.name)
        decoder = payload.decoder(self.headers, self.signed)
        md5 = hashlib.md5(usedforsecurity=False)
        stream = self.request.stream()
        received = 0
        try:
            async for chunk in stream:
                for piece in decoder.feed(chunk):
                    received += len(piece)
                    writer.write(piece)
                    md5.update(piece)
            decoder.finish()
            _check_content_md5(self.headers, md5.digest())
        except BaseException as e:
            writer.abort()
            async for _ in stream:  # drain
                pass
            if isinstance(e, QuotaExceededError):  # the body's size so far, not the one chunk that did not fit
                pool = writer.pool
                found = QuotaExceededError(e.path, received, pool.stats().free, pool.quota, pool.name)
                raise quota_error(found, self.resource, partial=True) from e
            raise
        return md5.hexdigest()


def _check_content_md5(headers: dict[str, str], digest: bytes) -> None:
    """``Content-MD5`` (base64 of the body's MD5), checked as S3 does when a client sends it."""
    given = headers.get("content-md5")
    if given is None:
        return
    try:
        expected = base64.b64decode(given.strip(), validate=True)
    except (binascii.Error, ValueError) as e:
        raise S3Error("InvalidDigest", 400, f"Content-MD5 {given!r} is not base64") from e
    if not hmac.compare_digest(expected, digest):
        raise S3Error("BadDigest", 400, "the body's MD5 differs from Content-MD5; nothing stored")


def pool_key(bucket: str, key: str) -> str:
    """The pool path an S3 key names; keys a path cannot hold (``a//b``, ``../x``) are refused."""
    try:
        normalized = paths.normalize(f"{bucket}/{key}")
    except (PermissionError, ValueError) as e:
        raise S3Error.invalid_argument(f"key {key!r} cannot be stored: {e}", f"/{bucket}/{key}") from e
    found = paths.split_pool(normalized)[1]
    if found != key.rstrip("/"):
        raise S3Error.invalid_argument(
            f"key {key!r} cannot be stored: memcatalog keys are paths (no empty, '.' or '..' parts)",
            f"/{bucket}/{key}",
        )
    return found
