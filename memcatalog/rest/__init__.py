"""The Iceberg REST catalog protocol over a MemCatalog, served from this process.

>>> import memcatalog, memcatalog.rest
>>> cat = memcatalog.MemCatalog("rest_doctest")
>>> with memcatalog.rest.serve(cat) as server:
...     server.rest_catalog().create_namespace("db")
>>> cat.list_namespaces()
[('db',)]

Needs the ``serve`` extra (starlette, uvicorn): ``pip install 'memcatalog[serve]'``.
"""

from __future__ import annotations

from memcatalog.serving import INSTALL_HINT

try:
    import starlette  # noqa: F401
    import uvicorn  # noqa: F401
except ImportError as e:  # pragma: no cover - exercised only without the extra
    raise ImportError(INSTALL_HINT) from e

from memcatalog.rest.server import RestServer, create_app, serve, shared_server, stop_shared

__all__ = ["RestServer", "create_app", "serve", "shared_server", "stop_shared"]
