"""Iceberg views in the SQL registry, in the layout the Java JDBC catalog uses.

A view is a row of ``iceberg_tables`` with ``iceberg_type = 'VIEW'`` pointing at a
view metadata file (``<location>/metadata/00000-<uuid>.metadata.json``), so Java's
JdbcCatalog and iceberg-rust see the same views; pyiceberg's SqlCatalog filters
those rows out of its table lookups. MemCatalog's view methods delegate here, and
so does the REST server (including ``replaceView``'s update actions, which
pyiceberg has no models for).
"""

from __future__ import annotations

import errno
import time
import uuid
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, TypeAdapter
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import (
    CommitFailedException,
    NoSuchNamespaceError,
    NoSuchViewError,
    ViewAlreadyExistsError,
)
from pyiceberg.schema import Schema, assign_fresh_schema_ids
from pyiceberg.typedef import EMPTY_DICT, IcebergBaseModel, Identifier, Properties
from pyiceberg.view import View
from pyiceberg.view.metadata import ViewHistoryEntry, ViewMetadata, ViewVersion

from memcatalog import leases, registry
from memcatalog.errors import InvalidMetadataError
from memcatalog.fileio import delete_quietly
from memcatalog.names import check_identifier
from memcatalog.pyiceberg_internals import resolve_table_location, schema_version

if TYPE_CHECKING:
    from memcatalog.catalog import MemCatalog

LAST_ADDED = -1  # schema-id / view-version-id meaning "the one added earlier in this commit"


def _lookup(identifier: str | Identifier) -> tuple[str, str]:
    """Registry namespace and name of a view to look up: a name no view can have is simply not there (as for tables)."""
    namespace = Catalog.namespace_from(identifier)
    return Catalog.namespace_to_string(namespace), Catalog.table_name_from(identifier)


def _split(identifier: str | Identifier) -> tuple[str, str]:
    """Registry namespace and name of a view to create, each checked as the catalog checks new names."""
    namespace = Catalog.namespace_from(identifier)
    name = Catalog.table_name_from(identifier)
    check_identifier(namespace, "namespace")
    check_identifier([name], "view name")
    return Catalog.namespace_to_string(namespace), name


def _check_registry(catalog: MemCatalog) -> None:
    if schema_version(catalog) != "v1":
        raise NotImplementedError(
            "this registry has no iceberg_type column (a v0 schema), so it cannot hold views: "
            "open the catalog with schema_version='v1' to migrate it"
        )


def _write(catalog: MemCatalog, metadata: ViewMetadata, version: int) -> str:
    path = f"{metadata.location.rstrip('/')}/metadata/{version:05d}-{uuid.uuid4()}.metadata.json"
    io = catalog.load_file_io_for(path)
    with io.new_output(path).create(overwrite=False) as out:
        out.write(metadata.model_dump_json().encode())
    return path


def _read(catalog: MemCatalog, location: str) -> ViewMetadata:
    try:
        with catalog.load_file_io_for(location).new_input(location).open() as f:
            return ViewMetadata.model_validate_json(f.read())
    except ValueError as e:
        raise InvalidMetadataError(f"{location} is not a readable Iceberg view metadata file ({e})") from e


def _history(timestamp_ms: int, version_id: int) -> ViewHistoryEntry:
    return ViewHistoryEntry.model_validate({"timestamp-ms": timestamp_ms, "version-id": version_id})


def _version_of(location: str) -> int:
    head = location.rsplit("/", 1)[-1].split("-", 1)[0]
    return int(head) if head.isdigit() else -1


def view_location(catalog: MemCatalog, identifier: str | Identifier) -> str:
    """The current metadata file of a view."""
    namespace, name = _lookup(identifier)
    location = registry.metadata_location(catalog.engine, catalog.name, namespace, name, registry.view_filter())
    if not location:
        raise NoSuchViewError(f"View does not exist: {namespace}.{name}")
    return location


def load_view(catalog: MemCatalog, identifier: str | Identifier) -> View:
    location = view_location(catalog, identifier)
    return View(Catalog.identifier_to_tuple(identifier), _read(catalog, location))


def view_exists(catalog: MemCatalog, identifier: str | Identifier) -> bool:
    namespace, name = _lookup(identifier)
    return bool(registry.metadata_location(catalog.engine, catalog.name, namespace, name, registry.view_filter()))


def list_views(catalog: MemCatalog, namespace: str | Identifier) -> list[Identifier]:
    ns = Catalog.identifier_to_tuple(namespace)
    if not catalog.namespace_exists(ns):
        raise NoSuchNamespaceError(f"Namespace does not exist: {'.'.join(ns)}")
    ns_string = Catalog.namespace_to_string(ns)
    rows = registry.all_tables(catalog.engine, catalog.name, registry.view_filter())
    return sorted((*ns, name) for row_ns, name, _ in rows if row_ns == ns_string)


def metadata_files(catalog: MemCatalog) -> set[str]:
    """The current metadata file of every view: what ``reclaim`` must keep and ``check`` must not report."""
    rows = registry.all_tables(catalog.engine, catalog.name, registry.view_filter())
    return {location for _, _, location in rows if location}


