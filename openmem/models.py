"""The wire models: what crosses the OMP boundary, validated at the edge.

Records and results (``MemoryRecord``, ``SearchHit``, ``MemoryPage``, ``ContextBlock``,
``AuditEntry``, ``Capabilities``) are frozen and accept unknown fields, so ``x-<provider>``
extensions and fields of newer protocol versions round-trip. Requests (``MemoryInput``,
``MemoryPatch`` and the query models) are frozen too but accept only ``x-`` extensions:
anything else is a typo, and a typo is an ``InvalidRequestError`` naming the field.

Field-level rules (identifiers, tags, scopes, JSON metadata) are ``openmem.fields``. Field
names and shapes follow OMP 0.1; ``agent_id``, ``session_id`` and ``metadata`` are
openmem additions (see ``spec/omp.md``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from ulid import ULID

from openmem.errors import InvalidRequestError
from openmem.fields import (
    MAX_CURSOR_LENGTH,
    MAX_ID_LENGTH,
    MAX_QUERY_LENGTH,
    MAX_TAG_LENGTH,
    MAX_TAGS,
    NOT_BLANK_PATTERN,
    Confidence,
    Content,
    Identifier,
    Metadata,
    QueryText,
    Scope,
    ScopeFilter,
    Tags,
    Text,
    UTCDateTime,
    check_content_length,
    check_json,
    invalid_request_from,
    validate_identifier,
)

__all__ = [
    # The limits and identifier type live in openmem.fields; kept importable from here.
    "DEFAULT_MAX_CONTENT_LENGTH",
    "MAX_CURSOR_LENGTH",
    "MAX_ID_LENGTH",
    "MAX_QUERY_LENGTH",
    "MAX_TAGS",
    "MAX_TAG_LENGTH",
    "OMP_VERSION",
    "VERBS",
    "AuditAction",
    "AuditEntry",
    "AuditQuery",
    "Capabilities",
    "CapabilityFeatures",
    "CapabilityLimits",
    "Citation",
    "ContextBlock",
    "ContextQuery",
    "EventError",
    "EventStatus",
    "Identifier",
    "IngestEvent",
    "ListQuery",
    "MemoryInput",
    "MemoryKey",
    "MemoryPage",
    "MemoryPatch",
    "MemoryRecord",
    "MemorySource",
    "MemoryStatus",
    "SearchHit",
    "SearchMode",
    "SearchQuery",
    "Verb",
    "check_content_length",
    "invalid_request_from",
    "new_memory_id",
    "validate_identifier",
]

OMP_VERSION = "0.1"
DEFAULT_MAX_CONTENT_LENGTH = 100_000
"""Characters of content accepted by default; providers may declare less."""

Verb = Literal["add", "search", "get", "update", "delete", "list", "context", "audit"]
VERBS: tuple[Verb, ...] = ("add", "search", "get", "update", "delete", "list", "context", "audit")
AuditAction = Literal["add", "search", "get", "update", "delete", "list", "context", "forget_user"]
SearchMode = Literal["semantic", "keyword", "hybrid"]
MemoryStatus = Literal["queued", "indexing", "done", "failed"]
EventStatus = Literal["PENDING", "RUNNING", "SUCCEEDED", "FAILED"]
"""The life of a queued add (``add(..., async_mode=True)``), as the mem0 platform names it."""
JSONScalar = str | int | float | bool | None


def new_memory_id() -> str:
    """A new memory id: ``mem_`` and a ULID, so ids sort by creation time."""
    return f"mem_{ULID()}"


class _Record(BaseModel):
    """Base of what providers return: frozen, unknown fields kept."""

    model_config = ConfigDict(frozen=True, extra="allow", populate_by_name=True)

    @property
    def extensions(self) -> dict[str, Any]:
        """The ``x-<provider>`` extension fields carried by this object."""
        return {k: v for k, v in (self.model_extra or {}).items() if k.startswith("x-")}


class _Request(BaseModel):
    """Base of what callers send: frozen, only ``x-`` extensions besides the fields."""

    model_config = ConfigDict(
        frozen=True,
        extra="allow",
        str_strip_whitespace=False,
        # The schema says what the validator below refuses: extensions are 'x-<name>' only.
        json_schema_extra={"additionalProperties": False, "patternProperties": {"^x-.": {}}},
    )

    @model_validator(mode="after")
    def _only_x_extensions(self) -> Self:
        for key, value in (self.model_extra or {}).items():
            if not key.startswith("x-") or len(key) < 3:
                raise ValueError(f"unknown field {key!r}; extensions must be named 'x-<provider>'")
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


class MemorySource(BaseModel):
    """Where a memory came from: the app, how it was obtained, and an opaque back-pointer."""

    model_config = ConfigDict(frozen=True, extra="allow")

    app: Text | None = None
    type: Literal["extracted", "explicit", "imported"] | None = None
    ref: Text | None = None


class MemoryRecord(_Record):
    """One stored memory, as every provider returns it.

    >>> record.content, record.scope, record.extensions
    ('prefers dark mode', 'ui/preferences', {'x-mem0': {...}})
    """

    id: str
    content: str
    user_id: str
    created_at: UTCDateTime
    updated_at: UTCDateTime | None = None
    scope: str | None = None
    tags: list[str] = Field(default_factory=list)
    source: MemorySource | None = None
    confidence: float | None = None
    valid_from: UTCDateTime | None = None
    valid_to: UTCDateTime | None = None
    supersedes: list[str] = Field(default_factory=list)
    embedding_model: str | None = None
    status: MemoryStatus | None = None
    agent_id: str | None = None
    session_id: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    event_id: str | None = None
    """The ingestion event of a queued add (``status="queued"``); see ``IngestEvent``."""
    key: str | None = None
    """The client-chosen key the memory was put under (``features.client_keys``), if any."""

    def is_active(self, at: datetime) -> bool:
        """Whether the memory is inside its validity window at ``at``."""
        if self.valid_from is not None and self.valid_from > at:
            return False
        return not (self.valid_to is not None and self.valid_to <= at)


class SearchHit(_Record):
    """A memory and how well it matches the query: ``score`` in [0, 1], higher is better."""

    memory: MemoryRecord
    score: Annotated[float, Field(ge=0.0, le=1.0)]


class MemoryPage(_Record):
    """One page of ``list``: ``next_cursor`` is None on the last page, never an empty page."""

    items: list[MemoryRecord]
    next_cursor: str | None = None


class Citation(_Record):
    """A memory quoted in a context block."""

    memory_id: str
    score: float


class ContextBlock(_Record):
    """Prompt-ready text with inline ``[mem_...]`` citations; ``token_count <= token_budget``."""

    text: str
    citations: list[Citation] = Field(default_factory=list)
    token_count: int = 0


class AuditEntry(_Record):
    """One line of the append-only audit log: who did what to which memory, and when."""

    id: str
    timestamp: UTCDateTime
    user_id: str
    action: AuditAction
    memory_id: str | None = None
    scope: str | None = None
    app: str | None = None
    request_id: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class EventError(_Record):
    """Why an ingestion event failed: a stable error code (``openmem.errors``) and a message."""

    code: str
    message: str


class IngestEvent(_Record):
    """The status of one queued add or batch (``get_event``): an openmem extension of OMP 0.1.

    ``status`` moves ``PENDING`` -> ``RUNNING`` -> ``SUCCEEDED`` (or back to ``PENDING`` for a
    retry, or ``FAILED`` after the last attempt). ``memory_ids`` are the memories the event
    wrote (set once it succeeded); ``error`` says why the last attempt failed.

    >>> event = await mem.get_event(record.event_id, user_id="u1")
    >>> event.status, event.memory_ids
    ('SUCCEEDED', ['mem_01J...'])
    """

    id: str
    user_id: str
    status: EventStatus
    event_type: Literal["ADD"] = "ADD"
    created_at: UTCDateTime
    started_at: UTCDateTime | None = None
    finished_at: UTCDateTime | None = None
    attempts: int = 0
    memory_ids: list[str] = Field(default_factory=list)
    error: EventError | None = None

    @property
    def done(self) -> bool:
        """Whether the event reached a final status (``SUCCEEDED`` or ``FAILED``)."""
        return self.status in ("SUCCEEDED", "FAILED")


class CapabilityFeatures(_Record):
    """What a provider can do beyond the REQUIRED verbs. Every ``True`` is proven by a check."""

    vector_search: bool = False
    keyword_search: bool = False
    hybrid_search: bool = False
    graph_queries: bool = False
    temporal: bool = False
    scopes: Literal["native", "tags", "none"] = "native"
    max_content_length: int = DEFAULT_MAX_CONTENT_LENGTH
    supports_e2e: bool = False
    supports_audit: bool = False
    supports_supersession: bool = False
    metadata_filters: bool = False
    idempotency: bool = False
    batch_add: bool = False
    forget_user: bool = False
    async_ingestion: bool = False
    async_ingest: bool = False
    """``add(..., async_mode=True)`` queues the add and answers at once with an ``event_id``;
    ``get_event`` reports its ``IngestEvent``. ``async_ingestion`` means the backend itself
    may answer before a memory is readable."""
    cancellation: Literal["native", "thread", "none"] = "native"
    """``native``: the backend call itself is cancelled. ``thread``: the caller is released at
    once and the worker thread runs on, its result dropped. ``none``: not cancellable."""
    infer: Literal["none", "pipeline", "backend"] = "none"
    """``add(messages=..., infer=True)``: ``pipeline`` runs openmem's infer pipeline with the
    configured chat model (``openmem.llm``); ``backend`` hands the conversation to the
    backend's own inference (its behaviour, its LLM configuration); ``none``: not offered."""
    client_keys: bool = False
    """``add(..., key=)`` upserts the memory under a client-chosen key, unique per namespace,
    user and scope; ``get_by_key`` and ``delete_by_key`` reach it (see ``MemoryKey``)."""


class CapabilityLimits(_Record):
    """Hard limits the provider enforces."""

    max_search_results: int = 100
    max_list_limit: int = 500
    max_batch_size: int = 100
    max_token_budget: int = 100_000
    rate_limit_per_minute: int | None = None


class Capabilities(_Record):
    """What a provider declares about itself; cached by ``AsyncMemory``."""

    omp_version: str = OMP_VERSION
    provider: str
    verbs: list[Verb]
    features: CapabilityFeatures = Field(default_factory=CapabilityFeatures)
    limits: CapabilityLimits = Field(default_factory=CapabilityLimits)

    def supports(self, verb: str) -> bool:
        """Whether ``verb`` is declared."""
        return verb in self.verbs


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
    metadata: dict[str, Any] | None = None

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
    filters: dict[str, JSONScalar] = Field(default_factory=dict)
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
