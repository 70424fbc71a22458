"""Object operations: HEAD, GET (with Range), PUT, CopyObject, DeleteObject(s) and multipart uploads."""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from urllib.parse import unquote

from starlette.responses import Response, StreamingResponse

from memcatalog.s3 import xml
from memcatalog.s3.call import Call, pool_key
from memcatalog.s3.errors import S3Error
from memcatalog.s3.multipart import MAX_PART_NUMBER

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
XML_TYPE = "application/xml"
STREAM_CHUNK = 2**20  # bytes: larger reads are sent in pieces of this size


def _xml(root: str, body: str, status: int = 200) -> Response:
    return Response(xml.document(root, body), status_code=status, media_type=XML_TYPE)


def _quoted(etag: str) -> str:
    return f'"{etag}"'


def _byte_range(header: str, size: int, resource: str) -> tuple[int, int] | None:
    """(start, stop) of a ``Range: bytes=a-b`` header, or None for the whole object."""
    match = _RANGE.match(header.strip())
    if match is None or match.groups() == ("", ""):
        return None  # S3 ignores a Range it cannot parse (multiple ranges included)
    first, last = match.groups()
    if first == "":
        start, stop = max(size - int(last), 0), size
    else:
        start = int(first)
        stop = min(int(last) + 1, size) if last else size
        if start >= size or (last and int(last) < start):
            raise S3Error("InvalidRange", 416, f"the range {header} is outside the object's {size} bytes", resource)
    return start, stop


def _object_headers(call: Call, size: int, etag: str, modified: str) -> dict[str, str]:
    return {
        "content-length": str(size),
        "etag": _quoted(etag),
        "last-modified": modified,
        "accept-ranges": "bytes",
        "content-type": "binary/octet-stream",
    }


async def get_object(call: Call, *, head: bool = False) -> Response:
    pool, key = call.pool(), call.pool_key()
    entry = pool.entry(key)
    if entry is None:
        if call.key.endswith("/") and pool.is_dir(key):  # a "directory marker" as clients see one
            return Response(b"", headers={"content-length": "0", "content-type": "binary/octet-stream"})
        raise S3Error.no_such_key(call.bucket, call.key)
    etag = call.endpoint.etag(pool, key, entry)
    headers = _object_headers(call, entry.size, etag, xml.http_date(entry.created))
    _check_conditions(call, etag)
    wanted = _byte_range(call.headers["range"], entry.size, call.resource) if "range" in call.headers else None
    start, stop = wanted if wanted is not None else (0, entry.size)
    status = 200
    if wanted is not None:
        status = 206
        headers["content-range"] = f"bytes {start}-{stop - 1}/{entry.size}"
        headers["content-length"] = str(stop - start)
    if head:
        return Response(None, status_code=status, headers=headers)
    view = memoryview(entry.buffer).cast("B")[start:stop]
    if len(view) <= STREAM_CHUNK:
        return Response(view.tobytes(), status_code=status, headers=headers)
    return StreamingResponse(_chunks(view), status_code=status, headers=headers)


async def _chunks(view: memoryview) -> AsyncIterator[bytes]:
    # A copy of one chunk at a time, not of the whole object: a large read stays a small allocation.
    for offset in range(0, len(view), STREAM_CHUNK):
        yield view[offset : offset + STREAM_CHUNK].tobytes()


def _tags(header: str) -> set[str]:
    return {t.strip().removeprefix("W/").strip('"') for t in header.split(",")}


def _check_conditions(call: Call, etag: str) -> None:
    """If-Match (412 when the object changed) and If-None-Match (304 when it did not) of a GET or HEAD."""
    wanted = call.headers.get("if-match")
    if wanted is not None and not ({"*", etag} & _tags(wanted)):
        raise S3Error(
            "PreconditionFailed", 412, f"{call.resource} changed: its ETag is no longer {wanted}", call.resource
        )
    unwanted = call.headers.get("if-none-match")
    if unwanted is not None and {"*", etag} & _tags(unwanted):
        raise S3Error("NotModified", 304, "not modified", call.resource)