def _add(catalog: MemCatalog, identifier: str | Identifier, metadata_location: str) -> None:
    namespace, name = _split(identifier)
    if not catalog.namespace_exists(Catalog.namespace_from(identifier)):
        raise NoSuchNamespaceError(f"Namespace does not exist: {namespace}")
    if not registry.insert_view(catalog.engine, catalog.name, namespace, name, metadata_location):
        what = "Table" if catalog.table_exists(identifier) else "View"
        raise ViewAlreadyExistsError(f"{what} with the same name already exists: {namespace}.{name}")


@leases.pins_its_writes  # memcatalog.leases: its metadata file is pinned until the registry has it
def create_view(
    catalog: MemCatalog,
    identifier: str | Identifier,
    schema: Schema,
    view_version: ViewVersion,
    location: str | None = None,
    properties: Properties = EMPTY_DICT,
) -> View:
    """A new view (version 1, schema 0) with its first metadata file."""
    _check_registry(catalog)
    namespace, name = _split(identifier)
    if not catalog.namespace_exists(Catalog.namespace_from(identifier)):
        raise NoSuchNamespaceError(f"Namespace does not exist: {namespace}")
    fresh = assign_fresh_schema_ids(schema)
    version = view_version.model_copy(update={"version_id": 1, "schema_id": fresh.schema_id})
    metadata = ViewMetadata.model_validate(
        {
            "view-uuid": str(uuid.uuid4()),
            "format-version": 1,
            "location": resolve_table_location(catalog, location, namespace, name).rstrip("/"),
            "schemas": [fresh],
            "current-version-id": 1,
            "versions": [version],
            "version-log": [_history(version.timestamp_ms, 1)],
            "properties": dict(properties or {}),
        }
    )
    path = _write(catalog, metadata, 0)
    try:
        _add(catalog, identifier, path)
    except BaseException:
        delete_quietly(catalog.load_file_io_for(path), path)
        raise
    return View(Catalog.identifier_to_tuple(identifier), metadata)


def register_view(catalog: MemCatalog, identifier: str | Identifier, metadata_location: str) -> View:
    """Register an existing view metadata file (read first: an unreadable file leaves nothing behind)."""
    _check_registry(catalog)
    try:
        metadata = _read(catalog, metadata_location)
    except FileNotFoundError as e:
        raise FileNotFoundError(
            errno.ENOENT,
            f"cannot register view {'.'.join(Catalog.identifier_to_tuple(identifier))}: there is no file at "
            f"{metadata_location}; give the location of an existing view metadata file",
            metadata_location,
        ) from e
    _add(catalog, identifier, metadata_location)
    return View(Catalog.identifier_to_tuple(identifier), metadata)


def drop_view(catalog: MemCatalog, identifier: str | Identifier) -> None:
    namespace, name = _lookup(identifier)
    if not registry.delete_view(catalog.engine, catalog.name, namespace, name):
        raise NoSuchViewError(f"View does not exist: {namespace}.{name}")


def rename_view(catalog: MemCatalog, from_identifier: str | Identifier, to_identifier: str | Identifier) -> View:
    from sqlalchemy.exc import IntegrityError

    source, destination = _lookup(from_identifier), _split(to_identifier)
    if not catalog.namespace_exists(Catalog.namespace_from(to_identifier)):
        raise NoSuchNamespaceError(f"Namespace does not exist: {destination[0]}")
    try:
        moved = registry.rename_view(catalog.engine, catalog.name, source, destination)
    except IntegrityError as e:
        raise ViewAlreadyExistsError(f"A table or view already exists: {'.'.join(destination)}") from e
    if not moved:
        raise NoSuchViewError(f"View does not exist: {'.'.join(source)}")
    return load_view(catalog, to_identifier)


# ---- replaceView: the spec's view requirements and updates ---------------------------------------


class AssertViewUUID(IcebergBaseModel):
    type: Literal["assert-view-uuid"] = "assert-view-uuid"
    uuid: str


class AssignUUID(IcebergBaseModel):
    action: Literal["assign-uuid"] = "assign-uuid"
    uuid: str


class UpgradeFormatVersion(IcebergBaseModel):
    action: Literal["upgrade-format-version"] = "upgrade-format-version"
    format_version: int = Field(alias="format-version")


class AddSchema(IcebergBaseModel):
    action: Literal["add-schema"] = "add-schema"
    schema_: Schema = Field(alias="schema")


class SetLocation(IcebergBaseModel):
    action: Literal["set-location"] = "set-location"
    location: str


class SetProperties(IcebergBaseModel):
    action: Literal["set-properties"] = "set-properties"
    updates: dict[str, str]


class RemoveProperties(IcebergBaseModel):
    action: Literal["remove-properties"] = "remove-properties"
    removals: list[str]


class AddViewVersion(IcebergBaseModel):
    action: Literal["add-view-version"] = "add-view-version"
    view_version: ViewVersion = Field(alias="view-version")


