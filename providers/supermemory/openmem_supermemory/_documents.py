"""How an openmem record rides in a Supermemory document, and how our filters become its own.

The document's ``content`` is the memory's text and its id is the openmem id (Supermemory
takes caller-defined ids). Its flat ``metadata`` (strings, numbers, booleans, string arrays)
holds:

- ``om``: every other openmem field as JSON (``openmem.translation``'s record envelope),
  with our ``created_at`` and the SHA-256 of the content;
- keys the service filters on: ``om_created`` (microseconds since the epoch), ``om_tags``
  (the tags), ``om_scopes`` (the scope and each of its ancestors, so ``arrayContains`` is a
  prefix match on whole segments) and ``m.<key>`` for each scalar metadata value.

The Supermemory namespace (formerly "container tag") is derived from (namespace, user): a
hash, so it is a valid path segment whatever the ids contain, and never shared by two callers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from openmem.cursors import decode_cursor
from openmem.models import ListQuery, MemoryRecord, MemoryStatus, SearchQuery
from openmem.provider import Caller
from openmem.translation import OPENMEM_KEY, input_digest, record_from_raw

__all__ = [
    "ENVELOPE",
    "container_of",
    "digest_of",
    "envelope_of",
    "list_filter",
    "metadata_of",
    "record_of",
    "search_filter",
    "status_of",
]

ENVELOPE = "om"
_CREATED = "om_created"
_TAGS = "om_tags"
_SCOPES = "om_scopes"
_META = "m."
_DONE = "done"


def container_of(caller: Caller) -> str:
    """The Supermemory namespace of a caller: ``om_`` and 40 hex digits of a SHA-256."""
    key = f"{caller.namespace}\x00{caller.user_id}".encode()
    return f"om_{hashlib.sha256(key).hexdigest()[:40]}"


def _micros(moment: datetime) -> float:
    return float(round(moment.timestamp() * 1_000_000))


def _ancestors(scope: str) -> list[str]:
    parts = scope.split("/")
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def metadata_of(fields: Mapping[str, Any], content: str, created_at: datetime) -> dict[str, Any]:
    """The document metadata of a record's envelope ``fields``."""
    envelope = dict(fields)
    envelope["created_at"] = created_at.isoformat()
    envelope["input_sha256"] = input_digest(content)
    metadata: dict[str, Any] = {
        ENVELOPE: json.dumps(envelope, separators=(",", ":"), sort_keys=True),
        _CREATED: _micros(created_at),
        _TAGS: list(fields.get("tags") or []),
        _SCOPES: _ancestors(fields["scope"]) if fields.get("scope") else [],
    }
    for key, value in (fields.get("metadata") or {}).items():
        if isinstance(value, str | bool) or (isinstance(value, int | float) and abs(value) < 2**53):
            metadata[f"{_META}{key}"] = value
    return metadata


def _filterable(value: Any) -> bool:
    """Whether a metadata value gets its own ``m.<key>`` (scalars a float holds exactly)."""
    if isinstance(value, str | bool):
        return True
    return isinstance(value, int | float) and abs(value) < 2**53


def envelope_of(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """The ``om`` envelope of a document's metadata (empty when openmem did not write it)."""
    raw = (metadata or {}).get(ENVELOPE)
    if not isinstance(raw, str):
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def digest_of(metadata: Mapping[str, Any] | None) -> str | None:
    """The SHA-256 of the content the envelope was written with."""
    value = envelope_of(metadata).get("input_sha256")
    return value if isinstance(value, str) else None


def status_of(status: str | None) -> MemoryStatus | None:
    """openmem's status for a document's processing status (None once it is done)."""
    if status in (None, _DONE):
        return None
    if status == "failed":
        return "failed"
    if status in ("queued", "unknown"):
        return "queued"
    return "indexing"


def record_of(
    caller: Caller,
    doc_id: str,
    content: str,
    metadata: Mapping[str, Any] | None,
    status: str | None,
) -> MemoryRecord | None:
    """The caller's record of a document, or None when it is not the caller's (or not ours)."""
    fields = envelope_of(metadata)
    if fields.get("namespace") != caller.namespace or fields.get("user_id") != caller.user_id:
        return None
    raw = {
        "id": doc_id,
        "content": content,
        "created_at": fields.get("created_at"),
        "metadata": {OPENMEM_KEY: fields},
        "status": status_of(status),
    }
    return record_from_raw(caller, raw, sdk="supermemory", updated_at_is_ours=True)


def _all(operands: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not operands:
        return None
    return operands[0] if len(operands) == 1 else {"operator": "and", "operands": operands}


def _common(scope: str | None, tags: list[str]) -> list[dict[str, Any]]:
    operands = [{"field": _TAGS, "operator": "arrayContains", "value": t} for t in tags]
    # A wildcard segment is matched here, by openmem.scopes; a plain scope by the service.
    if scope and "*" not in scope:
        operands.append({"field": _SCOPES, "operator": "arrayContains", "value": scope})
    return operands


def list_filter(query: ListQuery) -> dict[str, Any] | None:
    """The service-side filter of a ``list`` page: scope, tags, window and keyset bound."""
    operands = _common(query.scope, query.tags)
    if query.since is not None:
        operands.append({"field": _CREATED, "operator": "gte", "value": _micros(query.since)})
    if query.until is not None:
        operands.append({"field": _CREATED, "operator": "lt", "value": _micros(query.until)})
    if query.cursor:
        moment, _ = decode_cursor(query.cursor)
        # Inclusive: items sharing the cursor's instant are cut by id afterwards.
        operands.append({"field": _CREATED, "operator": "lte", "value": _micros(moment)})
    return _all(operands)


def search_filter(query: SearchQuery) -> dict[str, Any] | None:
    """The service-side filter of a search: scope, tags and scalar metadata equality."""
    operands = _common(query.scope, query.tags)
    for key, value in query.filters.items():
        if _filterable(value):
            operands.append({"field": f"{_META}{key}", "operator": "eq", "value": value})
    return _all(operands)
