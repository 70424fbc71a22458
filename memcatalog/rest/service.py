"""The catalog-wide operations: configuration, the deprecated token endpoint, metrics reports."""

from __future__ import annotations

import base64
import binascii
import hmac
import urllib.parse

from starlette.responses import JSONResponse, Response

from memcatalog.rest.call import Call

OPEN_TOKEN = "memcatalog-open"  # handed out when the server needs no token: clients that insist on OAuth get one
TOKEN_LIFETIME_SECONDS = 24 * 3600
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"


def get_config(call: Call) -> dict[str, object]:
    ctx = call.ctx
    return {"defaults": ctx.defaults, "overrides": ctx.overrides, "endpoints": ctx.endpoints}


def get_token(call: Call) -> Response:
    """``POST /v1/oauth/tokens`` (deprecated in the spec, still what DuckDB calls with CLIENT_ID/CLIENT_SECRET).

    With a server token, the client secret must be that token: in the form (pyiceberg), in HTTP Basic
    authentication (DuckDB: ``client_secret_basic``), or as a token-exchange subject token.
    """
    token = call.ctx.token
    offered = call.form.get("client_secret") or call.form.get("subject_token") or _basic_secret(call) or ""
    if token is not None and not hmac.compare_digest(offered.encode(), token.encode()):
        return JSONResponse(
            {"error": "invalid_client", "error_description": "the client secret is not this server's token"},
            status_code=401,
        )
    return JSONResponse(
        {
            "access_token": token if token is not None else OPEN_TOKEN,
            "token_type": "bearer",
            "issued_token_type": ACCESS_TOKEN_TYPE,
            "expires_in": TOKEN_LIFETIME_SECONDS,
        }
    )


def _basic_secret(call: Call) -> str | None:
    header = call.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return urllib.parse.unquote(decoded.partition(":")[2])


def report_metrics(call: Call) -> None:
    """Accepted and dropped: clients send a report after every scan and commit."""
    call.identifier()