class SetCurrentViewVersion(IcebergBaseModel):
    action: Literal["set-current-view-version"] = "set-current-view-version"
    view_version_id: int = Field(alias="view-version-id")


ViewUpdate = Annotated[
    AssignUUID
    | UpgradeFormatVersion
    | AddSchema
    | SetLocation
    | SetProperties
    | RemoveProperties
    | AddViewVersion
    | SetCurrentViewVersion,
    Field(discriminator="action"),
]
VIEW_UPDATES: TypeAdapter[list[ViewUpdate]] = TypeAdapter(list[ViewUpdate])


class _Builder:
    """Applies view updates in order, remembering the last schema and version added (the ``-1`` references)."""

    def __init__(self, metadata: ViewMetadata) -> None:
        self.m = metadata
        self.last_schema: int | None = None
        self.last_version: int | None = None

    def apply(self, update: ViewUpdate) -> None:
        m = self.m
        if isinstance(update, AssignUUID):
            if update.uuid != m.view_uuid:
                raise ValueError(f"cannot change a view's uuid ({m.view_uuid} -> {update.uuid})")
        elif isinstance(update, UpgradeFormatVersion):
            if update.format_version != 1:
                raise ValueError(f"unsupported view format-version {update.format_version} (only 1 exists)")
        elif isinstance(update, AddSchema):
            self.last_schema = self._add_schema(update.schema_)
        elif isinstance(update, SetLocation):
            self.m = m.model_copy(update={"location": update.location.rstrip("/")})
        elif isinstance(update, SetProperties):
            self.m = m.model_copy(update={"properties": {**m.properties, **update.updates}})
        elif isinstance(update, RemoveProperties):
            self.m = m.model_copy(
                update={"properties": {k: v for k, v in m.properties.items() if k not in update.removals}}
            )
        elif isinstance(update, AddViewVersion):
            self.last_version = self._add_version(update.view_version)
        else:
            self._set_current(update.view_version_id)

    def _add_schema(self, schema: Schema) -> int:
        for existing in self.m.schemas:
            if existing.fields == schema.fields and existing.identifier_field_ids == schema.identifier_field_ids:
                return existing.schema_id
        new_id = max(s.schema_id for s in self.m.schemas) + 1
        self.m = self.m.model_copy(
            update={"schemas": [*self.m.schemas, schema.model_copy(update={"schema_id": new_id})]}
        )
        return new_id

    def _add_version(self, version: ViewVersion) -> int:
        schema_id = version.schema_id
        if schema_id == LAST_ADDED:
            if self.last_schema is None:
                raise ValueError("add-view-version refers to the last added schema (-1), but none was added")
            schema_id = self.last_schema
        if schema_id not in {s.schema_id for s in self.m.schemas}:
            raise ValueError(f"add-view-version: schema-id {schema_id} is not a schema of this view")
        for existing in self.m.versions:
            if existing.representations == version.representations and existing.schema_id == schema_id:
                return existing.version_id
        new_id = max(v.version_id for v in self.m.versions) + 1
        added = version.model_copy(update={"version_id": new_id, "schema_id": schema_id})
        self.m = self.m.model_copy(update={"versions": [*self.m.versions, added]})
        return new_id

    def _set_current(self, version_id: int) -> None:
        if version_id == LAST_ADDED:
            if self.last_version is None:
                raise ValueError("set-current-view-version -1 refers to the last added version, but none was added")
            version_id = self.last_version
        if version_id not in {v.version_id for v in self.m.versions}:
            raise ValueError(f"set-current-view-version: no version {version_id} in this view")
        if version_id != self.m.current_version_id:
            entry = _history(int(time.time() * 1000), version_id)
            self.m = self.m.model_copy(
                update={"current_version_id": version_id, "version_log": [*self.m.version_log, entry]}
            )


@leases.pins_its_writes  # memcatalog.leases: its metadata file is pinned until the registry has it
def replace_view(
    catalog: MemCatalog,
    identifier: str | Identifier,
    requirements: list[AssertViewUUID],
    updates: list[ViewUpdate],
) -> tuple[View, str]:
    """Apply updates to a view's metadata and swap its pointer (compare-and-swap); returns the view and its new file.

    Raises:
        CommitFailedException: a requirement failed or another writer replaced the view first.
    """
    namespace, name = _lookup(identifier)
    location = view_location(catalog, identifier)
    current = _read(catalog, location)
    for requirement in requirements:
        if requirement.uuid != current.view_uuid:
            raise CommitFailedException(f"Requirement failed: view uuid {current.view_uuid} is not {requirement.uuid}")
    builder = _Builder(current)
    for update in updates:
        builder.apply(update)
    path = _write(catalog, builder.m, _version_of(location) + 1)
    if not registry.swap_view_location(catalog.engine, catalog.name, namespace, name, location, path):
        delete_quietly(catalog.load_file_io_for(path), path)
        raise CommitFailedException(f"View has been replaced by another process: {namespace}.{name} (retry)")
    return View(Catalog.identifier_to_tuple(identifier), builder.m), path
