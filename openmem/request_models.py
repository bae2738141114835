"""The requests callers send: ``MemoryInput``, ``MemoryPatch``, ``MemoryKey`` and the queries.

They are frozen and accept only ``x-`` extensions besides their fields: anything else is a
typo, and a typo is an ``InvalidRequestError`` naming the field. Field-level rules
(identifiers, tags, scopes, JSON metadata) are ``openmem.fields``. Import the models from
``openmem.models`` (or ``openmem``); this module is where they are defined.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from openmem.errors import InvalidRequestError
from openmem.fields import (
    EXTENSION_NAME_PATTERN,
    JSON_VALUE_CORE_SCHEMA,
    MAX_CURSOR_LENGTH,
    MAX_TAGS,
    NOT_BLANK_PATTERN,
    Confidence,
    Content,
    Identifier,
    JsonScalar,
    Metadata,
    QueryText,
    Scope,
    ScopeFilter,
    Tags,
    Text,
    UTCDateTime,
    check_json,
    json_object_schema,
)
from openmem.records import AuditAction, JSONScalar, MemoryRecord, MemorySource, SearchMode


class _Request(BaseModel):
    """Base of what callers send: frozen, only ``x-`` extensions besides the fields."""

    model_config = ConfigDict(frozen=True, extra="allow", str_strip_whitespace=False)

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        # The schema says what the validator below refuses: extensions are 'x-<name>' only,
        # and their values are JSON values.
        schema = handler(core_schema)
        target = handler.resolve_ref_schema(schema)
        target["additionalProperties"] = False
        target["patternProperties"] = {EXTENSION_NAME_PATTERN: handler(JSON_VALUE_CORE_SCHEMA)}
        return schema

    @model_validator(mode="after")
    def _only_x_extensions(self) -> Self:
        for key, value in (self.model_extra or {}).items():
            if not key.startswith("x-") or len(key) < 3 or "\x00" in key:
                raise ValueError(f"unknown field {key!r}; extensions must be named 'x-<provider>'")
            check_json(key, "an extension name")
            check_json(value, key)
        return self

    @field_validator("source", check_fields=False)
    @classmethod
    def _source_extensions_json(cls, value: MemorySource | None) -> MemorySource | None:
        # The source's own extension fields are stored as they are: JSON only, like
        # metadata (a lone surrogate there once stored a record no read could answer).
        if value is not None:
            check_json(value.model_extra or {}, "source")
        return value

    @property
    def extensions(self) -> dict[str, Any]:
        """The ``x-<provider>`` extension fields carried by this request."""
        return dict(self.model_extra or {})


class MemoryInput(_Request):
    """What ``add`` stores. ``user_id`` is required; ``x-<provider>`` keys round-trip."""

    content: Content
    user_id: Identifier
    scope: Scope | None = None
    tags: Tags = Field(default_factory=list)
    source: MemorySource | None = None
    confidence: Confidence | None = None
    valid_from: UTCDateTime | None = None
    valid_to: UTCDateTime | None = None
    supersedes: list[Identifier] = Field(default_factory=list, max_length=MAX_TAGS)
    agent_id: Identifier | None = None
    session_id: Identifier | None = None
    metadata: Metadata = Field(default_factory=dict)
    idempotency_key: Identifier | None = None
    key: Identifier | None = None
    """A client-chosen key (``features.client_keys``): an add with the key of an existing
    memory of the same user and scope replaces that memory (same id) instead of adding one."""

    @model_validator(mode="after")
    def _validity_window(self) -> Self:
        _check_window(self.valid_from, self.valid_to)
        return self


class MemoryPatch(_Request):
    """A JSON Merge Patch for ``update``: an omitted field is unchanged, ``None`` clears it.

    ``metadata`` merges key by key (a ``None`` value removes that key); lists are replaced.
    """

    # A string or absent: null is refused (content cannot be cleared), and the schema says so.
    content: Annotated[
        Content | None,
        WithJsonSchema({"type": "string", "minLength": 1, "pattern": NOT_BLANK_PATTERN}),
    ] = None
    scope: Scope | None = None
    tags: Tags | None = None
    source: MemorySource | None = None
    confidence: Confidence | None = None
    valid_from: UTCDateTime | None = None
    valid_to: UTCDateTime | None = None
    supersedes: list[Identifier] | None = Field(default=None, max_length=MAX_TAGS)
    agent_id: Identifier | None = None
    session_id: Identifier | None = None
    metadata: Annotated[dict[str, Any], json_object_schema()] | None = None

    @field_validator("content")
    @classmethod
    def _content_not_cleared(cls, value: str | None) -> str | None:
        if value is None:
            raise ValueError("content cannot be cleared")
        return value

    @field_validator("metadata")
    @classmethod
    def _metadata_json(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            check_json(value, "metadata")
        return value

    def changes(self) -> dict[str, Any]:
        """The fields this patch sets, explicit ``None`` included, extensions too."""
        changed = {name: getattr(self, name) for name in self.model_fields_set}
        changed.update(self.extensions)
        return changed

    def is_empty(self) -> bool:
        """True when the patch changes nothing."""
        return not self.changes()

    def apply_to(self, record: MemoryRecord, *, now: datetime) -> MemoryRecord:
        """The record after this patch, ``updated_at`` set to ``now``; validates the result."""
        data = record.model_dump(mode="python")
        for name, value in self.changes().items():
            if name == "metadata":
                data["metadata"] = _merge_metadata(record.metadata, value)
            elif name in ("tags", "supersedes") and value is None:
                data[name] = []
            elif name == "source" and isinstance(value, MemorySource):
                data[name] = value.model_dump(mode="python", exclude_none=True)
            elif name.startswith("x-") and value is None:
                data.pop(name, None)
            else:
                data[name] = value
        _check_window(data.get("valid_from"), data.get("valid_to"))
        data["updated_at"] = now
        return MemoryRecord.model_validate(data)


class MemoryKey(_Request):
    """Where a keyed memory lives: its client-chosen ``key`` within one ``scope``.

    Keys are unique per (namespace, user, scope); ``scope=None`` is the unscoped space,
    distinct from every named scope (a key is never matched by scope prefix).
    """

    key: Identifier
    scope: Scope | None = None


def _merge_metadata(current: Mapping[str, Any], patch: Mapping[str, Any] | None) -> dict[str, Any]:
    if patch is None:
        return {}
    merged = dict(current)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def _check_window(valid_from: datetime | None, valid_to: datetime | None) -> None:
    if valid_from is not None and valid_to is not None and valid_to < valid_from:
        raise InvalidRequestError("valid_to must not be before valid_from", field="valid_to")


class ListQuery(_Request):
    """Arguments of ``list``: newest first, keyset-paginated."""

    scope: ScopeFilter | None = None
    tags: Tags = Field(default_factory=list)
    since: UTCDateTime | None = None
    until: UTCDateTime | None = None
    limit: Annotated[int, Field(ge=1, le=500)] = 50
    cursor: Annotated[str, Field(min_length=1, max_length=MAX_CURSOR_LENGTH)] | None = None


class SearchQuery(_Request):
    """Arguments of ``search``. ``mode=None`` lets the provider use its best declared mode.

    ``filters`` match ``metadata`` keys by equality (every key must match). Expired,
    not-yet-valid and superseded memories are left out unless ``include_inactive``.
    """

    query: QueryText
    scope: ScopeFilter | None = None
    tags: Tags = Field(default_factory=list)
    filters: Annotated[dict[str, JSONScalar], json_object_schema(JsonScalar)] = Field(
        default_factory=dict
    )
    mode: SearchMode | None = None
    limit: Annotated[int, Field(ge=1, le=100)] = 10
    min_score: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    include_inactive: bool = False

    @field_validator("filters")
    @classmethod
    def _filters_json(cls, value: dict[str, JSONScalar]) -> dict[str, JSONScalar]:
        check_json(value, "filters")
        return value


class ContextQuery(_Request):
    """Arguments of ``context``: the best memories for ``query`` within ``token_budget``."""

    query: QueryText
    scope: ScopeFilter | None = None
    tags: Tags = Field(default_factory=list)
    token_budget: Annotated[int, Field(ge=0, le=100_000)] = 500
    limit: Annotated[int, Field(ge=1, le=100)] = 20


class AuditQuery(_Request):
    """Arguments of ``audit``: newest entries first."""

    app: Text | None = None
    action: AuditAction | None = None
    since: UTCDateTime | None = None
    limit: Annotated[int, Field(ge=1, le=1000)] = 100
