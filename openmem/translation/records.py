"""How an openmem record rides inside another SDK's memory, and back.

Translation adapters (mem0, powermem) store the text where the SDK wants it and every other
openmem field as one nested ``openmem`` object in the SDK's metadata (scope, tags, source,
confidence, validity, supersedes, agent/session, the caller's metadata and ``x-`` extensions),
so the fields come back intact and never collide with the SDK's own keys. The idempotency key
is also kept flat (``om_idem``) so the SDK's own filters can find it.

The SDK's ``user_id`` is ``<namespace>:<user_id>``, both percent-encoded: injective, so no two
openmem callers share an SDK user, and free of whitespace some SDKs refuse in entity ids.
"""

from __future__ import annotations

import hashlib
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
    "fields_of_input",
    "fields_of_record",
    "input_digest",
    "openmem_fields",
    "record_from_raw",
    "superseded_marker",
    "user_key",
]

OPENMEM_KEY = "openmem"
IDEMPOTENCY_KEY = "om_idem"
_INTERNAL = frozenset({"namespace", "superseded_by", "input_sha256"})


def user_key(caller: Caller) -> str:
    """The SDK ``user_id`` of a caller: namespace and user, injectively encoded."""
    return f"{quote(caller.namespace, safe='')}:{quote(caller.user_id, safe='')}"


def input_digest(content: str) -> str:
    """The digest an idempotent retry is compared by (its content, as first sent)."""
    return hashlib.sha256(content.encode()).hexdigest()


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
    caller: Caller,
    record: MemoryRecord,
    previous: Mapping[str, Any],
    *,
    keep_updated_at: bool,
) -> dict[str, Any]:
    """The ``openmem`` object of an updated record (internal markers of ``previous`` kept).

    ``keep_updated_at``: store our ``updated_at`` too, for SDKs whose own timestamp moves on
    reads (powermem's access tracking) and so cannot be trusted.
    """
    exclude = {"id", "content", "created_at"} | (set() if keep_updated_at else {"updated_at"})
    fields = record.model_dump(mode="json", exclude=exclude, exclude_none=True)
    fields.update(namespace=caller.namespace, user_id=caller.user_id)
    for marker in _INTERNAL:
        if marker in previous and marker not in {"namespace", "user_id"}:
            fields[marker] = previous[marker]
    return fields


def openmem_fields(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The ``openmem`` object of a raw SDK memory (empty if openmem did not write it)."""
    metadata = raw.get("metadata") or {}
    fields = metadata.get(OPENMEM_KEY) if isinstance(metadata, Mapping) else None
    return dict(fields) if isinstance(fields, Mapping) else {}


def record_from_raw(
    caller: Caller, raw: Mapping[str, Any], *, sdk: str, updated_at_is_ours: bool
) -> MemoryRecord:
    """A ``MemoryRecord`` from an SDK memory dict (``get``/``get_all``/``search`` shape)."""
    fields = openmem_fields(raw)
    data = {k: v for k, v in fields.items() if k not in _INTERNAL}
    created = raw.get("created_at") or datetime.now(UTC).isoformat()
    updated = fields.get("updated_at") if updated_at_is_ours else raw.get("updated_at")
    data.update(
        id=str(raw["id"]),
        content=str(raw.get("memory") or raw.get("content") or ""),
        user_id=caller.user_id,
        created_at=created,
        updated_at=updated or created,
    )
    if raw.get("status") is not None and "status" not in data:
        data["status"] = raw["status"]
    try:
        return MemoryRecord.model_validate(data)
    except ValueError as exc:
        raise ProviderError(f"{sdk} returned a memory openmem cannot read: {exc}") from exc


def superseded_marker(raw: Mapping[str, Any]) -> bool:
    """Whether a later memory declared that it supersedes this one."""
    return bool(openmem_fields(raw).get("superseded_by"))
