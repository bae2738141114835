"""The write verbs: add, add_many, update, delete, forget_user.

Each write and its audit row are one statement (see ``queries``), so they commit together
or not at all, and a write cancelled at any point leaves nothing half done.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from openmem.errors import ConflictError, InvalidRequestError
from openmem.models import MemoryInput, MemoryPatch, MemoryRecord, check_content_length
from openmem.provider import Caller
from openmem_postgres.group_commit import AddArgs, AddGroups
from openmem_postgres.options import PostgresOptions
from openmem_postgres.queries import Statements
from openmem_postgres.replay import replayed_records
from openmem_postgres.rows import encode_vector, record_from_row
from openmem_postgres.runner import PROVIDER, PooledRunner
from openmem_postgres.store import OpenStore, audit_id, memory_id
from openmem_postgres.unnest_columns import column, json_column

__all__ = [
    "add",
    "add_groups",
    "add_many",
    "audited_values",
    "delete",
    "forget_user",
    "many_values",
    "memory_values",
    "source_json",
    "update",
]

_UPDATE_RETRIES = 5


async def add(store: OpenStore, caller: Caller, item: MemoryInput) -> MemoryRecord:
    """Insert the memory and its audit row in one statement (idempotent with a key)."""
    check_content_length(item.content, store.options.max_content_length)
    (vector,) = await store.embed([item.content])
    args = audited_values(caller, item, vector)
    row = await store.add_groups.submit(args)
    if row is not None:
        store.grew(1)
        return record_from_row(row)
    # The idempotency key is taken: the earlier add landed; hand back its record.
    assert item.idempotency_key is not None
    (existing,) = await replayed_records(store, caller, [item])
    return existing


def add_groups(
    runner: PooledRunner, sql: Statements, options: PostgresOptions, *, in_flight: int
) -> AddGroups:
    """Group commit of concurrent adds over ``sql.add`` (one) and ``sql.add_group`` (many)."""

    async def write_one(args: AddArgs) -> asyncpg.Record | None:
        return await runner.fetchrow(sql.add, *args)

    async def write_group(group: Sequence[AddArgs]) -> list[asyncpg.Record | None]:
        # The add arguments, column by column, in the order of ``sql.add_group``.
        (ns, ids, users, agents, sessions, scopes, tags, sources, metadata, extensions,
         confidence, valid_from, valid_to, supersedes, content, vectors, keys, audit_ids,
         apps, request_ids) = zip(*group, strict=True)  # fmt: skip
        rows = await runner.fetch(
            sql.add_group,
            ns,
            users,
            ids,
            column(agents),
            column(sessions),
            column(scopes),
            # Lists of lists would bind as 2-D arrays; each list goes as JSON text instead.
            json_column(tags, empty_is_null=True),
            json_column(sources, empty_is_null=False),
            json_column(metadata, empty_is_null=True),
            json_column(extensions, empty_is_null=True),
            column(confidence),
            column(valid_from),
            column(valid_to),
            json_column(supersedes, empty_is_null=True),
            content,
            [encode_vector(v) for v in vectors],
            column(keys),
            audit_ids,
            column(apps),
            column(request_ids),
            owned=True,  # awaited by the group's flush task, never by a caller
        )
        by_id = {row["id"]: row for row in rows}
        return [by_id.get(memory_id) for memory_id in ids]

    return AddGroups(
        limit=in_flight,
        max_rows=options.max_batch_size,
        write_one=write_one,
        write_group=write_group,
    )


async def add_many(
    store: OpenStore, caller: Caller, items: Sequence[MemoryInput]
) -> list[MemoryRecord]:
    """Embed the batch in one call and insert it (with audit rows) in one statement."""
    if not items:
        return []
    options = store.options
    if len(items) > options.max_batch_size:
        raise InvalidRequestError(
            f"a batch holds at most {options.max_batch_size} items", field="items"
        )
    for index, item in enumerate(items):
        check_content_length(
            item.content, options.max_content_length, field=f"items.{index}.content"
        )
    vectors = await store.embed([item.content for item in items])
    ids = [memory_id() for _ in items]
    rows = await store.runner.fetch(
        store.statements.add_many,
        *many_values(caller.namespace, caller.user_id, ids, items, vectors),
        caller.app,
        caller.request_id,
    )
    created = {row["id"]: record_from_row(row) for row in rows}
    store.grew(len(created))
    result: list[MemoryRecord | None] = [created.get(new_id) for new_id in ids]
    missing = [i for i, record in enumerate(result) if record is None]
    if missing:
        replays = await replayed_records(store, caller, [items[i] for i in missing])
        for index, record in zip(missing, replays, strict=True):
            result[index] = record
    return [record for record in result if record is not None]


async def update(
    store: OpenStore, caller: Caller, target_id: str, patch: MemoryPatch
) -> MemoryRecord:
    """Merge-patch with optimistic concurrency; record and audit row in one statement."""
    sql = store.statements
    changes = patch.changes()
    content = changes.get("content")
    if isinstance(content, str):
        check_content_length(content, store.options.max_content_length)
    vector = (await store.embed([content]))[0] if isinstance(content, str) else None
    for _ in range(_UPDATE_RETRIES):
        row = await store.runner.fetchrow(
            sql.get_for_update, caller.namespace, caller.user_id, target_id
        )
        if row is None:
            raise store.not_found(target_id)
        current = record_from_row(row)
        updated = patch.apply_to(current, now=current.created_at)
        source = updated.source.model_dump(exclude_none=True) if updated.source else None
        details = {"fields": sorted(changes)}
        new_row = await store.runner.fetchrow(
            sql.update,
            caller.namespace,
            caller.user_id,
            target_id,
            updated.content,
            vector,
            updated.scope,
            updated.tags,
            source,
            updated.metadata,
            updated.extensions,
            updated.confidence,
            updated.valid_from,
            updated.valid_to,
            updated.supersedes,
            updated.agent_id,
            updated.session_id,
            row["version"],
            audit_id(),
            caller.app,
            caller.request_id,
            details,
        )
        if new_row is not None:
            return record_from_row(new_row)
    raise ConflictError(
        "the memory kept changing while it was being updated; retry", provider=PROVIDER
    )


async def delete(store: OpenStore, caller: Caller, target_id: str) -> None:
    """Delete the memory and write its audit row in one statement."""
    deleted = await store.runner.fetchval(
        store.statements.delete,
        caller.namespace,
        caller.user_id,
        target_id,
        audit_id(),
        caller.app,
        caller.request_id,
    )
    if deleted is None:
        raise store.not_found(target_id)


async def forget_user(store: OpenStore, caller: Caller) -> int:
    """Delete every memory of the caller's user; the audit log keeps a count."""
    count = await store.runner.fetchval(
        store.statements.forget_user,
        caller.namespace,
        caller.user_id,
        audit_id(),
        caller.app,
        caller.request_id,
    )
    return int(count or 0)


