"""What a handler receives: the served catalog's context and one parsed request."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from pyiceberg.typedef import Identifier
from starlette.responses import Response

from memcatalog.names import check_identifier
from memcatalog.rest.errors import RestRequestError
from memcatalog.rest.models import Body

if TYPE_CHECKING:
    from memcatalog.catalog import MemCatalog
    from memcatalog.rest.planning import Planner

B = TypeVar("B", bound=Body)
T = TypeVar("T")

NAMESPACE_SEPARATOR = "\x1f"  # the spec's separator of namespace levels in a path (%1F)
MAX_PAGE_SIZE = 1000  # entries in one page of a list answer


@dataclass
class Context:
    """Everything about one served catalog that handlers share."""

    catalog: MemCatalog
    token: str | None
    defaults: dict[str, str]
    overrides: dict[str, str]
    table_config: dict[str, str]  # merged into loadTable's ``config`` (file IO, vended S3 credentials)
    endpoints: list[str]
    planner: Planner


@dataclass
class Call:
    """One request, already parsed: path parameters, query, validated body."""

    ctx: Context
    path: Mapping[str, str]
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: Body | None = None  # validated by the route's model (Route.body); handlers take it with parsed()
    form: dict[str, str] = field(default_factory=dict)

    def parsed(self, model: type[B]) -> B:
        """The request body as the route's body model ``model`` (the route table pairs each handler with it)."""
        if not isinstance(self.body, model):
            raise TypeError(f"the route's body is {type(self.body).__name__}, its handler expects {model.__name__}")
        return self.body

    @property
    def catalog(self) -> MemCatalog:
        return self.ctx.catalog

    def namespace(self, key: str = "namespace") -> Identifier:
        return parse_namespace(self.path[key])

    def identifier(self, kind: str = "table") -> Identifier:
        name = self.path[kind]
        check_identifier([name], f"{kind} name")
        return (*self.namespace(), name)

    def flag(self, name: str) -> bool:
        value = self.query.get(name, "false").lower()
        if value not in ("true", "false"):
            raise RestRequestError(f"query parameter {name}={value!r}: expected true or false")
        return value == "true"


def parse_namespace(raw: str) -> Identifier:
    """A path's namespace: levels joined by %1F (decoded by the server to \\x1f)."""
    parts = tuple(raw.split(NAMESPACE_SEPARATOR))
    check_identifier(parts, "namespace")
    return parts


def page(items: list[T], query: Mapping[str, str]) -> tuple[list[T], str | None]:
    """One page of a sorted list: ``pageToken`` is the offset we handed out, ``pageSize`` at most MAX_PAGE_SIZE."""
    raw_size, raw_token = query.get("pageSize"), query.get("pageToken")
    if raw_size is None and not raw_token:
        return items, None
    try:
        size = int(raw_size) if raw_size is not None else MAX_PAGE_SIZE
        start = int(raw_token) if raw_token else 0
    except ValueError:
        raise RestRequestError(
            f"pageSize={raw_size!r}, pageToken={raw_token!r}: pageSize is a positive integer and pageToken "
            "a next-page-token this server returned"
        ) from None
    if size <= 0 or start < 0:
        raise RestRequestError(
            f"pageSize must be positive and pageToken a returned token (got {raw_size}, {raw_token})"
        )
    size = min(size, MAX_PAGE_SIZE)
    chunk = items[start : start + size]
    return chunk, (str(start + size) if start + size < len(items) else None)


Handler = Callable[[Call], "Response | Mapping[str, object] | None"]


@dataclass(frozen=True)
class Route:
    """One operation of the spec: its operationId, method, path under ``/v1/{prefix}``, body model and handler."""

    operation: str
    method: str
    path: str
    handler: Handler
    body: type[Body] | None = None
    prefixed: bool = True  # under /v1/{prefix}; config and oauth/tokens are not
    commit: bool = False  # an unforeseen failure is "commit state unknown" (500)
    form: bool = False  # application/x-www-form-urlencoded body (oauth/tokens)

    @property
    def endpoint(self) -> str:
        """The ``endpoints`` entry advertised in /v1/config: ``"GET /v1/{prefix}/namespaces"``."""
        path = self.path.replace("{plan_id}", "{plan-id}")  # the spec's name; starlette's names cannot hold '-'
        return f"{self.method} /v1/{{prefix}}{path}" if self.prefixed else f"{self.method} /v1{path}"
