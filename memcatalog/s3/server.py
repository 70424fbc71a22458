"""Serving the S3 endpoint from a background thread: ``memcatalog.s3.serve()``."""

from __future__ import annotations

import secrets
import warnings
from types import TracebackType
from typing import Any

from memcatalog import buckets
from memcatalog.s3.app import S3App
from memcatalog.s3.call import DEFAULT_REGION, Endpoint
from memcatalog.s3.sigv4 import Credentials
from memcatalog.serving import LOOPBACK_HOST, BackgroundServer, check_host

# The keys pyiceberg's FileIOs (pyarrow and fsspec) read, and that loadTable's config carries for DuckDB.
S3_ENDPOINT = "s3.endpoint"
S3_ACCESS_KEY_ID = "s3.access-key-id"
S3_SECRET_ACCESS_KEY = "s3.secret-access-key"
S3_REGION = "s3.region"
S3_PATH_STYLE_ACCESS = "s3.path-style-access"


def create_app(endpoint: Endpoint) -> S3App:
    """The S3 endpoint as an ASGI app, to mount or serve yourself."""
    return S3App(endpoint)


class S3Server:
    """An S3-compatible endpoint over pools, served from a background thread; a context manager.

    Attributes:
        url: ``http://127.0.0.1:<port>``, the clients' endpoint URL.
        access_key, secret_key, region: what clients sign requests with.
        endpoint: the endpoint's state (its uploads in flight, the pools it serves).
    """

    def __init__(self, endpoint: Endpoint, http: BackgroundServer) -> None:
        self.endpoint = endpoint
        self._http = http

    @property
    def url(self) -> str:
        """``http://host:port``: the endpoint URL clients are given."""
        return self._http.url

    @property
    def port(self) -> int:
        """The TCP port listened on."""
        return self._http.port

    @property
    def access_key(self) -> str:
        """The access key id clients sign with."""
        return self.endpoint.credentials.access_key

    @property
    def secret_key(self) -> str:
        """The secret key clients sign with."""
        return self.endpoint.credentials.secret_key

    @property
    def region(self) -> str:
        """The region clients are told to use (a signature for any region is accepted)."""
        return self.endpoint.region

    @property
    def running(self) -> bool:
        """Whether the endpoint still serves."""
        return self._http.running

    def client_properties(self) -> dict[str, str]:
        """The ``s3.*`` properties a pyiceberg FileIO (or DuckDB's S3 secret) needs to reach this endpoint."""
        return {
            S3_ENDPOINT: self.url,
            S3_ACCESS_KEY_ID: self.access_key,
            S3_SECRET_ACCESS_KEY: self.secret_key,
            S3_REGION: self.region,
            S3_PATH_STYLE_ACCESS: "true",
        }

    def boto3_client(self) -> Any:  # boto3 ships no type information: its client is Any to mypy anyway
        """A boto3 S3 client for this endpoint (needs boto3: ``pip install boto3``)."""
        try:
            import boto3
            from botocore.config import Config
        except ImportError as e:
            raise ImportError("S3Server.boto3_client() needs boto3: pip install boto3") from e

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )

    def stop(self) -> None:
        """Stop serving; uploads still in flight are aborted (their parts' bytes freed). Idempotent."""
        self._http.stop()
        self.endpoint.uploads.abort_all()
        buckets.stopped(self.client_properties())

    def __enter__(self) -> S3Server:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<S3Server {self.url} {'running' if self.running else 'stopped'}>"


def serve(
    host: str = LOOPBACK_HOST,
    port: int = 0,
    *,
    pools: list[str] | None = None,
    access_key: str | None = None,
    secret_key: str | None = None,
    region: str = DEFAULT_REGION,
) -> S3Server:
    """Serve pools as S3 buckets from a background thread; returns the running server.

    Args:
        host: address to listen on (loopback by default; anything else warns).
        port: TCP port; 0 picks a free one (see ``.url``).
        pools: the pool names served as buckets; None (default) serves every pool of the process.
        access_key, secret_key: the credentials clients must sign with; generated when not given.
        region: the region clients are told to use (any region's signature is accepted).

    Raises:
        ServerStartError: the port is taken.
    """
    if (access_key is None) != (secret_key is None):
        raise ValueError("give both access_key and secret_key, or neither (both are then generated)")
    for name, value in (("access_key", access_key), ("secret_key", secret_key)):
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ValueError(f"{name} must be a non-empty string")
    credentials = Credentials(access_key or f"memcat{secrets.token_hex(6)}", secret_key or secrets.token_urlsafe(30))
    endpoint = Endpoint(credentials, list(pools) if pools is not None else None, region)
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        check_host(host, what="the S3 endpoint")
    http = BackgroundServer(create_app(endpoint), host, port, name="memcatalog-s3")
    server = S3Server(endpoint, http)
    buckets.serve(endpoint.pools, server.client_properties())
    return server
