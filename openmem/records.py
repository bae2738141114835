"""The records and results providers return: frozen, unknown fields kept.

``MemoryRecord`` and what wraps it (``SearchHit``, ``MemoryPage``, ``ContextBlock``), the
audit log's ``AuditEntry`` and the queued add's ``IngestEvent``. They accept unknown fields,
so ``x-<provider>`` extensions and fields of newer protocol versions round-trip. Import them
from ``openmem.models`` (or ``openmem``); this module is where they are defined.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema
from ulid import ULID

from openmem.fields import JSON_VALUE_CORE_SCHEMA, NO_NUL_PATTERN, Text, UTCDateTime

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


class MemorySource(BaseModel):
    """Where a memory came from: the app, how it was obtained, and an opaque back-pointer."""

    model_config = ConfigDict(frozen=True, extra="allow")

    app: Text | None = None
    type: Literal["extracted", "explicit", "imported"] | None = None
    ref: Text | None = None

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        # Requests check the source's own extra fields as JSON values (keys non-empty, no
        # NUL), and the schema says so.
        schema = handler(core_schema)
        target = handler.resolve_ref_schema(schema)
        target["additionalProperties"] = handler(JSON_VALUE_CORE_SCHEMA)
        target["propertyNames"] = {"minLength": 1, "pattern": NO_NUL_PATTERN}  # as check_json
        return schema


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
