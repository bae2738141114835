"""The read verbs: get, list, search, context, audit.

A read and its audit row (when ``audit_reads`` is on) are one statement: one round trip
per verb. Every statement is bounded by namespace and user first.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from openmem.context import pack_context
from openmem.cursors import decode_cursor, encode_cursor
from openmem.errors import InvalidRequestError
from openmem.models import (
    AuditEntry,
    AuditQuery,
    ContextBlock,
    ContextQuery,
    ListQuery,
    MemoryPage,
    MemoryRecord,
    SearchHit,
    SearchMode,
    SearchQuery,
)
from openmem.provider import Caller
from openmem.scopes import scope_regex
from openmem_postgres.model_check import refuse_mixed_models
from openmem_postgres.queries import Params, graph_walk
from openmem_postgres.rows import (
    RECORD_COLUMNS,
    audit_from_row,
    hit_from_row,
    record_from_row,
)
from openmem_postgres.search_groups import SearchCall
from openmem_postgres.store import OpenStore, audit_id

__all__ = ["audit", "context", "get", "list_page", "search"]


async def get(
    store: OpenStore, caller: Caller, memory_id: str, *, audited: bool = True
) -> MemoryRecord:
    """The caller's memory, or ``NotFoundError`` (also for another user's id).

    ``audited=False``: no audit entry even with ``audit_reads`` (a lookup, not a read).
    """
    sql = store.statements
    if audited and store.options.audit_reads:
        row = await store.runner.fetchrow(
            sql.get,
            caller.namespace,
            caller.user_id,
            memory_id,
            audit_id(),
            caller.app,
            caller.request_id,
        )
    else:
        row = await store.runner.fetchrow(
            sql.get_unaudited, caller.namespace, caller.user_id, memory_id
        )
    if row is None:
        raise store.not_found(memory_id)
    return record_from_row(row)


async def list_page(store: OpenStore, caller: Caller, query: ListQuery) -> MemoryPage:
    """Newest first; keyset cursor; ``limit + 1`` rows fetched so no page is empty."""
    sql = store.statements
    _check_limit(query.limit, 500)
    p = Params([caller.namespace, caller.user_id])
    where = sql.filters(p, scope=query.scope, tags=query.tags)
    if query.since is not None:
        where += f" AND created_at >= {p(query.since)}"
    if query.until is not None:
        where += f" AND created_at < {p(query.until)}"
    if query.cursor is not None:
        created_at, last_id = decode_cursor(query.cursor)
        where += f" AND (created_at, id) < ({p(created_at)}, {p(last_id)})"
    page = (
        f"SELECT {RECORD_COLUMNS} FROM {sql.schema}.memories"
        f" WHERE namespace = $1 AND user_id = $2{where}"
        f" ORDER BY created_at DESC, id DESC LIMIT {p(query.limit + 1)}"
    )
    if store.options.audit_reads:
        audit_cte = sql.audit_row(
            p,
            action="list",
            details="jsonb_build_object('results', (SELECT count(*) FROM page))",
            audit_id=audit_id(),
            scope=query.scope,
            app=caller.app,
            request_id=caller.request_id,
        )
        statement = (
            f"WITH page AS ({page}), aud AS ({audit_cte})"
            f" SELECT {RECORD_COLUMNS} FROM page ORDER BY created_at DESC, id DESC"
        )
    else:
        statement = page
    rows = await store.runner.fetch(statement, *p.values)
    items = [record_from_row(row) for row in rows[: query.limit]]
    next_cursor = None
    if len(rows) > query.limit:
        last = items[-1]
        next_cursor = encode_cursor(last.created_at, last.id)
    return MemoryPage(items=items, next_cursor=next_cursor)


async def search(store: OpenStore, caller: Caller, query: SearchQuery) -> list[SearchHit]:
    """Semantic (HNSW cosine), keyword (tsvector) or hybrid (RRF) search in one statement."""
    return await _hits(
        store,
        caller,
        query.query,
        mode=query.mode or store.options.search_mode,
        scope=query.scope,
        tags=query.tags,
        filters=query.filters,
        limit=query.limit,
        min_score=query.min_score,
        include_inactive=query.include_inactive,
        action="search",
    )


async def context(store: OpenStore, caller: Caller, query: ContextQuery) -> ContextBlock:
    """The best active memories for the query, packed by ``pack_context``."""
    hits = await _hits(
        store,
        caller,
        query.query,
        mode=store.options.search_mode,
        scope=query.scope,
        tags=query.tags,
        filters={},
        limit=query.limit,
        min_score=None,
        include_inactive=False,
        action="context",
    )
    return pack_context(hits, query.token_budget)


async def _hits(
    store: OpenStore,
    caller: Caller,
    text: str,
    *,
    mode: SearchMode,
    scope: str | None,
    tags: list[str],
    filters: dict[str, Any],
    limit: int,
    min_score: float | None,
    include_inactive: bool,
    action: str,
) -> list[SearchHit]:
    _check_limit(limit, 100)
    vector: list[float] | None = None
    if mode != "keyword":
        await refuse_mixed_models(store, caller)
        (vector,) = await store.embed([text])
    read_id = audit_id()
    single = partial(
        _statement,
        store,
        caller,
        text,
        vector,
        mode=mode,
        scope=scope,
        tags=tags,
        filters=filters,
        limit=limit,
        min_score=min_score,
        include_inactive=include_inactive,
        action=action,
        read_id=read_id,
    )
    if vector is not None and mode == "semantic" and not filters:
        # Concurrent searches of this shape are answered together (``search_groups``);
        # the single statement is only assembled for a search that runs alone.
        rows = await store.search_groups.submit(
            SearchCall(
                single=single,
                namespace=caller.namespace,
                user_id=caller.user_id,
                vector=vector,
                limit=limit,
                min_score=min_score or 0.0,
                scope_regex=None if scope is None else scope_regex(scope),
                tags=tags,
                active_only=not include_inactive,
                audit_id=read_id,
                action=action,
                scope=scope,
                app=caller.app,
                request_id=caller.request_id,
            )
        )
    else:
        statement, args = single()
        rows = await store.runner.fetch(statement, *args)
    return [hit_from_row(row) for row in rows]


def _statement(
    store: OpenStore,
    caller: Caller,
    text: str,
    vector: list[float] | None,
    *,
    mode: SearchMode,
    scope: str | None,
    tags: list[str],
    filters: dict[str, Any],
    limit: int,
    min_score: float | None,
    include_inactive: bool,
    action: str,
    read_id: str,
) -> tuple[str, list[Any]]:
    """One search's own statement (``Statements.search``) and its arguments."""
    sql = store.statements
    p = Params([caller.namespace, caller.user_id])
    vector_param = None if vector is None else p(vector)
    text_param = None if mode == "semantic" else p(text)
    where = sql.filters(
        p, scope=scope, tags=tags, metadata=filters, active_only=not include_inactive
    )
    depth = limit if mode == "semantic" else min(max(limit * 3, 30), 300)
    audit_cte = None
    if store.options.audit_reads:
        audit_cte = sql.audit_row(
            p,
            action=action,
            details=(
                f"jsonb_build_object('mode', {p(mode)}::text,"
                " 'results', (SELECT count(*) FROM hits))"
            ),
            audit_id=read_id,
            scope=scope,
            app=caller.app,
            request_id=caller.request_id,
        )
    statement = sql.search(
        p,
        mode=mode,
        vector_param=vector_param,
        text_param=text_param,
        filters=where,
        active_only=not include_inactive,
        limit=p(limit),
        depth=p(depth),
        walk=graph_walk(depth),
        min_score=p(min_score or 0.0),
        audit=audit_cte,
    )
    return statement, p.values


async def audit(store: OpenStore, caller: Caller, query: AuditQuery) -> list[AuditEntry]:
    """The caller's audit entries, newest first."""
    _check_limit(query.limit, 1000)
    p = Params([caller.namespace, caller.user_id])
    where = ""
    if query.app is not None:
        where += f" AND app = {p(query.app)}"
    if query.action is not None:
        where += f" AND action = {p(query.action)}"
    if query.since is not None:
        where += f" AND ts >= {p(query.since)}"
    statement = (
        "SELECT id, ts, user_id, action, memory_id, scope, app, request_id, details"
        f" FROM {store.statements.schema}.audit WHERE namespace = $1 AND user_id = $2{where}"
        f" ORDER BY ts DESC, id DESC LIMIT {p(query.limit)}"
    )
    rows = await store.runner.fetch(statement, *p.values)
    return [audit_from_row(row) for row in rows]


def _check_limit(limit: int, maximum: int) -> None:
    # The request models enforce this already; a provider called directly must too.
    if not isinstance(limit, int) or not 1 <= limit <= maximum:
        raise InvalidRequestError(f"limit must be between 1 and {maximum}", field="limit")
