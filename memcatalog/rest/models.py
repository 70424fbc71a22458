"""Request bodies, validated at the boundary.

pyiceberg's own pydantic models are reused where they accept what clients send
(``TableUpdate``/``TableRequirement`` unions, ``Schema``, ``PartitionSpec``,
``SortOrder``, ``ViewVersion``). Its ``CreateTableRequest`` requires
``location``, ``partition-spec`` and ``write-order``, which DuckDB leaves out,
so the create bodies here are our own with the spec's optional fields.
"""

from __future__ import annotations

from pydantic import ConfigDict, Field, field_validator
from pyiceberg.partitioning import PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table.sorting import SortOrder
from pyiceberg.table.update import TableRequirement, TableUpdate
from pyiceberg.typedef import IcebergBaseModel
from pyiceberg.view.metadata import ViewVersion

from memcatalog.names import check_identifier
from memcatalog.views import AssertViewUUID, ViewUpdate


def _property_value(key: object, value: object) -> str:
    """A property value as the spec's string: numbers and booleans as JSON writes them; null and objects refused."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if value is None:
        raise ValueError(
            f"property {key!r} is null: property values are strings; "
            "give a string, or leave the key out (namespace property updates remove keys with 'removals')"
        )
    raise ValueError(f"property {key!r} is a {type(value).__name__}: property values are strings")


def _str_values(value: object) -> object:
    if isinstance(value, dict):
        return {str(k): _property_value(k, v) for k, v in value.items()}
    return value


class Body(IcebergBaseModel):
    """A request body: unknown fields are ignored (the spec grows), known ones are checked."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class CreateNamespaceBody(Body):
    namespace: list[str] = Field(min_length=1)
    properties: dict[str, str] = Field(default_factory=dict)

    @field_validator("namespace")
    @classmethod
    def _names(cls, v: list[str]) -> list[str]:
        check_identifier(v, "namespace")
        return v

    @field_validator("properties", mode="before")
    @classmethod
    def _props(cls, v: object) -> object:
        return _str_values(v)


class UpdateNamespacePropertiesBody(Body):
    removals: list[str] = Field(default_factory=list)
    updates: dict[str, str] = Field(default_factory=dict)

    @field_validator("updates", mode="before")
    @classmethod
    def _props(cls, v: object) -> object:
        return _str_values(v)


class CreateTableBody(Body):
    name: str
    location: str | None = None
    table_schema: Schema = Field(alias="schema")
    partition_spec: PartitionSpec | None = Field(default=None, alias="partition-spec")
    write_order: SortOrder | None = Field(default=None, alias="write-order")
    stage_create: bool = Field(default=False, alias="stage-create")
    properties: dict[str, str] = Field(default_factory=dict)

    @field_validator("properties", mode="before")
    @classmethod
    def _props(cls, v: object) -> object:
        return _str_values(v)


class RegisterBody(Body):
    name: str
    metadata_location: str = Field(alias="metadata-location")
    overwrite: bool = False


class TableIdentifierBody(Body):
    namespace: list[str]
    name: str


class RenameBody(Body):
    source: TableIdentifierBody
    destination: TableIdentifierBody


class CommitTableBody(Body):
    identifier: TableIdentifierBody | None = None
    requirements: tuple[TableRequirement, ...] = Field(default_factory=tuple)
    updates: tuple[TableUpdate, ...] = Field(default_factory=tuple)


class TableChange(CommitTableBody):
    identifier: TableIdentifierBody  # required inside a transaction


class CommitTransactionBody(Body):
    table_changes: list[TableChange] = Field(alias="table-changes", min_length=1)


class CreateViewBody(Body):
    name: str
    location: str | None = None
    view_schema: Schema = Field(alias="schema")
    view_version: ViewVersion = Field(alias="view-version")
    properties: dict[str, str] = Field(default_factory=dict)

    @field_validator("properties", mode="before")
    @classmethod
    def _props(cls, v: object) -> object:
        return _str_values(v)


class RegisterViewBody(Body):
    name: str
    metadata_location: str = Field(alias="metadata-location")


class CommitViewBody(Body):
    identifier: TableIdentifierBody | None = None
    requirements: list[AssertViewUUID] = Field(default_factory=list)
    updates: list[ViewUpdate] = Field(default_factory=list)
