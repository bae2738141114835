"""Applying the infer pipeline's decisions in one PostgreSQL transaction.

Every decision of one ``add(messages=..., infer=True)`` lands together or not at all: the
embeddings are computed first, then one transaction locks the memories the decisions are
about (``FOR UPDATE``), refuses with ``ConflictError`` if any changed since the pipeline read
it, and writes the memories and one audit row per write (details: the decision, the before
and after text, the model's reason, model and prompts). A cancellation anywhere rolls the
transaction back (``PooledRunner`` discards or resets the connection).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from openmem.errors import ConflictError
from openmem.llm.decisions import INFER_METADATA_KEY, Decision
from openmem.models import MemoryInput, MemoryRecord, check_content_length
from openmem.provider import Caller
from openmem_postgres.rows import RECORD_COLUMNS, record_from_row
from openmem_postgres.runner import PROVIDER, Connection
from openmem_postgres.store import OpenStore, audit_id
from openmem_postgres.writes import memory_values

__all__ = ["apply_decisions"]


async def apply_decisions(
    store: OpenStore, caller: Caller, decisions: Sequence[Decision]
) -> list[MemoryRecord]:
    """Write ``decisions`` (see ``openmem.llm.decisions``) atomically; returns what changed."""
    limit = store.options.max_content_length
    texts = [d.memory.content if d.memory is not None else d.content for d in decisions]
    for text in texts:
        if text is not None:
            check_content_length(text, limit)
    wanted = [t for t in texts if t is not None]
    vectors = iter(await store.embed(wanted) if wanted else [])
    embedded = [next(vectors) if t is not None else None for t in texts]
    sql = _Sql(store.statements.schema, store.statements.model_literal)

    async def op(conn: Connection) -> list[MemoryRecord]:
        written: list[MemoryRecord] = []
        async with conn.transaction():
            await _lock_unchanged(conn, sql, caller, decisions)
            for decision, vector in zip(decisions, embedded, strict=True):
                written.extend(await _apply(conn, sql, caller, decision, vector))
        return written

    written = await store.runner.run(op)
    store.grew(len(written))
    return written


class _Sql:
    def __init__(self, schema: str, model_literal: str) -> None:
        s = schema
        self.lock = (
            f"SELECT {RECORD_COLUMNS} FROM {s}.memories"
            " WHERE namespace = $1 AND user_id = $2 AND id = ANY($3::text[]) FOR UPDATE"
        )
        self.insert = f"""
INSERT INTO {s}.memories (namespace, id, user_id, agent_id, session_id, scope, tags, source,
    metadata, extensions, confidence, valid_from, valid_to, supersedes, content, embedding,
    embedding_model)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, {model_literal})
RETURNING {RECORD_COLUMNS}"""
        self.rewrite = f"""
UPDATE {s}.memories SET content = $4, embedding = $5, embedding_model = {model_literal},
    metadata = $6, version = version + 1, updated_at = clock_timestamp()
WHERE namespace = $1 AND user_id = $2 AND id = $3
RETURNING {RECORD_COLUMNS}"""
        self.retire = f"""
UPDATE {s}.memories SET valid_to = clock_timestamp(), version = version + 1,
    updated_at = clock_timestamp()
WHERE namespace = $1 AND user_id = $2 AND id = $3
RETURNING {RECORD_COLUMNS}"""
        self.audit = f"""
INSERT INTO {s}.audit (namespace, id, user_id, action, memory_id, scope, app, request_id,
    details)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb)"""


async def _lock_unchanged(
    conn: Connection,
    sql: _Sql,
    caller: Caller,
    decisions: Sequence[Decision],
) -> None:
    targets = {d.target.id: d.target for d in decisions if d.target is not None}
    if not targets:
        return
    rows = await conn.fetch(sql.lock, caller.namespace, caller.user_id, list(targets))
    current = {row["id"]: record_from_row(row) for row in rows}
    for target_id, seen in targets.items():
        now = current.get(target_id)
        if now is None or _version_of(now) != _version_of(seen):
            raise ConflictError(
                f"memory {target_id} changed while its conversation was inferred; retry",
                provider=PROVIDER,
            )


def _version_of(record: MemoryRecord) -> tuple[Any, ...]:
    return (record.content, record.updated_at, record.valid_to, record.valid_from)


async def _apply(
    conn: Connection,
    sql: _Sql,
    caller: Caller,
    decision: Decision,
    vector: list[float] | None,
) -> list[MemoryRecord]:
    target, item = decision.target, decision.memory
    written: list[MemoryRecord] = []
    if decision.event == "UPDATE" and target is not None:
        metadata = {**target.metadata, INFER_METADATA_KEY: decision.provenance.as_metadata()}
        row = await conn.fetchrow(
            sql.rewrite,
            caller.namespace,
            caller.user_id,
            target.id,
            decision.content,
            vector,
            metadata,
        )
        assert row is not None  # locked above
        updated = record_from_row(row)
        await _audit(conn, sql, caller, "update", updated, decision)
        written.append(updated)
    elif decision.event == "DELETE" and target is not None:
        row = await conn.fetchrow(sql.retire, caller.namespace, caller.user_id, target.id)
        assert row is not None  # locked above
        await _audit(conn, sql, caller, "update", record_from_row(row), decision)
    if item is not None:
        record = await _insert(conn, sql, caller, item, vector)
        await _audit(conn, sql, caller, "add", record, decision)
        written.append(record)
    elif decision.event == "NONE" and target is not None:
        await _audit(conn, sql, caller, "add", target, decision)
    return written


async def _insert(
    conn: Connection, sql: _Sql, caller: Caller, item: MemoryInput, vector: list[float] | None
) -> MemoryRecord:
    row = await conn.fetchrow(sql.insert, *memory_values(caller, item, vector))
    assert row is not None
    return record_from_row(row)


async def _audit(
    conn: Connection,
    sql: _Sql,
    caller: Caller,
    action: str,
    record: MemoryRecord,
    decision: Decision,
) -> None:
    await conn.execute(
        sql.audit,
        caller.namespace,
        audit_id(),
        caller.user_id,
        action,
        record.id,
        record.scope,
        caller.app,
        caller.request_id,
        decision.audit_details(),
    )
