"""Client-chosen keys on PostgreSQL: the put (an upsert), get by key and delete by key.

Migration 30 adds ``memories.client_key`` and a partial unique index on
``(namespace, user_id, coalesce(scope, ''), client_key)``. A put is one
``INSERT ... ON CONFLICT DO UPDATE`` with its audit row in the same statement, so two puts of
one key at once serialise on the index (never two memories), and a cancelled put leaves the
old memory or the new one, never half of each.
"""

from __future__ import annotations

from openmem.errors import NotFoundError
from openmem.models import MemoryInput, MemoryKey, MemoryRecord, check_content_length
from openmem.provider import Caller
from openmem_postgres.rows import RECORD_COLUMNS, record_from_row
from openmem_postgres.runner import PROVIDER
from openmem_postgres.store import OpenStore, audit_id
from openmem_postgres.writes import audited_values

__all__ = ["KeyStatements", "delete_by_key", "get_by_key", "put"]

_AUDIT = (
    "INSERT INTO {s}.audit (namespace, id, user_id, action, memory_id, scope, app, request_id,"
    " details)"
)
# The unique index's own expression, so every lookup by key is an index scan.
_SAME_SLOT = "client_key = $3 AND coalesce(scope, '') = coalesce($4::text, '')"


class KeyStatements:
    """The SQL of the keyed verbs for one schema and embedding model."""

    def __init__(self, schema: str, model_literal: str) -> None:
        s = schema
        audit = _AUDIT.format(s=s)
        self.put = f"""
WITH put AS (
    INSERT INTO {s}.memories AS m (namespace, id, user_id, agent_id, session_id, scope, tags,
        source, metadata, extensions, confidence, valid_from, valid_to, supersedes, content,
        embedding, embedding_model, idempotency_key, client_key)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
        {model_literal}, $17, $21)
    ON CONFLICT (namespace, user_id, (coalesce(scope, '')), client_key)
        WHERE client_key IS NOT NULL
    DO UPDATE SET agent_id = EXCLUDED.agent_id, session_id = EXCLUDED.session_id,
        tags = EXCLUDED.tags, source = EXCLUDED.source, metadata = EXCLUDED.metadata,
        extensions = EXCLUDED.extensions, confidence = EXCLUDED.confidence,
        valid_from = EXCLUDED.valid_from, valid_to = EXCLUDED.valid_to,
        supersedes = EXCLUDED.supersedes, content = EXCLUDED.content,
        embedding = EXCLUDED.embedding, embedding_model = EXCLUDED.embedding_model,
        status = 'done', version = m.version + 1, updated_at = clock_timestamp()
    RETURNING {RECORD_COLUMNS}, (xmax = 0) AS inserted
), aud AS (
    {audit} SELECT $1, $18, $3, CASE WHEN put.inserted THEN 'add' ELSE 'update' END,
        put.id, put.scope, $19, $20, '{{}}'::jsonb FROM put
)
SELECT {RECORD_COLUMNS} FROM put"""
        self.get = f"""
WITH m AS (
    SELECT {RECORD_COLUMNS} FROM {s}.memories
    WHERE namespace = $1 AND user_id = $2 AND {_SAME_SLOT}
), aud AS (
    {audit} SELECT $1, $5, $2, 'get', m.id, m.scope, $6, $7, '{{}}'::jsonb FROM m
)
SELECT {RECORD_COLUMNS} FROM m"""
        self.delete = f"""
WITH del AS (
    DELETE FROM {s}.memories WHERE namespace = $1 AND user_id = $2 AND {_SAME_SLOT}
    RETURNING id, scope
), aud AS (
    {audit} SELECT $1, $5, $2, 'delete', del.id, del.scope, $6, $7, '{{}}'::jsonb FROM del
)
SELECT id FROM del"""


async def put(
    store: OpenStore, sql: KeyStatements, caller: Caller, item: MemoryInput
) -> MemoryRecord:
    """Insert the keyed memory, or replace the one with its key and scope (same id)."""
    check_content_length(item.content, store.options.max_content_length)
    (vector,) = await store.embed([item.content])
    row = await store.runner.fetchrow(sql.put, *audited_values(caller, item, vector), item.key)
    assert row is not None  # an upsert always returns its row
    store.grew(1)
    return record_from_row(row)


async def get_by_key(
    store: OpenStore, sql: KeyStatements, caller: Caller, where: MemoryKey
) -> MemoryRecord:
    """The caller's memory with this key and scope, its read audited."""
    row = await store.runner.fetchrow(
        sql.get, *_slot(caller, where), audit_id(), caller.app, caller.request_id
    )
    if row is None:
        raise _missing(where)
    return record_from_row(row)


async def delete_by_key(
    store: OpenStore, sql: KeyStatements, caller: Caller, where: MemoryKey
) -> None:
    """Delete the caller's memory with this key and scope, with its audit row."""
    deleted = await store.runner.fetchval(
        sql.delete, *_slot(caller, where), audit_id(), caller.app, caller.request_id
    )
    if deleted is None:
        raise _missing(where)


def _slot(caller: Caller, where: MemoryKey) -> tuple[str, str, str, str | None]:
    return (caller.namespace, caller.user_id, where.key, where.scope)


def _missing(where: MemoryKey) -> NotFoundError:
    return NotFoundError(
        f"no memory with key {where.key!r} in scope {where.scope!r} for this user",
        provider=PROVIDER,
    )
