"""How an openmem record rides inside a mem0 memory, and back.

mem0 keeps ``data`` (the text), timestamps and its identity keys at the top level of a
memory's payload and everything else in ``metadata``. openmem's fields travel as one nested
``openmem`` object in that metadata (scope, tags, source, confidence, validity, supersedes,
agent/session, the caller's metadata and ``x-`` extensions), so they come back intact and
never collide with mem0's own keys. The idempotency key is also kept flat (``om_idem``) so
a mem0 filter can find it.

mem0's ``user_id`` is ``<namespace>:<user_id>``, both percent-encoded: injective, and free of
the whitespace mem0 refuses in entity ids.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from openmem.errors import ProviderError
from openmem.models import MemoryInput, MemoryRecord
from openmem.provider import Caller

__all__ = [
    "IDEMPOTENCY_KEY",
    "OPENMEM_KEY",
    "REF_KEY",
    "fields_of_input",
    "fields_of_record",
    "input_digest",
    "is_uuid",
    "openmem_fields",
    "record_from_raw",
    "superseded_marker",
    "user_key",
]

OPENMEM_KEY = "openmem"
IDEMPOTENCY_KEY = "om_idem"
REF_KEY = "om_ref"
"""A random token per add: finds a platform memory once its queued add is processed."""
_INTERNAL = frozenset({"namespace", "superseded_by", "input_sha256"})


def user_key(caller: Caller) -> str:
    """The mem0 ``user_id`` of a caller: namespace and user, injectively encoded."""
    return f"{quote(caller.namespace, safe='')}:{quote(caller.user_id, safe='')}"


def input_digest(content: str) -> str:
    """The digest an idempotent retry is compared by (its content, as first sent)."""
    return hashlib.sha256(content.encode()).hexdigest()


def is_uuid(value: str) -> bool:
    """Whether ``value`` is a UUID (mem0's ids); anything else cannot exist in the store."""
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def fields_of_input(
    caller: Caller, item: MemoryInput, embedding_model: str | None
) -> dict[str, Any]:
    """The ``openmem`` object stored with a new memory."""
    fields = item.model_dump(
        mode="json", exclude={"content", "user_id", "idempotency_key"}, exclude_none=True
    )
    fields.update(namespace=caller.namespace, user_id=caller.user_id)
    if embedding_model is not None:
        fields["embedding_model"] = embedding_model
    return fields


def fields_of_record(
    caller: Caller, record: MemoryRecord, previous: Mapping[str, Any]
) -> dict[str, Any]:
    """The ``openmem`` object of an updated record (internal markers of ``previous`` kept)."""
    fields = record.model_dump(
        mode="json", exclude={"id", "content", "created_at", "updated_at"}, exclude_none=True
    )
    fields.update(namespace=caller.namespace, user_id=caller.user_id)
    for marker in _INTERNAL:
        if marker in previous and marker not in {"namespace", "user_id"}:
            fields[marker] = previous[marker]
    return fields


def openmem_fields(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The ``openmem`` object of a raw mem0 memory (empty for memories mem0 wrote itself)."""
    metadata = raw.get("metadata") or {}
    fields = metadata.get(OPENMEM_KEY) if isinstance(metadata, Mapping) else None
    return dict(fields) if isinstance(fields, Mapping) else {}


def record_from_raw(caller: Caller, raw: Mapping[str, Any]) -> MemoryRecord:
    """A ``MemoryRecord`` from a mem0 memory dict (``get``/``get_all``/``search`` shape)."""
    fields = openmem_fields(raw)
    data = {k: v for k, v in fields.items() if k not in _INTERNAL}
    created = raw.get("created_at") or datetime.now(UTC).isoformat()
    data.update(
        id=str(raw["id"]),
        content=str(raw.get("memory") or raw.get("content") or ""),
        user_id=caller.user_id,
        created_at=created,
        updated_at=raw.get("updated_at") or created,
    )
    if raw.get("status") is not None and "status" not in data:
        data["status"] = raw["status"]
    try:
        return MemoryRecord.model_validate(data)
    except ValueError as exc:
        raise ProviderError(f"mem0 returned a memory openmem cannot read: {exc}") from exc


def superseded_marker(raw: Mapping[str, Any]) -> bool:
    """Whether a later memory declared that it supersedes this one."""
    return bool(openmem_fields(raw).get("superseded_by"))
