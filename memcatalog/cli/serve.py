"""``memcatalog serve``: the REST catalog and the S3 endpoint, until Ctrl-C or SIGTERM."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:  # imported where used: the CLI starts without pyiceberg
    from memcatalog.catalog import MemCatalog

DEFAULT_NAME = "memcatalog"


def snippets(catalog: str, rest_url: str, s3: dict[str, str]) -> str:
    """Ready-to-paste connection settings for pyiceberg, DuckDB, Spark and Trino."""
    endpoint, key, secret = s3["s3.endpoint"], s3["s3.access-key-id"], s3["s3.secret-access-key"]
    region = s3["s3.region"]
    spark = "\n".join(
        f"  --conf spark.sql.catalog.mem.{k}={v} \\"
        for k, v in [
            ("type", "rest"),
            ("uri", rest_url),
            ("io-impl", "org.apache.iceberg.aws.s3.S3FileIO"),
            ("s3.endpoint", endpoint),
            ("s3.path-style-access", "true"),
            ("s3.access-key-id", key),
            ("s3.secret-access-key", secret),
            ("client.region", region),
        ]
    )
    return f"""\
pyiceberg (the S3 endpoint and keys come from the catalog):
  from pyiceberg.catalog.rest import RestCatalog
  catalog = RestCatalog("{catalog}", uri="{rest_url}")

DuckDB (extensions iceberg and httpfs):
  ATTACH '{catalog}' AS lake (TYPE iceberg, ENDPOINT '{rest_url}', AUTHORIZATION_TYPE 'none');

Spark (iceberg-spark-runtime and iceberg-aws-bundle on the classpath):
  spark-sql --conf spark.sql.catalog.mem=org.apache.iceberg.spark.SparkCatalog \\
{spark}
  --conf spark.sql.defaultCatalog=mem

Trino (etc/catalog/memcatalog.properties):
  connector.name=iceberg
  iceberg.catalog.type=rest
  iceberg.rest-catalog.uri={rest_url}
  fs.native-s3.enabled=true
  s3.endpoint={endpoint}
  s3.path-style-access=true
  s3.aws-access-key={key}
  s3.aws-secret-key={secret}
  s3.region={region}

boto3 / any S3 client: endpoint {endpoint}, access key {key}, secret key {secret}, region {region}, path-style
"""


class _Stop:
    """Set by SIGTERM (and SIGINT): the main thread waits on it."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signal = ""

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.signal = signal.Signals(signum).name
        self.event.set()


def _catalog(name: str, quota: str, archive: str | None) -> MemCatalog:
    from memcatalog.archive import restore
    from memcatalog.catalog import MemCatalog

    if archive is None:
        return MemCatalog(name, quota=quota)
    if not Path(archive).exists():
        raise click.BadParameter(
            f"{archive} does not exist (give a file or directory written by a save)", param_hint="--restore"
        )
    return restore(archive, quota=quota)


def _save(catalog: MemCatalog, archive: str) -> None:
    import shutil

    from memcatalog.archive import save

    path = Path(archive)
    if path.is_dir():  # a directory save is replaced only once the new one is complete
        staging = path.with_name(path.name + ".new")
        save(catalog, staging)
        shutil.rmtree(path)
        staging.rename(path)
    else:
        save(catalog, path)


@click.command("serve")
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback unless you mean it)."
)
@click.option("--port", default=8181, show_default=True, help="REST catalog port (0: any free port).")
@click.option("--s3-port", default=9000, show_default=True, help="S3 endpoint port (0: any free port).")
@click.option("--access-key", default=None, help="S3 access key clients sign with (default: generated).")
@click.option("--secret-key", default=None, help="S3 secret key (default: generated).")
@click.option("--token", default=None, help="Require this bearer token on REST requests (needed off loopback).")
@click.option("--name", default=DEFAULT_NAME, show_default=True, help="Catalog name; also its pool and S3 bucket.")
@click.option("--quota", default="1GiB", show_default=True, help="Pool quota.")
@click.option("--restore", "archive", default=None, help="Start from a saved catalog (.tar archive or directory).")
@click.option("--save-on-exit", "save_to", default=None, help="Save the catalog here when stopping.")
def serve(
    host: str,
    port: int,
    s3_port: int,
    access_key: str | None,
    secret_key: str | None,
    token: str | None,
    name: str,
    quota: str,
    archive: str | None,
    save_to: str | None,
) -> None:
    """Serve a catalog over the Iceberg REST protocol, and its data over S3, until Ctrl-C or SIGTERM.

    Engines in other processes (DuckDB, pyiceberg, Spark, Trino, polars) connect with the REST URL
    alone: the S3 endpoint and its keys are handed out by the catalog.

    \b
    Examples:
      memcatalog serve
      memcatalog serve --port 8181 --s3-port 9000 --access-key admin --secret-key password
      memcatalog serve --restore tables.tar --save-on-exit tables.tar
    """
    import memcatalog.rest
    import memcatalog.s3
    from memcatalog.config import parse_size

    try:
        parse_size(quota)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--quota") from e
    stop = _Stop()
    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        # The S3 endpoint first: a restored catalog's s3:// files then land in pools it already serves.
        s3 = memcatalog.s3.serve(host, s3_port, access_key=access_key, secret_key=secret_key)
        try:
            catalog = _catalog(name, quota, archive)
            rest = memcatalog.rest.serve(catalog, host, port, token=token, s3=s3)
        except BaseException:
            s3.stop()
            raise
        with rest:
            click.echo(f"REST catalog  {rest.url}   (catalog {catalog.name!r}, pool quota {quota})")
            click.echo(f"S3 endpoint   {s3.url}   (bucket {catalog.pool.name!r}, path-style)")
            click.echo(f"access key    {s3.access_key}\nsecret key    {s3.secret_key}\n")
            click.echo(snippets(catalog.name, rest.url, s3.client_properties()))
            click.echo("serving; Ctrl-C or SIGTERM stops", nl=True)
            while not stop.event.wait(0.5):
                pass
        click.echo(f"stopping ({stop.signal})")
        if save_to is not None:
            _save(catalog, save_to)
            click.echo(f"saved to {save_to}")
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
