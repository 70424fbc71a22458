"""The XML S3 speaks: building response documents and reading the few request documents (delete, complete)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from email.utils import format_datetime
from xml.sax.saxutils import escape

from memcatalog.s3.errors import S3Error

NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"
MAX_XML_BYTES = 2 * 2**20  # bytes: S3's own limit for a DeleteObjects or CompleteMultipartUpload body


def element(tag: str, value: object) -> str:
    return f"<{tag}>{escape(str(value))}</{tag}>"


def document(root: str, body: str) -> bytes:
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} xmlns="{NAMESPACE}">{body}</{root}>'.encode()


def iso(when: datetime) -> str:
    """S3's timestamp in listings: ``2026-01-02T03:04:05.000Z``."""
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def http_date(when: datetime) -> str:
    """``Last-Modified``'s form: ``Fri, 02 Jan 2026 03:04:05 GMT``."""
    return format_datetime(when.astimezone(timezone.utc), usegmt=True)


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def parse(body: bytes, root: str) -> ET.Element:
    """The request document, whose root element must be ``root`` (with or without S3's namespace)."""
    if len(body) > MAX_XML_BYTES:
        raise S3Error("MalformedXML", 400, f"the {root} document is over {MAX_XML_BYTES} bytes")
    try:
        tree = ET.fromstring(body)
    except ET.ParseError as e:
        raise S3Error("MalformedXML", 400, f"the {root} document is not well-formed XML: {e}") from e
    if _local(tree.tag) != root:
        raise S3Error("MalformedXML", 400, f"expected a <{root}> document, got <{_local(tree.tag)}>")
    return tree


def children(node: ET.Element, tag: str) -> list[ET.Element]:
    return [c for c in node if _local(c.tag) == tag]


def text(node: ET.Element, tag: str, default: str | None = None) -> str:
    for c in node:
        if _local(c.tag) == tag:
            return c.text or ""
    if default is None:
        raise S3Error("MalformedXML", 400, f"<{_local(node.tag)}> has no <{tag}>")
    return default
