"""Make ``pyiceberg.catalog.load_catalog(name)`` return a test's catalog for the names a test lists.

Pipeline code usually calls ``load_catalog("prod")``, often after
``from pyiceberg.catalog import load_catalog`` at the top of its module. The
replacement is therefore set on ``pyiceberg.catalog`` and on every imported module
that holds the original function under any name; ``monkeypatch`` puts everything
back after the test. Names not listed go to pyiceberg's own ``load_catalog``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any

import pytest


def listed_names(request: pytest.FixtureRequest) -> list[str]:
    """The catalog names of a test: its ``memcatalog_catalogs`` marker (maybe none), else the ini option."""
    marker = request.node.get_closest_marker("memcatalog_catalogs")
    if marker is not None:  # an empty marker turns the ini option's names off for a test
        return [str(a) for a in marker.args]
    return [str(n) for n in request.config.getini("memcatalog_catalogs")]


def _replacement(original: Callable[..., Any], catalogs: Mapping[str, Any]) -> Callable[..., Any]:
    def load_catalog(name: str | None = None, **properties: str | None) -> Any:
        """pyiceberg's load_catalog, except that the test's catalog names return the test's catalogs."""
        key = "default" if name is None else name
        if key in catalogs:
            return catalogs[key]
        return original(name, **properties)

    load_catalog.__wrapped__ = original  # type: ignore[attr-defined]
    return load_catalog


def redirect(monkeypatch: pytest.MonkeyPatch, catalogs: Mapping[str, Any]) -> None:
    """Point every reference to pyiceberg's ``load_catalog`` at one that knows ``catalogs``."""
    import pyiceberg.catalog

    original = pyiceberg.catalog.load_catalog
    replacement = _replacement(original, catalogs)
    for module in list(sys.modules.values()):
        namespace = getattr(module, "__dict__", None)
        if not isinstance(namespace, dict):
            continue
        for attribute, value in list(namespace.items()):
            if value is original:
                monkeypatch.setattr(module, attribute, replacement)
