"""Object operations: HEAD, GET (with Range), PUT, CopyObject, DeleteObject(s) and multipart uploads."""

from __future__ import annotations

import re
from urllib.parse import unquote

from starlette.responses import Response

from memcatalog.s3 import xml
from memcatalog.s3.call import Call, pool_key
from memcatalog.s3.errors import S3Error
from memcatalog.s3.multipart import MAX_PART_NUMBER

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
XML_TYPE = "application/xml"


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
    headers = _object_headers(call, entry.size, call.endpoint.etag(pool, key, entry), xml.http_date(entry.created))
    wanted = _byte_range(call.headers["range"], entry.size, call.resource) if "range" in call.headers else None
    start, stop = wanted if wanted is not None else (0, entry.size)
    status = 200
    if wanted is not None:
        status = 206
        headers["content-range"] = f"bytes {start}-{stop - 1}/{entry.size}"
        headers["content-length"] = str(stop - start)
    if head:
        return Response(None, status_code=status, headers=headers)
    body = memoryview(entry.buffer).cast("B")[start:stop].tobytes()
    return Response(body, status_code=status, headers=headers)


async def put_object(call: Call) -> Response:
    if "x-amz-copy-source" in call.headers:
        return copy_object(call)
    pool, key = call.pool(), call.pool_key()
    if call.key.endswith("/"):  # a folder marker: a directory in the pool
        await call.body()
        pool.mkdir(key)
        return Response(b"", headers={"etag": _quoted("d41d8cd98f00b204e9800998ecf8427e")})
    writer = pool.writer(key)
    md5 = await call.receive_into(writer)
    entry = writer.commit()
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
    writer = pool.writer(key)
    md5 = await call.receive_into(writer)
    call.endpoint.uploads.add_part(upload_id, number, writer, md5)
    return Response(b"", headers={"etag": _quoted(md5)})


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
