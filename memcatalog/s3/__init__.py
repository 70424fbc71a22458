"""An S3-compatible endpoint over the pools: a bucket is a pool, a key is a path in it.

>>> import memcatalog, memcatalog.s3
>>> pool = memcatalog.get_pool("s3_doctest")
>>> with memcatalog.s3.serve(pools=["s3_doctest"]) as server:
...     server.boto3_client().put_object(Bucket="s3_doctest", Key="a/b.txt", Body=b"hi")["ResponseMetadata"]["HTTPStatusCode"]
200
>>> bytes(pool.get("a/b.txt"))
b'hi'

Needs the ``serve`` extra (starlette, uvicorn): ``pip install 'memcatalog[serve]'``.
"""

from __future__ import annotations

from memcatalog.serving import INSTALL_HINT

try:
    import starlette  # noqa: F401
    import uvicorn  # noqa: F401
except ImportError as e:  # pragma: no cover - exercised only without the extra
    raise ImportError(INSTALL_HINT) from e

from memcatalog.s3.call import Endpoint
from memcatalog.s3.errors import S3Error
from memcatalog.s3.server import S3Server, create_app, serve
from memcatalog.s3.sigv4 import Credentials

__all__ = ["Credentials", "Endpoint", "S3Error", "S3Server", "create_app", "serve"]
