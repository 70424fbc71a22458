"""Request bodies as S3 clients send them: plain (checked against their SHA-256) or ``aws-chunked``.

``aws-chunked`` frames the payload as ``<hex size>;chunk-signature=<sig>\\r\\n<data>\\r\\n``
chunks ending with a zero-size chunk and optional trailers (checksums). With
``STREAMING-AWS4-HMAC-SHA256-PAYLOAD`` each chunk's signature chains from the request's.
A decoder is fed the body as it arrives and yields the payload bytes; nothing is kept
beyond one partial frame.
"""

from __future__ import annotations

import hashlib
import hmac

from memcatalog.s3 import sigv4
from memcatalog.s3.errors import S3Error

_MAX_FRAME_HEADER = 4096  # bytes: a chunk header longer than this is not aws-chunked


def _bad(message: str) -> S3Error:
    return S3Error("IncompleteBody", 400, f"malformed aws-chunked body: {message}")


class PlainBody:
    """A body sent as is; ``finish()`` checks its SHA-256 when the request signed it."""

    def __init__(self, payload_hash: str) -> None:
        self._expected = payload_hash if len(payload_hash) == 64 else None
        self._hash = hashlib.sha256() if self._expected is not None else None

    def feed(self, data: bytes) -> list[bytes]:
        if self._hash is not None:
            self._hash.update(data)
        return [data] if data else []

    def finish(self) -> None:
        if (
            self._hash is not None
            and self._expected is not None
            and not hmac.compare_digest(self._hash.hexdigest(), self._expected.lower())
        ):
            raise S3Error("XAmzContentSHA256Mismatch", 400, "the body's SHA-256 differs from x-amz-content-sha256")


class ChunkedBody:
    """An ``aws-chunked`` body, decoded incrementally; chunk signatures checked when the request signs them."""

    def __init__(self, signed: sigv4.Signed | None) -> None:
        self._signed = signed  # None: unsigned chunks (STREAMING-UNSIGNED-PAYLOAD-TRAILER)
        self._previous = signed.seed_signature if signed is not None else ""
        self._buffer = bytearray()
        self._remaining = -1  # bytes of the current chunk's data still to come; -1: expecting a header
        self._signature = ""
        self._chunk_hash = hashlib.sha256()
        self._done = False
        self.decoded = 0

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        out: list[bytes] = []
        while not self._done:
            if self._remaining < 0:
                if not self._read_header():
                    break
                continue
            if self._remaining > 0:
                if not self._buffer:
                    break
                take = bytes(self._buffer[: self._remaining])
                del self._buffer[: len(take)]
                self._remaining -= len(take)
                self._chunk_hash.update(take)
                self.decoded += len(take)
                out.append(take)
                continue
            if len(self._buffer) < 2:
                break
            if self._buffer[:2] != b"\r\n":
                raise _bad("a chunk's data is not followed by CRLF")
            del self._buffer[:2]
            self._end_chunk()
            self._remaining = -1
        return out

    def _read_header(self) -> bool:
        end = self._buffer.find(b"\r\n")
        if end < 0:
            if len(self._buffer) > _MAX_FRAME_HEADER:
                raise _bad("no chunk header found")
            return False
        line = bytes(self._buffer[:end]).decode("latin-1")
        del self._buffer[: end + 2]
        size_text, _, extension = line.partition(";")
        try:
            size = int(size_text.strip(), 16)
        except ValueError as e:
            raise _bad(f"chunk size {size_text!r} is not hexadecimal") from e
        name, _, self._signature = extension.partition("=")
        if self._signed is not None and name.strip() != "chunk-signature":
            raise S3Error.access_denied("a signed aws-chunked body needs chunk-signature= on every chunk")
        self._chunk_hash = hashlib.sha256()
        if size == 0:
            self._end_chunk()
            self._done = True  # trailers (checksums) follow; they are not needed to store the object
            return True
        self._remaining = size
        return True

    def _end_chunk(self) -> None:
        if self._signed is None:
            return
        expected = sigv4.chunk_signature(self._signed, self._previous, self._chunk_hash.hexdigest())
        if not hmac.compare_digest(expected, self._signature.strip()):
            raise S3Error("SignatureDoesNotMatch", 403, "an aws-chunked chunk's signature does not match")
        self._previous = expected

    def finish(self) -> None:
        if not self._done:
            raise _bad("the body ended before its final zero-length chunk")


def decoder(headers: dict[str, str], signed: sigv4.Signed) -> PlainBody | ChunkedBody:
    """The decoder for a request's body, chosen by ``x-amz-content-sha256`` and ``content-encoding``."""
    mode = signed.payload_hash
    if mode in (sigv4.STREAMING_SIGNED, sigv4.STREAMING_SIGNED_TRAILER):
        return ChunkedBody(signed)
    if mode == sigv4.STREAMING_UNSIGNED_TRAILER or "aws-chunked" in headers.get("content-encoding", ""):
        return ChunkedBody(None)
    if mode.startswith("STREAMING-"):
        raise S3Error(
            "NotImplemented", 501, f"payload mode {mode} is not supported: sign the payload or send it unsigned"
        )
    return PlainBody(mode)


def declared_length(headers: dict[str, str]) -> int | None:
    """The payload's length as the client declared it (decoded length for aws-chunked), if it did."""
    chunked = "aws-chunked" in headers.get("content-encoding", "") or headers.get(
        "x-amz-content-sha256", ""
    ).startswith("STREAMING-")
    for name in ("x-amz-decoded-content-length",) if chunked else ("content-length",):
        value = headers.get(name)
        if value is not None and value.strip().isdigit():
            return int(value)
    return None
