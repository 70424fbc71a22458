"""Bucket operations: ListBuckets, HeadBucket, CreateBucket, GetBucketLocation and ListObjects (V2 and V1)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from urllib.parse import quote

from starlette.responses import Response

from memcatalog.pool import Pool
from memcatalog.s3 import xml
from memcatalog.s3.call import Call
from memcatalog.s3.errors import S3Error

MAX_KEYS = 1000  # S3's default and largest page


def _xml(root: str, body: str) -> Response:
    return Response(xml.document(root, body), media_type="application/xml")


async def list_buckets(call: Call) -> Response:
    created = xml.iso(call.endpoint.started)
    entries = "".join(
        f"<Bucket>{xml.element('Name', name)}{xml.element('CreationDate', created)}</Bucket>"
        for name in call.endpoint.bucket_names()
    )
    owner = "<Owner><ID>memcatalog</ID><DisplayName>memcatalog</DisplayName></Owner>"
    return _xml("ListAllMyBucketsResult", f"{owner}<Buckets>{entries}</Buckets>")


async def head_bucket(call: Call) -> Response:
    call.pool()
    return Response(None, headers={"x-amz-bucket-region": call.endpoint.region})


async def create_bucket(call: Call) -> Response:
    await call.body()
    try:
        call.endpoint.create_bucket(call.bucket)
    except ValueError as e:
        raise S3Error("InvalidBucketName", 400, str(e), f"/{call.bucket}") from e
    return Response(b"", headers={"location": f"/{call.bucket}"})


async def bucket_location(call: Call) -> Response:
    call.pool()
    region = call.endpoint.region
    return _xml("LocationConstraint", "" if region == "us-east-1" else region)


@dataclass
class Page:
    keys: list[str]
    prefixes: list[str]
    truncated: bool
    last: str  # the last key or common prefix returned ("" if none)
    last_is_prefix: bool


def _page(pool: Pool, prefix: str, delimiter: str, after: str, skip_under: str, max_keys: int) -> Page:
    """Up to ``max_keys`` keys and common prefixes after ``after`` (and not under ``skip_under``), in S3's order.

    S3 orders keys by their UTF-8 bytes.
    """
    directory = prefix.rpartition("/")[0]
    candidates = sorted((k for k in pool.keys(directory) if k.startswith(prefix)), key=lambda k: k.encode())
    keys: list[str] = []
    prefixes: list[str] = []
    last = ""
    for key in candidates:
        if (after and key.encode() <= after.encode()) or (skip_under and key.startswith(skip_under)):
            continue
        common = None
        if delimiter:
            cut = key.find(delimiter, len(prefix))
            if cut >= 0:
                common = key[: cut + len(delimiter)]
        if common is not None and prefixes and prefixes[-1] == common:
            continue
        if len(keys) + len(prefixes) >= max_keys:
            return Page(keys, prefixes, True, last, bool(prefixes) and last == prefixes[-1])
        if common is not None:
            prefixes.append(common)
            last = common
        else:
            keys.append(key)
            last = key
    return Page(keys, prefixes, False, last, bool(prefixes) and last == prefixes[-1])


def _token(page: Page) -> str:
    return base64.urlsafe_b64encode((("p:" if page.last_is_prefix else "k:") + page.last).encode()).decode()


def _untoken(token: str) -> tuple[str, str]:
    """(after, skip_under) of a continuation token."""
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as e:
        raise S3Error.invalid_argument(f"continuation-token {token!r} was not issued by this endpoint") from e
    kind, value = text[:2], text[2:]
    if kind not in ("p:", "k:"):
        raise S3Error.invalid_argument(f"continuation-token {token!r} was not issued by this endpoint")
    return value, value if kind == "p:" else ""


def _max_keys(call: Call) -> int:
    text = call.query.get("max-keys", str(MAX_KEYS))
    if not text.isdigit():
        raise S3Error.invalid_argument(f"max-keys must be a non-negative number, not {text!r}")
    return min(int(text), MAX_KEYS)


async def list_objects(call: Call) -> Response:
    """ListObjectsV2 (``list-type=2``), or the original ListObjects with ``marker``."""
    pool = call.pool()
    v2 = call.query.get("list-type") == "2"
    prefix = call.query.get("prefix", "")
    delimiter = call.query.get("delimiter", "")
    encode = call.query.get("encoding-type") == "url"
    max_keys = _max_keys(call)
    skip_under = ""
    if v2:
        token = call.query.get("continuation-token")
        after, skip_under = _untoken(token) if token else (call.query.get("start-after", ""), "")
    else:
        after = call.query.get("marker", "")
        if delimiter and after.endswith(delimiter):  # V1's NextMarker is the last common prefix
            skip_under = after
    page = _page(pool, prefix, delimiter, after, skip_under, max_keys)

    def shown(text: str) -> str:
        return quote(text, safe="/~") if encode else text

    parts = [
        xml.element("Name", call.bucket),
        xml.element("Prefix", shown(prefix)),
        xml.element("MaxKeys", max_keys),
        xml.element("IsTruncated", "true" if page.truncated else "false"),
    ]
    if delimiter:
        parts.append(xml.element("Delimiter", shown(delimiter)))
    if encode:
        parts.append(xml.element("EncodingType", "url"))
    if v2:
        parts.append(xml.element("KeyCount", len(page.keys) + len(page.prefixes)))
        if "continuation-token" in call.query:
            parts.append(xml.element("ContinuationToken", call.query["continuation-token"]))
        if "start-after" in call.query:
            parts.append(xml.element("StartAfter", shown(call.query["start-after"])))
        if page.truncated:
            parts.append(xml.element("NextContinuationToken", _token(page)))
    else:
        parts.append(xml.element("Marker", shown(after)))
        if page.truncated:
            parts.append(xml.element("NextMarker", shown(page.last)))
    for key in page.keys:
        entry = pool.entry(key)
        if entry is None:  # removed while listing
            continue
        parts.append(
            "<Contents>"
            + xml.element("Key", shown(key))
            + xml.element("LastModified", xml.iso(entry.created))
            + xml.element("ETag", f'"{call.endpoint.etag(pool, key, entry)}"')
            + xml.element("Size", entry.size)
            + xml.element("StorageClass", "STANDARD")
            + "</Contents>"
        )
    parts.extend(f"<CommonPrefixes>{xml.element('Prefix', shown(p))}</CommonPrefixes>" for p in page.prefixes)
    return _xml("ListBucketResult", "".join(parts))
