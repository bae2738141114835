"""``Mem0Provider``: mem0 behind openmem's verb set, on bounded worker threads.

Every mem0 call is synchronous (the OSS ``Memory``, or the platform ``MemoryClient``), so
each runs on the provider's own ``Offloader``: a cancelled caller is released at once, the
thread's result is dropped, and abandoned threads are counted and capped. What mem0 leaves
to its caller, the adapter does on every call: isolation by namespace and user (by-id verbs
included: ``mem0.get(id)`` answers for any user), scope/tag/metadata filters, validity and
supersession, full result pages, newest-first keyset pagination and idempotent writes.
"""

from __future__ import annotations

import asyncio
import builtins
import importlib
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

import anyio.to_thread
import httpx

from openmem.cursors import decode_cursor
from openmem.errors import (
    ConflictError,
    IngestionTimeoutError,
    InvalidRequestError,
    NotFoundError,
    OMPError,
    ProviderError,
    ProviderUnavailableError,
    RateLimitedError,
)
from openmem.matching import matches_search, page_of
from openmem.models import (
    VERBS,
    Capabilities,
    CapabilityFeatures,
    ListQuery,
    MemoryInput,
    MemoryPage,
    MemoryPatch,
    MemoryRecord,
    SearchHit,
    SearchQuery,
)
from openmem.offload import Offloader, OffloadStats
from openmem.provider import Caller, Provider
from openmem_mem0._backend import Mem0Backend, RawMemory
from openmem_mem0._env import prepare_mem0_environment
from openmem_mem0._options import Mem0Options
from openmem_mem0._records import (
    IDEMPOTENCY_KEY,
    OPENMEM_KEY,
    REF_KEY,
    fields_of_input,
    fields_of_record,
    input_digest,
    is_uuid,
    openmem_fields,
    record_from_raw,
    superseded_marker,
    user_key,
)

__all__ = ["Mem0Provider"]

T = TypeVar("T")

_SEARCH_CAP = 1_000  # the widest top_k asked of mem0 while refilling a filtered page
_PENDING_PREFIX = "evt_"


