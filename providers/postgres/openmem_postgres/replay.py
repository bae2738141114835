"""Idempotent adds: hand back the stored record when an idempotency key was already used.

An add whose key is taken inserts nothing (``ON CONFLICT DO NOTHING``); the earlier add
landed, so its record is the answer, unless the content differs (a client bug, refused).
"""

from __future__ import annotations

from collections.abc import Sequence

from openmem.errors import ConflictError
from openmem.models import MemoryInput, MemoryRecord
from openmem.provider import Caller
from openmem_postgres.rows import record_from_row
from openmem_postgres.runner import PROVIDER
from openmem_postgres.store import OpenStore

__all__ = ["replayed_records"]


async def replayed_records(
    store: OpenStore, caller: Caller, items: Sequence[MemoryInput]
) -> list[MemoryRecord]:
    """The stored records of ``items`` whose idempotency key was already used, in order."""
    keys = [item.idempotency_key for item in items]
    rows = await store.runner.fetch(
        store.statements.by_idempotency_keys, caller.namespace, caller.user_id, keys
    )
    by_key = {row["idempotency_key"]: row for row in rows}
    records = []
    for item in items:
        row = by_key.get(item.idempotency_key)
        if row is None:
            # Only possible if the first record was deleted between the two statements.
            raise ConflictError(
                "the idempotency key was used by a memory that no longer exists",
                provider=PROVIDER,
                field="idempotency_key",
            )
        if row["stored_content"] != item.content:
            raise ConflictError(
                "the idempotency key was already used for different content",
                provider=PROVIDER,
                field="idempotency_key",
            )
        records.append(record_from_row(row))
    return records