async def put_object(call: Call) -> Response:
    if "x-amz-copy-source" in call.headers:
        return copy_object(call)
    pool, key = call.pool(), call.pool_key()
    if call.key.endswith("/"):  # a folder marker: a directory in the pool
        await call.body()
        pool.mkdir(key)
        return Response(b"", headers={"etag": _quoted("d41d8cd98f00b204e9800998ecf8427e")})
    create_only = call.headers.get("if-none-match", "").strip() == "*"  # a conditional write: fail if it exists
    try:
        writer = pool.writer(key, exclusive=create_only)
        md5 = await call.receive_into(writer)
        entry = writer.commit()
    except FileExistsError as e:
        raise S3Error("PreconditionFailed", 412, f"{call.resource} exists (If-None-Match: *)", call.resource) from e
    call.endpoint.remember_etag(pool, key, entry, md5)
    return Response(b"", headers={"etag": _quoted(md5)})


def _copy_source(call: Call) -> tuple[str, str]:
    source = unquote(call.headers["x-amz-copy-source"].split("?versionId=")[0]).lstrip("/")
    bucket, _, key = source.partition("/")
    if not bucket or not key:
        raise S3Error.invalid_argument(f"x-amz-copy-source {source!r} is not <bucket>/<key>", call.resource)
    return bucket, key


def copy_object(call: Call) -> Response:
    """CopyObject: the new object shares the source's immutable buffer (no bytes copied)."""
    bucket, key = _copy_source(call)
    src_pool = call.endpoint.pool(bucket)
    src = src_pool.entry(pool_key(bucket, key))
    if src is None:
        raise S3Error.no_such_key(bucket, key)
    pool, dst = call.pool(), call.pool_key()
    entry = pool.put_buffer(dst, src.buffer)
    etag = call.endpoint.etag(src_pool, pool_key(bucket, key), src)
    call.endpoint.remember_etag(pool, dst, entry, etag)
    body = xml.element("LastModified", xml.iso(entry.created)) + xml.element("ETag", _quoted(etag))
    return _xml("CopyObjectResult", body)


async def delete_object(call: Call) -> Response:
    pool, key = call.pool(), call.pool_key()
    if pool.entry(key) is not None:
        pool.remove(key)
        call.endpoint.forget_etag(pool, key)
    elif call.key.endswith("/") and pool.is_dir(key) and not pool.listdir(key):
        pool.rmdir(key)
    return Response(None, status_code=204)  # S3 answers 204 whether or not the key existed


async def delete_objects(call: Call) -> Response:
    document = xml.parse(await call.body(), "Delete")
    quiet = xml.text(document, "Quiet", "false").strip().lower() == "true"
    pool = call.pool()
    results = []
    for obj in xml.children(document, "Object"):
        key = xml.text(obj, "Key")
        try:
            found = pool_key(call.bucket, key)
            if pool.entry(found) is not None:
                pool.remove(found)
                call.endpoint.forget_etag(pool, found)
        except S3Error as e:
            results.append(
                f"<Error>{xml.element('Key', key)}{xml.element('Code', e.code)}{xml.element('Message', e.message)}</Error>"
            )
            continue
        if not quiet:
            results.append(f"<Deleted>{xml.element('Key', key)}</Deleted>")
    return _xml("DeleteResult", "".join(results))


# ---- multipart -------------------------------------------------------------------
async def create_upload(call: Call) -> Response:
    pool, key = call.pool(), call.pool_key()
    pool.writer(key).abort()  # refuse at once a key a file cannot have (a directory there)
    upload_id = call.endpoint.uploads.create(pool, key)
    body = xml.element("Bucket", call.bucket) + xml.element("Key", call.key) + xml.element("UploadId", upload_id)
    return _xml("InitiateMultipartUploadResult", body)


def _part_number(call: Call) -> int:
    text = call.query.get("partNumber", "")
    if not text.isdigit() or not 1 <= int(text) <= MAX_PART_NUMBER:
        raise S3Error.invalid_argument(f"partNumber must be 1 to {MAX_PART_NUMBER}, not {text!r}", call.resource)
    return int(text)


