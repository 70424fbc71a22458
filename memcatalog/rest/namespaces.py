"""Namespace operations: one thin handler per route, each a call into the catalog."""

from __future__ import annotations

from pyiceberg.exceptions import NoSuchNamespaceError

from memcatalog.rest.call import NAMESPACE_SEPARATOR, Call, page, parse_namespace
from memcatalog.rest.models import CreateNamespaceBody, UpdateNamespacePropertiesBody


def list_namespaces(call: Call) -> dict[str, object]:
    parent_raw = call.query.get("parent")
    parent = parse_namespace(parent_raw.replace("%1F", NAMESPACE_SEPARATOR)) if parent_raw else ()
    if parent and not call.catalog.namespace_exists(parent):
        raise NoSuchNamespaceError(f"Namespace {'.'.join(parent)} does not exists")
    found = sorted(call.catalog.list_namespaces(parent))
    chunk, token = page(found, call.query)
    return {"namespaces": [list(ns) for ns in chunk], "next-page-token": token}


def create_namespace(call: Call) -> dict[str, object]:
    body = call.parsed(CreateNamespaceBody)
    call.catalog.create_namespace(tuple(body.namespace), body.properties)
    return {"namespace": body.namespace, "properties": body.properties}


def load_namespace(call: Call) -> dict[str, object]:
    namespace = call.namespace()
    return {"namespace": list(namespace), "properties": call.catalog.load_namespace_properties(namespace)}


def namespace_exists(call: Call) -> None:
    namespace = call.namespace()
    if not call.catalog.namespace_exists(namespace):
        raise NoSuchNamespaceError(f"Namespace {'.'.join(namespace)} does not exists")


def drop_namespace(call: Call) -> None:
    call.catalog.drop_namespace(call.namespace())


def update_properties(call: Call) -> dict[str, object]:
    body = call.parsed(UpdateNamespacePropertiesBody)
    summary = call.catalog.update_namespace_properties(call.namespace(), set(body.removals), body.updates)
    return {
        "updated": sorted(summary.updated),
        "removed": sorted(summary.removed),
        "missing": sorted(summary.missing or []),
    }
