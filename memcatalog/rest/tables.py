"""Table operations: one thin handler per route, each a call into the catalog."""

from __future__ import annotations

import json

from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError, TableAlreadyExistsError
from pyiceberg.partitioning import UNPARTITIONED_PARTITION_SPEC
from pyiceberg.table.metadata import TableMetadata, new_table_metadata
from pyiceberg.table.sorting import UNSORTED_SORT_ORDER
from starlette.responses import Response

from memcatalog.names import check_identifier
from memcatalog.pyiceberg_internals import resolve_table_location
from memcatalog.rest import commits
from memcatalog.rest.call import Call, Context, page
from memcatalog.rest.errors import RestRequestError
from memcatalog.rest.models import (
    CommitTableBody,
    CommitTransactionBody,
    CreateTableBody,
    RegisterBody,
    RenameBody,
)

SNAPSHOT_MODES = ("all", "refs")


def table_result(
    ctx: Context, metadata: TableMetadata, location: str | None, snapshots: str = "all", *, config: bool = True
) -> Response:
    """``LoadTableResult``, serialized by pydantic once (metadata can be large; no dict round trip)."""
    if snapshots == "refs":
        wanted = {ref.snapshot_id for ref in metadata.refs.values()}
        metadata = metadata.model_copy(update={"snapshots": [s for s in metadata.snapshots if s.snapshot_id in wanted]})
    head = f'{{"metadata-location":{json.dumps(location)},' if location else "{"
    tail = f',"config":{json.dumps(ctx.table_config)}}}' if config else "}"
    body = f'{head}"metadata":{metadata.model_dump_json()}{tail}'
    return Response(body, media_type="application/json")


def list_tables(call: Call) -> dict[str, object]:
    namespace = call.namespace()
    found = sorted(call.catalog.list_tables(namespace))
    chunk, token = page(found, call.query)
    return {"identifiers": [{"namespace": list(i[:-1]), "name": i[-1]} for i in chunk], "next-page-token": token}


def create_table(call: Call) -> Response:
    body = call.parsed(CreateTableBody)
    namespace = call.namespace()
    identifier = (*namespace, body.name)
    check_identifier([body.name], "table name")
    spec = body.partition_spec or UNPARTITIONED_PARTITION_SPEC
    order = body.write_order or UNSORTED_SORT_ORDER
    if not body.stage_create:
        table = call.catalog.create_table(identifier, body.table_schema, body.location, spec, order, body.properties)
        return table_result(call.ctx, table.metadata, table.metadata_location)
    # stage-create: nothing is written; the client's commit (assert-create) creates the table
    if not call.catalog.namespace_exists(namespace):
        raise NoSuchNamespaceError(f"Namespace does not exist: {'.'.join(namespace)}")
    if call.catalog.table_exists(identifier):
        raise TableAlreadyExistsError(f"Table {'.'.join(identifier)} already exists")
    location = resolve_table_location(call.catalog, body.location, ".".join(namespace), body.name)
    metadata = new_table_metadata(body.table_schema, spec, order, location, body.properties)
    return table_result(call.ctx, metadata, None)


def load_table(call: Call) -> Response:
    snapshots = call.query.get("snapshots", "all")
    if snapshots not in SNAPSHOT_MODES:
        raise RestRequestError(f"query parameter snapshots={snapshots!r}: expected one of {', '.join(SNAPSHOT_MODES)}")
    table = call.catalog.load_table(call.identifier())
    return table_result(call.ctx, table.metadata, table.metadata_location, snapshots)


def table_exists(call: Call) -> None:
    identifier = call.identifier()
    if not call.catalog.table_exists(identifier):
        raise NoSuchTableError(f"Table does not exist: {'.'.join(identifier)}")


def register_table(call: Call) -> Response:
    body = call.parsed(RegisterBody)
    identifier = (*call.namespace(), body.name)
    table = call.catalog.register_table(identifier, body.metadata_location, body.overwrite)
    return table_result(call.ctx, table.metadata, table.metadata_location)


def drop_table(call: Call) -> None:
    identifier = call.identifier()
    if call.flag("purgeRequested"):
        call.catalog.purge_table(identifier)
    else:
        call.catalog.drop_table(identifier)


def rename_table(call: Call) -> None:
    body = call.parsed(RenameBody)
    source = (*body.source.namespace, body.source.name)
    destination = (*body.destination.namespace, body.destination.name)
    if not call.catalog.namespace_exists(tuple(body.destination.namespace)):
        raise NoSuchNamespaceError(f"Namespace does not exist: {'.'.join(body.destination.namespace)}")
    call.catalog.rename_table(source, destination)


def update_table(call: Call) -> Response:
    body = call.parsed(CommitTableBody)
    identifier = call.identifier()
    if body.identifier is not None and (*body.identifier.namespace, body.identifier.name) != identifier:
        named = ".".join((*body.identifier.namespace, body.identifier.name))
        raise RestRequestError(f"the body's identifier {named} is not the table of the path {'.'.join(identifier)}")
    response = commits.commit_table(call.catalog, commits.Change(identifier, body.requirements, body.updates))
    return table_result(call.ctx, response.metadata, response.metadata_location, config=False)


def commit_transaction(call: Call) -> None:
    body = call.parsed(CommitTransactionBody)
    changes = []
    for change in body.table_changes:
        identifier = (*change.identifier.namespace, change.identifier.name)
        check_identifier(identifier, "table identifier")
        changes.append(commits.Change(identifier, change.requirements, change.updates))
    commits.commit_transaction(call.catalog, changes)


def load_credentials(call: Call) -> dict[str, object]:
    table = call.catalog.load_table(call.identifier())
    credentials = (
        [{"prefix": table.metadata.location, "config": call.ctx.table_config}] if call.ctx.table_config else []
    )
    return {"storage-credentials": credentials}


def unregister_table(call: Call) -> Response:
    """Forget the table but keep its files (in this pool they stay until a ``reclaim``)."""
    identifier = call.identifier()
    table = call.catalog.load_table(identifier)
    call.catalog.drop_table(identifier)
    return table_result(call.ctx, table.metadata, table.metadata_location, config=False)