async def upload_part(call: Call) -> Response:
    pool, key = call.pool(), call.pool_key()
    upload_id = call.query["uploadId"]
    number = _part_number(call)
    call.endpoint.uploads.get(upload_id, pool, key)
    if "x-amz-copy-source" in call.headers:
        return _upload_part_copy(call, upload_id, number)
    writer = pool.writer(key)
    md5 = await call.receive_into(writer)
    call.endpoint.uploads.add_part(upload_id, number, writer, md5)
    return Response(b"", headers={"etag": _quoted(md5)})


def _upload_part_copy(call: Call, upload_id: str, number: int) -> Response:
    """UploadPartCopy: the part is (a byte range of) an existing object, as boto3's managed copy sends."""
    bucket, key = _copy_source(call)
    src = call.endpoint.pool(bucket).entry(pool_key(bucket, key))
    if src is None:
        raise S3Error.no_such_key(bucket, key)
    wanted = call.headers.get("x-amz-copy-source-range")
    start, stop = (_byte_range(wanted, src.size, call.resource) or (0, src.size)) if wanted else (0, src.size)
    piece = memoryview(src.buffer).cast("B")[start:stop]
    writer = call.pool().writer(call.pool_key())
    writer.write(piece)  # a part is held reserved like any other
    md5 = hashlib.md5(piece, usedforsecurity=False).hexdigest()
    call.endpoint.uploads.add_part(upload_id, number, writer, md5)
    body = xml.element("LastModified", xml.iso(src.created)) + xml.element("ETag", _quoted(md5))
    return _xml("CopyPartResult", body)


async def complete_upload(call: Call) -> Response:
    pool, key = call.pool(), call.pool_key()
    document = xml.parse(await call.body(), "CompleteMultipartUpload")
    chosen = []
    for part in xml.children(document, "Part"):
        number = xml.text(part, "PartNumber").strip()
        if not number.isdigit():
            raise S3Error("MalformedXML", 400, f"PartNumber {number!r} is not a number")
        chosen.append((int(number), xml.text(part, "ETag")))
    entry, etag = call.endpoint.uploads.complete(call.query["uploadId"], pool, key, chosen)
    call.endpoint.remember_etag(pool, key, entry, etag)
    location = f"{str(call.request.base_url).rstrip('/')}/{call.bucket}/{call.key}"
    body = (
        xml.element("Location", location)
        + xml.element("Bucket", call.bucket)
        + xml.element("Key", call.key)
        + xml.element("ETag", _quoted(etag))
    )
    return _xml("CompleteMultipartUploadResult", body)


async def abort_upload(call: Call) -> Response:
    call.endpoint.uploads.abort(call.query["uploadId"], call.pool(), call.pool_key())
    return Response(None, status_code=204)


async def list_uploads(call: Call) -> Response:
    """ListMultipartUploads: the uploads in flight on this endpoint (``prefix`` honoured; one page)."""
    prefix = call.query.get("prefix", "")
    found = [(k, i) for k, i in call.endpoint.uploads.in_flight(call.pool()) if k.startswith(prefix)]
    entries = "".join(
        f"<Upload>{xml.element('Key', key)}{xml.element('UploadId', upload_id)}</Upload>" for key, upload_id in found
    )
    head = xml.element("Bucket", call.bucket) + xml.element("Prefix", prefix) + xml.element("IsTruncated", "false")
    return _xml("ListMultipartUploadsResult", head + entries)


async def list_parts(call: Call) -> Response:
    """ListParts: an upload's parts so far (one page)."""
    upload_id = call.query["uploadId"]
    parts = call.endpoint.uploads.parts(upload_id, call.pool(), call.pool_key())
    entries = "".join(
        f"<Part>{xml.element('PartNumber', n)}{xml.element('ETag', _quoted(etag))}{xml.element('Size', size)}</Part>"
        for n, etag, size in parts
    )
    head = (
        xml.element("Bucket", call.bucket)
        + xml.element("Key", call.key)
        + xml.element("UploadId", upload_id)
        + xml.element("IsTruncated", "false")
    )
    return _xml("ListPartsResult", head + entries)
