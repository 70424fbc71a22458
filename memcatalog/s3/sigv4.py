"""AWS Signature Version 4, checked on the server's side: header auth and presigned URLs.

Pure functions over what a request carries (method, path, query, headers); nothing here
knows about HTTP servers. The rules are AWS's published ones for S3: the path is
URI-encoded once (``/`` kept), query keys and values are encoded in full and sorted,
header values are trimmed, and the payload hash is the ``x-amz-content-sha256`` header
(or ``UNSIGNED-PAYLOAD`` for presigned URLs).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

from memcatalog.s3.errors import S3Error

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
MAX_CLOCK_SKEW = timedelta(minutes=15)  # AWS refuses requests dated further from its clock
MAX_PRESIGN_SECONDS = 7 * 24 * 3600  # a week, AWS's limit for X-Amz-Expires

_AUTH_RE = re.compile(r"^AWS4-HMAC-SHA256\s+(.*)$", re.DOTALL)
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Credentials:
    """The one key pair the endpoint accepts."""

    access_key: str
    secret_key: str


@dataclass(frozen=True)
class Signed:
    """A request whose signature checked out: what the body checks (chunk signatures, hash) need."""

    amz_date: str
    scope: str
    signing_key: bytes
    seed_signature: str
    payload_hash: str  # the header's value: a hex digest, UNSIGNED-PAYLOAD or a STREAMING-* mode


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = _hmac(("AWS4" + secret).encode(), date)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    return key


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def _uri_encode(text: str, *, keep_slash: bool) -> str:
    return quote(text, safe="-_.~/" if keep_slash else "-_.~")


def canonical_query(pairs: Sequence[tuple[str, str]], *, drop: str | None = None) -> str:
    encoded = sorted(
        (_uri_encode(k, keep_slash=False), _uri_encode(v, keep_slash=False)) for k, v in pairs if k != drop
    )
    return "&".join(f"{k}={v}" for k, v in encoded)


def canonical_request(
    method: str,
    path: str,
    query: Sequence[tuple[str, str]],
    headers: Mapping[str, str],
    signed_headers: list[str],
    payload_hash: str,
    *,
    drop_query: str | None = None,
) -> str:
    header_lines = "".join(f"{h}:{_SPACES.sub(' ', headers.get(h, '').strip())}\n" for h in signed_headers)
    return "\n".join(
        [
            method,
            _uri_encode(path, keep_slash=True),
            canonical_query(query, drop=drop_query),
            header_lines,
            ";".join(signed_headers),
            payload_hash,
        ]
    )


def string_to_sign(amz_date: str, scope: str, canonical: str) -> str:
    return "\n".join([ALGORITHM, amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])


def _parse_authorization(value: str) -> dict[str, str]:
    match = _AUTH_RE.match(value.strip())
    if match is None:
        raise S3Error.access_denied(
            "only AWS Signature Version 4 (AWS4-HMAC-SHA256) is accepted: configure the client for SigV4"
        )
    fields: dict[str, str] = {}
    for part in match.group(1).split(","):
        name, _, val = part.strip().partition("=")
        fields[name] = val
    for needed in ("Credential", "SignedHeaders", "Signature"):
        if needed not in fields:
            raise S3Error.access_denied(f"the Authorization header has no {needed}=")
    return fields


def _check_scope(credential: str, creds: Credentials) -> tuple[str, str, str, str]:
    """(access key, date, region, service) of ``Credential=``, refused unless the access key is ours."""
    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        raise S3Error.access_denied(f"malformed credential scope {credential!r}")
    access_key, date, region, service = parts[:4]
    if not hmac.compare_digest(access_key, creds.access_key):
        raise S3Error("InvalidAccessKeyId", 403, f"unknown access key id {access_key!r}: use the key the server issued")
    return access_key, date, region, service


def _parse_amz_date(value: str) -> datetime:
    try:
        return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    except ValueError as e:
        raise S3Error.access_denied(f"invalid X-Amz-Date {value!r} (expected YYYYMMDDTHHMMSSZ)") from e


def _compare(expected_canonical: str, amz_date: str, scope: str, key: bytes, given: str) -> str:
    expected = hmac.new(key, string_to_sign(amz_date, scope, expected_canonical).encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, given):
        raise S3Error(
            "SignatureDoesNotMatch",
            403,
            "the request signature does not match: check the secret access key and the signing method",
        )
    return expected


def verify_header(
    method: str,
    path: str,
    query: Sequence[tuple[str, str]],
    headers: Mapping[str, str],
    creds: Credentials,
    now: datetime,
) -> Signed:
    """Check an ``Authorization: AWS4-HMAC-SHA256 ...`` request. ``headers`` keys are lower case.

    Raises:
        S3Error: AccessDenied, InvalidAccessKeyId, SignatureDoesNotMatch or RequestTimeTooSkewed.
    """
    fields = _parse_authorization(headers["authorization"])
    _, date, region, service = _check_scope(fields["Credential"], creds)
    amz_date = headers.get("x-amz-date", "")
    when = _parse_amz_date(amz_date)
    if abs(now - when) > MAX_CLOCK_SKEW:
        raise S3Error("RequestTimeTooSkewed", 403, f"the request is dated {amz_date}, too far from the server's clock")
    signed_headers = fields["SignedHeaders"].split(";")
    payload_hash = headers.get("x-amz-content-sha256", UNSIGNED_PAYLOAD)
    scope = f"{date}/{region}/{service}/aws4_request"
    key = signing_key(creds.secret_key, date, region, service)
    canonical = canonical_request(method, path, query, headers, signed_headers, payload_hash)
    seed = _compare(canonical, amz_date, scope, key, fields["Signature"])
    return Signed(amz_date, scope, key, seed, payload_hash)


def verify_presigned(
    method: str,
    path: str,
    query: Sequence[tuple[str, str]],
    headers: Mapping[str, str],
    creds: Credentials,
    now: datetime,
) -> Signed:
    """Check a presigned URL (``X-Amz-Signature`` in the query).

    Raises:
        S3Error: as :func:`verify_header`, or AccessDenied when the URL has expired.
    """
    params = dict(query)
    if params.get("X-Amz-Algorithm") != ALGORITHM:
        raise S3Error.access_denied("a presigned URL must use X-Amz-Algorithm=AWS4-HMAC-SHA256")
    _, date, region, service = _check_scope(params.get("X-Amz-Credential", ""), creds)
    amz_date = params.get("X-Amz-Date", "")
    when = _parse_amz_date(amz_date)
    try:
        expires = int(params.get("X-Amz-Expires", "0"))
    except ValueError as e:
        raise S3Error.access_denied("X-Amz-Expires must be a number of seconds") from e
    if not 0 < expires <= MAX_PRESIGN_SECONDS:
        raise S3Error.access_denied(f"X-Amz-Expires must be 1 to {MAX_PRESIGN_SECONDS} seconds")
    if now > when + timedelta(seconds=expires) or now < when - MAX_CLOCK_SKEW:
        raise S3Error.access_denied(f"the presigned URL expired (signed {amz_date}, valid for {expires} s)")
    signed_headers = params.get("X-Amz-SignedHeaders", "host").split(";")
    scope = f"{date}/{region}/{service}/aws4_request"
    key = signing_key(creds.secret_key, date, region, service)
    canonical = canonical_request(
        method, path, query, headers, signed_headers, UNSIGNED_PAYLOAD, drop_query="X-Amz-Signature"
    )
    seed = _compare(canonical, amz_date, scope, key, params.get("X-Amz-Signature", ""))
    return Signed(amz_date, scope, key, seed, UNSIGNED_PAYLOAD)


def verify(
    method: str,
    path: str,
    query: Sequence[tuple[str, str]],
    headers: Mapping[str, str],
    creds: Credentials,
    now: datetime | None = None,
) -> Signed:
    """Check whichever SigV4 form the request uses; an unsigned request is refused."""
    now = now or datetime.now(timezone.utc)
    if "authorization" in headers:
        return verify_header(method, path, query, headers, creds, now)
    if any(k == "X-Amz-Signature" for k, _ in query):
        return verify_presigned(method, path, query, headers, creds, now)
    if any(k == "Signature" for k, _ in query):
        raise S3Error.access_denied("Signature Version 2 is not accepted: presign with signature_version='s3v4'")
    raise S3Error.access_denied("anonymous access is not allowed: sign requests with the server's access key")


def chunk_signature(signed: Signed, previous: str, chunk_sha256: str) -> str:
    """The signature of one ``aws-chunked`` chunk (STREAMING-AWS4-HMAC-SHA256-PAYLOAD)."""
    text = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", signed.amz_date, signed.scope, previous, EMPTY_SHA256, chunk_sha256])
    return hmac.new(signed.signing_key, text.encode(), hashlib.sha256).hexdigest()