def many_values(
    namespace: str,
    user_id: str,
    ids: Sequence[str],
    items: Sequence[MemoryInput],
    vectors: Sequence[Sequence[float]],
) -> tuple[Any, ...]:
    """``$1..$18`` of ``queries.add_many``: the items column by column (``unnest_columns``),
    each with its new id and vector and a new audit row id."""
    return (
        namespace,
        user_id,
        list(ids),
        column(i.agent_id for i in items),
        column(i.session_id for i in items),
        column(i.scope for i in items),
        # Lists of lists would bind as 2-D arrays; each list goes as JSON text instead.
        json_column((i.tags for i in items), empty_is_null=True),
        json_column((source_json(i) for i in items), empty_is_null=False),
        json_column((i.metadata for i in items), empty_is_null=True),
        json_column((i.extensions for i in items), empty_is_null=True),
        column(i.confidence for i in items),
        column(i.valid_from for i in items),
        column(i.valid_to for i in items),
        json_column((i.supersedes for i in items), empty_is_null=True),
        [i.content for i in items],
        [encode_vector(v) for v in vectors],
        column(i.idempotency_key for i in items),
        [audit_id() for _ in items],
    )


def memory_values(caller: Caller, item: MemoryInput, vector: list[float] | None) -> tuple[Any, ...]:
    """``$1..$16`` of every ``INSERT INTO memories``: namespace, a new id, user, the item's
    columns in table order, and its vector."""
    return (
        caller.namespace,
        memory_id(),
        caller.user_id,
        item.agent_id,
        item.session_id,
        item.scope,
        item.tags,
        source_json(item),
        item.metadata,
        item.extensions,
        item.confidence,
        item.valid_from,
        item.valid_to,
        item.supersedes,
        item.content,
        vector,
    )


def audited_values(caller: Caller, item: MemoryInput, vector: list[float]) -> tuple[Any, ...]:
    """``$1..$20`` of an add or a put (``queries.add``, ``keys.KeyStatements.put``): the
    ``memory_values``, then the idempotency key and the audit row's id, app and request id."""
    return (
        *memory_values(caller, item, vector),
        item.idempotency_key,
        audit_id(),
        caller.app,
        caller.request_id,
    )


def source_json(item: MemoryInput) -> dict[str, Any] | None:
    """The ``source`` column of ``item``: its fields that are set, or NULL."""
    return item.source.model_dump(exclude_none=True) if item.source is not None else None
