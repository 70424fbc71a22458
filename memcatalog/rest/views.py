"""View operations: one thin handler per route, each a call into the catalog (memcatalog.views)."""

from __future__ import annotations

import json

from pyiceberg.exceptions import NoSuchViewError
from pyiceberg.view.metadata import ViewMetadata
from starlette.responses import Response

from memcatalog import views
from memcatalog.rest.call import Call, page
from memcatalog.rest.errors import RestRequestError
from memcatalog.rest.models import CommitViewBody, CreateViewBody, RegisterViewBody, RenameBody


def view_result(call: Call, metadata: ViewMetadata, location: str) -> Response:
    """``LoadViewResult``."""
    body = (
        f'{{"metadata-location":{json.dumps(location)},"metadata":{metadata.model_dump_json()},'
        f'"config":{json.dumps(call.ctx.table_config)}}}'
    )
    return Response(body, media_type="application/json")


def list_views(call: Call) -> dict[str, object]:
    found = call.catalog.list_views(call.namespace())
    chunk, token = page(found, call.query)
    return {"identifiers": [{"namespace": list(i[:-1]), "name": i[-1]} for i in chunk], "next-page-token": token}


def create_view(call: Call) -> Response:
    body = call.parsed(CreateViewBody)
    identifier = (*call.namespace(), body.name)
    view = call.catalog.create_view(identifier, body.view_schema, body.view_version, body.location, body.properties)
    return view_result(call, view.metadata, views.view_location(call.catalog, identifier))


def load_view(call: Call) -> Response:
    identifier = call.identifier("view")
    view = call.catalog.load_view(identifier)
    return view_result(call, view.metadata, views.view_location(call.catalog, identifier))


def view_exists(call: Call) -> None:
    identifier = call.identifier("view")
    if not call.catalog.view_exists(identifier):
        raise NoSuchViewError(f"View does not exist: {'.'.join(identifier)}")


def replace_view(call: Call) -> Response:
    body = call.parsed(CommitViewBody)
    identifier = call.identifier("view")
    if body.identifier is not None and (*body.identifier.namespace, body.identifier.name) != identifier:
        raise RestRequestError(f"the body's identifier is not the view of the path {'.'.join(identifier)}")
    view, location = views.replace_view(call.catalog, identifier, body.requirements, body.updates)
    return view_result(call, view.metadata, location)


def drop_view(call: Call) -> None:
    call.catalog.drop_view(call.identifier("view"))


def rename_view(call: Call) -> None:
    body = call.parsed(RenameBody)
    call.catalog.rename_view(
        (*body.source.namespace, body.source.name), (*body.destination.namespace, body.destination.name)
    )


def register_view(call: Call) -> Response:
    body = call.parsed(RegisterViewBody)
    identifier = (*call.namespace(), body.name)
    view = call.catalog.register_view(identifier, body.metadata_location)
    return view_result(call, view.metadata, body.metadata_location)