class Mem0Provider(Provider[Mem0Options]):
    """mem0 OSS (thread tier) or the mem0 platform, behaving like every other provider.

    >>> async with AsyncMemory("mem0", data_dir="/tmp/m") as mem:
    ...     await mem.add("prefers dark mode", user_id="u1")

    ``transport`` (platform mode, tests) is an ``httpx`` transport for the platform client,
    e.g. a local contract fake.
    """

    name: ClassVar[str] = "mem0"
    Options = Mem0Options

    def __init__(
        self,
        options: Mem0Options | None = None,
        /,
        *,
        transport: httpx.BaseTransport | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(options, **kwargs)
        self._transport = transport
        self._embedder = self.options.build_embedder()
        self._backend: Mem0Backend | None = None
        self._offload: Offloader | None = None
        self._open_lock = asyncio.Lock()

    # -- lifecycle ---------------------------------------------------------------------

    async def open(self) -> None:
        async with self._open_lock:
            if self._backend is not None:
                return
            options = self.options
            platform = options.mode == "platform"
            offload = Offloader(
                f"mem0-{options.collection}",
                max_workers=options.max_workers,
                max_abandoned=options.max_abandoned,
                gil_switch_interval=options.gil_switch_interval,
                # Embedded qdrant/faiss are not thread-safe (peers.md §0, bugs 1 and 2).
                serialize=not platform and options.vector_store != "pgvector",
            )
            backend: Mem0Backend
            try:
                prepare_mem0_environment(options.resolved_data_dir())
                if platform:
                    module = await offload.run(importlib.import_module, "openmem_mem0._platform")
                    backend = module.Mem0PlatformBackend(options, self._transport)
                else:
                    module = await offload.run(importlib.import_module, "openmem_mem0._oss")
                    backend = module.Mem0OSSBackend(
                        options, self._embedder, asyncio.get_running_loop()
                    )
                # The platform client pings the API in its constructor: never on the loop.
                await offload.run(backend.open)
                if not platform:
                    # mem0 imports its scoring and NLP helpers on the first search; an import
                    # holds the GIL for long stretches, so pay for it here, not under load.
                    await offload.run(backend.search, "_:_warmup", "warm up", 1, 0.0)
            except BaseException as exc:
                await offload.aclose(options.close_grace)
                if isinstance(exc, OMPError | asyncio.CancelledError):
                    raise
                if isinstance(exc, Exception):
                    # Whatever the cause (a bad key, an unreachable store, a locked directory),
                    # the backend cannot be brought up: retryable once the cause is fixed.
                    raise ProviderUnavailableError(
                        f"mem0 could not be opened: {type(exc).__name__}: {exc}", provider=self.name
                    ) from exc
                raise
            self._offload = offload
            self._backend = backend

    async def close(self) -> None:
        offload, self._offload = self._offload, None
        backend, self._backend = self._backend, None
        if offload is not None:
            await offload.aclose(self.options.close_grace)
        if backend is not None:
            # The offloader is closed; anyio's own threads, never the loop's default executor.
            await anyio.to_thread.run_sync(backend.close)
        await self._embedder.aclose()

    async def health(self) -> None:
        await self._call(lambda backend: backend.list_all(user_key(Caller("_", "_health"))))

    def offload_stats(self) -> OffloadStats:
        """Worker thread counters: running, abandoned (cancelled but still running), totals."""
        if self._offload is None:
            raise ProviderUnavailableError("the mem0 provider is not open", provider=self.name)
        return self._offload.stats()

    @property
    def backend(self) -> Mem0Backend:
        """The blocking backend (``Mem0OSSBackend`` or ``Mem0PlatformBackend``)."""
        if self._backend is None:
            raise ProviderUnavailableError("the mem0 provider is not open", provider=self.name)
        return self._backend

    async def capabilities(self) -> Capabilities:
        platform = self.options.mode == "platform"
        return Capabilities(
            provider=self.name,
            verbs=[v for v in VERBS if v != "audit"],
            features=CapabilityFeatures(
                vector_search=True,
                temporal=True,
                scopes="native",
                supports_supersession=True,
                metadata_filters=True,
                idempotency=True,
                batch_add=True,
                forget_user=True,
                async_ingestion=platform and self.options.async_mode,
                cancellation="thread",
            ),
        )

    # -- writes ------------------------------------------------------------------------

    async def add(self, caller: Caller, item: MemoryInput) -> MemoryRecord:
        user = user_key(caller)
        now = datetime.now(UTC)
        fields = fields_of_input(caller, item, self._embedding_model())
        fields["input_sha256"] = input_digest(item.content)
        metadata: dict[str, Any] = {OPENMEM_KEY: fields, REF_KEY: uuid.uuid4().hex}
        if item.idempotency_key is not None:
            metadata[IDEMPOTENCY_KEY] = item.idempotency_key
        if self.options.mode == "oss":
            metadata["created_at"] = now.isoformat()
        infer = bool(item.extensions.get("x-mem0", {}).get("infer", self.options.infer))

        def work(backend: Mem0Backend) -> list[RawMemory]:
            if item.idempotency_key is not None:
                existing = backend.find(user, IDEMPOTENCY_KEY, item.idempotency_key)
                if existing is not None:
                    if openmem_fields(existing).get("input_sha256") != fields["input_sha256"]:
                        raise ConflictError(
                            "idempotency_key was already used for different content",
                            field="idempotency_key",
                            provider=self.name,
                        )
                    return [existing]
            results = backend.create(user, item.content, metadata, infer)
            created = [r for r in results if r.get("id")]
            for old_id in item.supersedes:
                self._mark_superseded(backend, user, old_id, created)
            return results

        # Keyed: a retry after a cancelled add waits for the abandoned write, then finds it.
        key = (user, item.idempotency_key) if item.idempotency_key else None
        results = await self._call(work, key=key)
        if not results:
            raise ProviderError("mem0 stored nothing for this content", provider=self.name)
        first = results[0]
        if "status" in first and not first.get("id"):
            return self._queued_record(caller, item, fields, first, now)
        if "metadata" in first:  # an existing record found by its idempotency key
            return record_from_raw(caller, first)
        raw = {
            "id": first["id"],
            "memory": first.get("memory") or item.content,
            "metadata": metadata,
            "created_at": now.isoformat(),
        }
        record = record_from_raw(caller, raw)
        if infer and len(results) > 1:
            also = [r["id"] for r in results[1:] if r.get("id")]
            return record.model_copy(update={"x-mem0": {"inferred_ids": also}})
        return record

    @staticmethod
    def _mark_superseded(
        backend: Mem0Backend, user: str, old_id: str, created: list[RawMemory]
    ) -> None:
        if not is_uuid(old_id):
            return
        old = backend.get(old_id)
        if old is None or old.get("user_id") != user or not created:
            return
        fields = openmem_fields(old)
        fields["superseded_by"] = str(created[0]["id"])
        backend.update(old_id, None, {OPENMEM_KEY: fields})

    def _queued_record(
        self,
        caller: Caller,
        item: MemoryInput,
        fields: dict[str, Any],
        event: RawMemory,
        now: datetime,
    ) -> MemoryRecord:
        data = {k: v for k, v in fields.items() if k not in {"namespace", "input_sha256"}}
        data.update(
            id=f"{_PENDING_PREFIX}{event.get('event_id')}",
            content=item.content,
            user_id=caller.user_id,
            created_at=now,
            status="queued",
        )
        data["x-mem0"] = {"event_id": event.get("event_id"), "status": event.get("status")}
        return MemoryRecord.model_validate(data)

    async def update(self, caller: Caller, memory_id: str, patch: MemoryPatch) -> MemoryRecord:
        user = user_key(caller)

        def work(backend: Mem0Backend) -> RawMemory:
            raw = self._owned(backend, user, memory_id)
            current = record_from_raw(caller, raw)
            updated = patch.apply_to(current, now=datetime.now(UTC))
            previous = openmem_fields(raw)
            fields = fields_of_record(caller, updated, previous)
            content = updated.content if updated.content != current.content else None
            backend.update(memory_id, content, {OPENMEM_KEY: fields})
            return self._owned(backend, user, memory_id)

        return record_from_raw(caller, await self._call(work))

    async def delete(self, caller: Caller, memory_id: str) -> None:
        user = user_key(caller)

        def work(backend: Mem0Backend) -> None:
            self._owned(backend, user, memory_id)
            backend.delete(memory_id)

        await self._call(work)

    async def forget_user(self, caller: Caller) -> int:
        user = user_key(caller)

        def work(backend: Mem0Backend) -> int:
            deleted = 0
            # Re-list until empty: mem0's own delete_all reports success it did not have.
            for _ in range(3):
                rows = backend.list_all(user)
                if not rows:
                    break
                for raw in rows:
                    if raw.get("user_id", user) == user:
                        backend.delete(str(raw["id"]))
                        deleted += 1
            return deleted

        return await self._call(work)

    # -- reads -------------------------------------------------------------------------

    async def get(self, caller: Caller, memory_id: str) -> MemoryRecord:
        user = user_key(caller)
        if self.options.mode == "platform" and memory_id.startswith(_PENDING_PREFIX):
            return await self._resolve_pending(caller, memory_id)
        raw = await self._call(lambda backend: self._owned(backend, user, memory_id))
        return record_from_raw(caller, raw)

    async def list(self, caller: Caller, query: ListQuery) -> MemoryPage:
        if query.cursor:
            decode_cursor(query.cursor)  # a malformed cursor fails before any backend call
        user = user_key(caller)

        def work(backend: Mem0Backend) -> MemoryPage:
            return page_of(
                (record_from_raw(caller, r) for r in backend.list_all(user) if _owns(r, user)),
                query,
            )

        return await self._call(work)

    async def search(self, caller: Caller, query: SearchQuery) -> builtins.list[SearchHit]:
        user = user_key(caller)

        def work(backend: Mem0Backend) -> builtins.list[SearchHit]:
            # Ranking, filtering and record building run here, on the worker thread: the
            # event loop only receives the finished hits.
            top_k = min(max(query.limit * 3, 30), _SEARCH_CAP)
            while True:
                rows = backend.search(user, query.query, top_k, 0.0)
                hits = self._filter_hits(caller, user, rows, query)
                if len(hits) >= query.limit or len(rows) < top_k or top_k >= _SEARCH_CAP:
                    return hits[: query.limit]
                top_k = min(top_k * 4, _SEARCH_CAP)  # filters ate the page: ask for more

        return await self._call(work)

    @staticmethod
    def _filter_hits(
        caller: Caller, user: str, rows: builtins.list[RawMemory], query: SearchQuery
    ) -> builtins.list[SearchHit]:
        now = datetime.now(UTC)
        candidates = [(r, record_from_raw(caller, r)) for r in rows if _owns(r, user)]
        candidates = [(r, rec) for r, rec in candidates if matches_search(rec, query)]
        if not query.include_inactive:
            superseded = {i for _, rec in candidates for i in rec.supersedes}
            candidates = [
                (r, rec)
                for r, rec in candidates
                if rec.is_active(now) and rec.id not in superseded and not superseded_marker(r)
            ]
        hits = []
        for raw, record in candidates:
            score = min(1.0, max(0.0, float(raw.get("score") or 0.0)))
            if query.min_score is None or score >= query.min_score:
                hits.append(SearchHit(memory=record, score=score))
        hits.sort(key=lambda h: (-h.score, h.memory.id))
        return hits

    async def history(self, caller: Caller, memory_id: str) -> builtins.list[RawMemory]:
        """mem0's change history of one of the caller's memories (ADD / UPDATE / DELETE)."""
        user = user_key(caller)

        def work(backend: Mem0Backend) -> builtins.list[RawMemory]:
            self._owned(backend, user, memory_id)
            return backend.history(memory_id)

        return await self._call(work)

    # -- platform ingestion ------------------------------------------------------------

    async def wait_for_ingest(
        self, caller: Caller, record: MemoryRecord, *, deadline: float | None = None
    ) -> MemoryRecord:
        """The stored record once a queued add (``status="queued"``) has been processed.

        Polls the platform's event until it succeeds; ``IngestionTimeoutError`` after
        ``deadline`` seconds (``ingest_timeout`` by default), ``ProviderError`` if it failed.
        """
        if record.status != "queued":
            return record
        limit = deadline if deadline is not None else self.options.ingest_timeout
        try:
            with anyio.fail_after(limit):
                while True:
                    resolved = await self._try_resolve(caller, record.id)
                    if resolved is not None:
                        return resolved
                    await anyio.sleep(self.options.ingest_poll_interval)
        except TimeoutError:
            raise IngestionTimeoutError(
                f"memory {record.id!r} was not ingested within {limit:.1f}s", provider=self.name
            ) from None

    async def _resolve_pending(self, caller: Caller, memory_id: str) -> MemoryRecord:
        resolved = await self._try_resolve(caller, memory_id)
        if resolved is None:
            raise NotFoundError(
                f"memory {memory_id!r} is still being ingested (see wait_for_ingest)",
                provider=self.name,
            )
        return resolved

    async def _try_resolve(self, caller: Caller, pending_id: str) -> MemoryRecord | None:
        event_id = pending_id.removeprefix(_PENDING_PREFIX)
        user = user_key(caller)

        def work(backend: Mem0Backend) -> RawMemory | None:
            event = backend.event(event_id)  # type: ignore[attr-defined]
            if event is None:
                raise NotFoundError(f"memory {pending_id!r} not found", provider=self.name)
            status = str(event.get("status", "")).upper()
            if status == "FAILED":
                raise ProviderError(f"mem0 failed to ingest {pending_id!r}", provider=self.name)
            if status != "SUCCEEDED":
                return None
            for result in event.get("results") or []:
                memory_id = result.get("id") if isinstance(result, dict) else None
                raw = backend.get(str(memory_id)) if memory_id else None
                if raw is not None and _owns(raw, user):
                    return raw
            # The result shape of an event is undocumented: find the memory by its event.
            for raw in backend.list_all(user):
                if (raw.get("metadata") or {}).get(REF_KEY) == event.get("ref"):
                    return raw
            raise NotFoundError(f"memory {pending_id!r} not found", provider=self.name)

        raw = await self._call(work)
        return None if raw is None else record_from_raw(caller, raw)

    # -- internals ---------------------------------------------------------------------

    def _embedding_model(self) -> str | None:
        return self._embedder.model if self.options.mode == "oss" else None

    def _owned(self, backend: Mem0Backend, user: str, memory_id: str) -> RawMemory:
        raw = backend.get(memory_id) if is_uuid(memory_id) else None
        if raw is None or not _owns(raw, user):
            raise NotFoundError(f"memory {memory_id!r} not found", provider=self.name)
        return raw

    async def _call(
        self, work: Callable[[Mem0Backend], T], *, key: tuple[str, str] | None = None
    ) -> T:
        offload, backend = self._offload, self._backend
        if offload is None or backend is None:
            raise ProviderUnavailableError("the mem0 provider is not open", provider=self.name)
        try:
            return await offload.run_keyed(key, work, backend)
        except (OMPError, asyncio.CancelledError):
            raise
        except Exception as exc:
            raise _mapped(exc) from exc


def _owns(raw: RawMemory, user: str) -> bool:
    return raw.get("user_id") == user


def _mapped(exc: Exception) -> OMPError:
    """The openmem error for an exception raised by mem0 or its drivers."""
    name = type(exc).__name__
    module = type(exc).__module__
    if name == "MemoryNotFoundError" or (isinstance(exc, ValueError) and "not found" in str(exc)):
        # Also mem0 OSS's ValueError when a memory vanished between our check and its call.
        return NotFoundError("memory not found", provider="mem0")
    if name == "RateLimitError":
        return RateLimitedError(f"mem0 rate limit: {exc}", provider="mem0")
    if name in {"NetworkError", "OperationalError", "PoolTimeout", "ConnectError"} or (
        isinstance(exc, httpx.TransportError | ConnectionError | TimeoutError)
    ):
        return ProviderUnavailableError(f"mem0 is unavailable: {exc}", provider="mem0")
    if name == "ValidationError" and module.startswith("mem0"):
        return InvalidRequestError(f"mem0 refused the request: {exc}", provider="mem0")
    return ProviderError(f"mem0 failed: {name}: {exc}", provider="mem0")
