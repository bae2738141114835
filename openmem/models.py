"""The wire models: what crosses the OMP boundary, validated at the edge.

Records and results (``MemoryRecord``, ``SearchHit``, ``MemoryPage``, ``ContextBlock``,
``AuditEntry``, ``IngestEvent``; defined in ``openmem.records``) and ``Capabilities``
(``openmem.capabilities``) are frozen and accept unknown fields, so ``x-<provider>``
extensions and fields of newer protocol versions round-trip. Requests (``MemoryInput``,
``MemoryPatch`` and the query models; ``openmem.request_models``) are frozen too but accept
only ``x-`` extensions: anything else is a typo, and a typo is an ``InvalidRequestError``
naming the field. This module is where they are all imported from.

Field-level rules (identifiers, tags, scopes, JSON metadata) are ``openmem.fields``. Field
names and shapes follow OMP 0.1; ``agent_id``, ``session_id`` and ``metadata`` are
openmem additions (see ``spec/omp.md``).
"""

from __future__ import annotations

from openmem.capabilities import Capabilities, CapabilityFeatures, CapabilityLimits
from openmem.fields import (
    MAX_CURSOR_LENGTH,
    MAX_ID_LENGTH,
    MAX_QUERY_LENGTH,
    MAX_TAG_LENGTH,
    MAX_TAGS,
    Identifier,
    check_content_length,
    invalid_request_from,
    validate_identifier,
)
from openmem.records import (
    DEFAULT_MAX_CONTENT_LENGTH,
    OMP_VERSION,
    VERBS,
    AuditAction,
    AuditEntry,
    Citation,
    ContextBlock,
    EventError,
    EventStatus,
    IngestEvent,
    JSONScalar,
    MemoryPage,
    MemoryRecord,
    MemorySource,
    MemoryStatus,
    SearchHit,
    SearchMode,
    Verb,
    new_memory_id,
)
from openmem.request_models import (
    AuditQuery,
    ContextQuery,
    ListQuery,
    MemoryInput,
    MemoryKey,
    MemoryPatch,
    SearchQuery,
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
    "JSONScalar",
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
