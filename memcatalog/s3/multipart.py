"""Multipart uploads: parts held reserved in the pool, invisible until the upload completes.

Each part is an unfinished :class:`~memcatalog.pool.PoolWriter`, so its bytes count against
the quota from the moment they arrive. Completing moves the parts' reservations into one
writer (nothing new is reserved) and publishes the object atomically; aborting releases
every byte. Uploads are kept per endpoint, in memory.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from dataclasses import dataclass, field

from memcatalog.pool import FileEntry, Pool, PoolWriter
from memcatalog.s3.errors import S3Error

MAX_PART_NUMBER = 10_000  # S3's limit
MIN_PART_SIZE = 5 * 2**20  # bytes: S3 refuses smaller parts, except the last one


@dataclass
class Part:
    writer: PoolWriter
    etag: str  # hex MD5 of the part, as S3 computes it
    size: int


@dataclass
class Upload:
    pool: Pool
    key: str
    parts: dict[int, Part] = field(default_factory=dict)


def _no_such_upload(upload_id: str) -> S3Error:
    return S3Error(
        "NoSuchUpload", 404, f"no multipart upload {upload_id!r}: it was completed, aborted, or never created"
    )


class Uploads:
    """The multipart uploads in flight on one S3 endpoint."""

    def __init__(self) -> None:
        self._uploads: dict[str, Upload] = {}
        self._lock = threading.Lock()

    def create(self, pool: Pool, key: str) -> str:
        upload_id = secrets.token_urlsafe(24)
        with self._lock:
            self._uploads[upload_id] = Upload(pool, key)
        return upload_id

    def get(self, upload_id: str, pool: Pool, key: str) -> Upload:
        with self._lock:
            upload = self._uploads.get(upload_id)
        if upload is None or upload.pool is not pool or upload.key != key:
            raise _no_such_upload(upload_id)
        return upload

    def add_part(self, upload_id: str, number: int, writer: PoolWriter, md5: str) -> None:
        """Keep a finished part's writer (a part sent again replaces the earlier one)."""
        with self._lock:
            upload = self._uploads.get(upload_id)
            if upload is None:  # aborted while the part was arriving
                writer.abort()
                raise _no_such_upload(upload_id)
            old = upload.parts.pop(number, None)
            upload.parts[number] = Part(writer, md5, writer.tell())
        if old is not None:
            old.writer.abort()

    def complete(self, upload_id: str, pool: Pool, key: str, chosen: list[tuple[int, str]]) -> tuple[FileEntry, str]:
        """Publish the parts ``chosen`` ((number, etag) in order); returns the entry and the object's ETag.

        Raises:
            S3Error: InvalidPart, InvalidPartOrder, EntityTooSmall, NoSuchUpload. The upload then stays
                as it was, so the client may retry or abort.
        """
        with self._lock:
            upload = self._uploads.get(upload_id)
            if upload is None or upload.pool is not pool or upload.key != key:
                raise _no_such_upload(upload_id)
            parts = _check_chosen(upload, chosen)
            del self._uploads[upload_id]
        target = pool.writer(key)
        digest = hashlib.md5(usedforsecurity=False)
        try:
            for part in parts:
                target.take(part.writer)
                digest.update(bytes.fromhex(part.etag))
            entry = target.commit()
        except BaseException:
            target.abort()
            _abort_parts(upload)
            raise
        _abort_parts(upload)  # parts not chosen
        return entry, f"{digest.hexdigest()}-{len(parts)}"

    def abort(self, upload_id: str, pool: Pool, key: str) -> None:
        with self._lock:
            upload = self._uploads.get(upload_id)
            if upload is None or upload.pool is not pool or upload.key != key:
                raise _no_such_upload(upload_id)
            del self._uploads[upload_id]
        _abort_parts(upload)

    def abort_all(self) -> None:
        """Release every part of every upload (the endpoint is stopping)."""
        with self._lock:
            uploads, self._uploads = list(self._uploads.values()), {}
        for upload in uploads:
            _abort_parts(upload)

    def in_flight(self, pool: Pool | None = None) -> list[tuple[str, str]]:
        """(key, upload id) of the uploads in flight, optionally of one pool, sorted."""
        with self._lock:
            return sorted((u.key, i) for i, u in self._uploads.items() if pool is None or u.pool is pool)

    def parts(self, upload_id: str, pool: Pool, key: str) -> list[tuple[int, str, int]]:
        """(number, etag, size) of an upload's parts so far, in order."""
        with self._lock:
            upload = self._uploads.get(upload_id)
            if upload is None or upload.pool is not pool or upload.key != key:
                raise _no_such_upload(upload_id)
            return sorted((n, p.etag, p.size) for n, p in upload.parts.items())


def _check_chosen(upload: Upload, chosen: list[tuple[int, str]]) -> list[Part]:
    if not chosen:
        raise S3Error("MalformedXML", 400, "CompleteMultipartUpload names no parts")
    numbers = [n for n, _ in chosen]
    if numbers != sorted(set(numbers)):
        raise S3Error("InvalidPartOrder", 400, "the parts must be listed in ascending order, each once")
    parts = []
    for number, etag in chosen:
        part = upload.parts.get(number)
        if part is None or etag.strip('"').lower() != part.etag:
            raise S3Error("InvalidPart", 400, f"part {number} was not uploaded, or its ETag is not {etag}")
        parts.append(part)
    for number, part in zip(numbers[:-1], parts[:-1], strict=True):
        if part.size < MIN_PART_SIZE:
            raise S3Error(
                "EntityTooSmall", 400, f"part {number} is {part.size} bytes; every part but the last needs 5 MiB"
            )
    return parts


def _abort_parts(upload: Upload) -> None:
    for part in upload.parts.values():
        part.writer.abort()
    upload.parts.clear()
