"""The mem0 platform's events as openmem ``IngestEvent``s (``features.async_ingest``).

The platform answers a queued add with ``{"status": "PENDING", "event_id": ...}`` and reports
it at ``GET /v1/event/{id}/``: ``{id, status: PENDING|RUNNING|SUCCEEDED|FAILED, results,
created_at, started_at, completed_at, payload}``. openmem's event id is the platform's with
the ``evt_`` prefix, the same id the queued record carries. The event names no user: the
owner is read from the openmem fields stored in the add's metadata, so another user's event
is ``not_found``.
"""

from __future__ import annotations

from typing import Any

from openmem.models import EventError, IngestEvent
from openmem.translation import OPENMEM_KEY

__all__ = ["event_owner", "ingest_event"]

_STATUSES = ("PENDING", "RUNNING", "SUCCEEDED", "FAILED")


def event_owner(raw: dict[str, Any]) -> tuple[str | None, str | None]:
    """(namespace, user_id) of the add an event belongs to, from its stored metadata."""
    payload = raw.get("payload") or {}
    metadata = payload.get("metadata") if isinstance(payload, dict) else None
    fields = metadata.get(OPENMEM_KEY) if isinstance(metadata, dict) else None
    if not isinstance(fields, dict):
        return None, None
    return fields.get("namespace"), fields.get("user_id")


def ingest_event(event_id: str, user_id: str, raw: dict[str, Any]) -> IngestEvent:
    """The ``IngestEvent`` of a platform event (``event_id`` with openmem's prefix)."""
    status = str(raw.get("status", "PENDING")).upper()
    if status not in _STATUSES:
        status = "PENDING"
    memory_ids = [
        str(r["id"]) for r in raw.get("results") or [] if isinstance(r, dict) and r.get("id")
    ]
    started = raw.get("started_at")
    return IngestEvent.model_validate(
        {
            "id": event_id,
            "user_id": user_id,
            "status": status,
            "created_at": raw.get("created_at"),
            "started_at": started,
            "finished_at": raw.get("completed_at"),
            "attempts": 1 if started or status in ("SUCCEEDED", "FAILED") else 0,
            "memory_ids": memory_ids,
            "error": EventError(code="provider_error", message="mem0 failed to ingest it")
            if status == "FAILED"
            else None,
        }
    )
