"""``PowermemProvider``: powermem behind openmem's verb set, on bounded worker threads.

powermem's ``Memory`` is synchronous and does not require a user: ``search`` without one
returns every user's memories, ``get`` without one answers for any id. The adapter passes
the caller's (namespace-qualified) user on every call *and* checks ownership of every row it
returns, so isolation does not depend on powermem's defaults.
"""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

import anyio.to_thread

from openmem.cursors import decode_cursor
from openmem.errors import (
    ConflictError,
    NotFoundError,
    OMPError,
    ProviderError,
    ProviderUnavailableError,
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
from openmem_powermem._backend import PowermemBackend, RawMemory
from openmem_powermem._options import PowermemOptions
from openmem_powermem._records import (
    IDEMPOTENCY_KEY,
    OPENMEM_KEY,
    fields_of_input,
    fields_of_record,
    input_digest,
    is_powermem_id,
    openmem_fields,
    record_from_raw,
    superseded_marker,
    user_key,
)

__all__ = ["PowermemProvider"]

T = TypeVar("T")
_SEARCH_CAP = 1_000


class PowermemProvider(Provider[PowermemOptions]):
    """powermem (SQLite store, offline) behaving like every other provider.

    >>> async with AsyncMemory("powermem", data_dir="/tmp/pm") as mem:
    ...     await mem.add("prefers dark mode", user_id="u1")
    """

    name: ClassVar[str] = "powermem"
    Options = PowermemOptions

    def __init__(self, options: PowermemOptions | None = None, /, **kwargs: Any) -> None:
        super().__init__(options, **kwargs)
        self._embedder = self.options.build_embedder()
        self._backend: PowermemBackend | None = None
        self._offload: Offloader | None = None
        self._open_lock = asyncio.Lock()

    # -- lifecycle ---------------------------------------------------------------------

    async def open(self) -> None:
        async with self._open_lock:
            if self._backend is not None:
                return
            options = self.options
            offload = Offloader(
                f"powermem-{options.collection}",
                max_workers=options.max_workers,
                max_abandoned=options.max_abandoned,
                gil_switch_interval=options.gil_switch_interval,
                serialize=options.serialize,
            )
            backend = PowermemBackend(options, self._embedder, asyncio.get_running_loop())
            try:
                await offload.run(backend.open)  # imports powermem (~2 s) off the loop too
            except BaseException as exc:
                await offload.aclose(options.close_grace)
                if isinstance(exc, Exception) and not isinstance(exc, OMPError):
                    raise ProviderUnavailableError(
                        f"powermem failed to open: {exc}", provider=self.name
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
            await anyio.to_thread.run_sync(backend.close)
        await self._embedder.aclose()

    def offload_stats(self) -> OffloadStats:
        """Worker thread counters: running, abandoned (cancelled but still running), totals."""
        if self._offload is None:
            raise ProviderUnavailableError("the powermem provider is not open", provider=self.name)
        return self._offload.stats()

    @property
    def backend(self) -> PowermemBackend:
        """The blocking backend around ``powermem.Memory``."""
        if self._backend is None:
            raise ProviderUnavailableError("the powermem provider is not open", provider=self.name)
        return self._backend

    async def capabilities(self) -> Capabilities:
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
                cancellation="thread",
            ),
        )

    # -- writes ------------------------------------------------------------------------

    async def add(self, caller: Caller, item: MemoryInput) -> MemoryRecord:
        user = user_key(caller)
        fields = fields_of_input(caller, item, self._embedder.model)
        fields["input_sha256"] = input_digest(item.content)
        metadata: dict[str, Any] = {OPENMEM_KEY: fields}
        if item.idempotency_key is not None:
            metadata[IDEMPOTENCY_KEY] = item.idempotency_key
        infer = bool(item.extensions.get("x-powermem", {}).get("infer", self.options.infer))

        def work(backend: PowermemBackend) -> RawMemory:
            if item.idempotency_key is not None:
                found = backend.list_all(user, {IDEMPOTENCY_KEY: item.idempotency_key})
                if found:
                    if openmem_fields(found[0]).get("input_sha256") != fields["input_sha256"]:
                        raise ConflictError(
                            "idempotency_key was already used for different content",
                            field="idempotency_key",
                            provider=self.name,
                        )
                    return found[0]
            results = [r for r in backend.create(user, item.content, metadata, infer) if "id" in r]
            if not results:
                raise ProviderError("powermem stored nothing for this content", provider=self.name)
            for old_id in item.supersedes:
                _mark_superseded(backend, user, old_id, str(results[0]["id"]))
            return results[0]

        key = (user, item.idempotency_key) if item.idempotency_key else None
        raw = await self._call(work, key=key)
        return record_from_raw(caller, _stringified(raw))

    async def update(self, caller: Caller, memory_id: str, patch: MemoryPatch) -> MemoryRecord:
        user = user_key(caller)

        def work(backend: PowermemBackend) -> RawMemory:
            raw = _owned(backend, user, memory_id)
            current = record_from_raw(caller, _stringified(raw))
            updated = patch.apply_to(current, now=datetime.now(UTC))
            fields = fields_of_record(caller, updated, openmem_fields(raw))
            backend.update(int(memory_id), user, updated.content, {OPENMEM_KEY: fields})
            return _owned(backend, user, memory_id)

        return record_from_raw(caller, _stringified(await self._call(work)))

    async def delete(self, caller: Caller, memory_id: str) -> None:
        user = user_key(caller)

        def work(backend: PowermemBackend) -> None:
            _owned(backend, user, memory_id)
            if not backend.delete(int(memory_id), user):
                raise NotFoundError(f"memory {memory_id!r} not found", provider=self.name)

        await self._call(work)

    async def forget_user(self, caller: Caller) -> int:
        user = user_key(caller)

        def work(backend: PowermemBackend) -> int:
            deleted = 0
            for raw in backend.list_all(user):
                if raw.get("user_id") == user and backend.delete(int(raw["id"]), user):
                    deleted += 1
            return deleted

        return await self._call(work)

    # -- reads -------------------------------------------------------------------------

    async def get(self, caller: Caller, memory_id: str) -> MemoryRecord:
        user = user_key(caller)
        raw = await self._call(lambda backend: _owned(backend, user, memory_id))
        return record_from_raw(caller, _stringified(raw))

    async def list(self, caller: Caller, query: ListQuery) -> MemoryPage:
        if query.cursor:
            decode_cursor(query.cursor)  # a malformed cursor fails before any backend call
        user = user_key(caller)

        # Records are built and filtered on the worker thread; the loop gets the page.
        def work(backend: PowermemBackend) -> MemoryPage:
            rows = backend.list_all(user)
            return page_of(
                (
                    record_from_raw(caller, _stringified(r))
                    for r in rows
                    if r.get("user_id") == user
                ),
                query,
            )

        return await self._call(work)

    async def search(self, caller: Caller, query: SearchQuery) -> builtins.list[SearchHit]:
        user = user_key(caller)

        def work(backend: PowermemBackend) -> builtins.list[SearchHit]:
            top_k = min(max(query.limit * 3, 30), _SEARCH_CAP)
            while True:
                rows = backend.search(user, query.query, top_k)
                hits = _filter_hits(caller, user, rows, query)
                if len(hits) >= query.limit or len(rows) < top_k or top_k >= _SEARCH_CAP:
                    return hits[: query.limit]
                top_k = min(top_k * 4, _SEARCH_CAP)  # filters ate the page: ask for more

        return await self._call(work)

    # -- internals ---------------------------------------------------------------------

    async def _call(
        self, work: Callable[[PowermemBackend], T], *, key: tuple[str, str] | None = None
    ) -> T:
        offload, backend = self._offload, self._backend
        if offload is None or backend is None:
            raise ProviderUnavailableError("the powermem provider is not open", provider=self.name)
        try:
            return await offload.run_keyed(key, work, backend)
        except (OMPError, asyncio.CancelledError):
            raise
        except Exception as exc:
            raise ProviderError(
                f"powermem failed: {type(exc).__name__}: {exc}", provider=self.name
            ) from exc


def _stringified(raw: RawMemory) -> RawMemory:
    """powermem's row with its integer id as a string (``get`` calls the text ``content``)."""
    row = dict(raw)
    row["id"] = str(row.get("id", row.get("memory_id")))
    return row


def _owned(backend: PowermemBackend, user: str, memory_id: str) -> RawMemory:
    raw = backend.get(int(memory_id), user) if is_powermem_id(memory_id) else None
    if raw is None or raw.get("user_id") != user:
        raise NotFoundError(f"memory {memory_id!r} not found", provider="powermem")
    return raw


def _mark_superseded(backend: PowermemBackend, user: str, old_id: str, new_id: str) -> None:
    if not is_powermem_id(old_id):
        return
    old = backend.get(int(old_id), user)
    if old is None or old.get("user_id") != user:
        return
    fields = openmem_fields(old)
    fields["superseded_by"] = new_id
    backend.update(
        int(old_id), user, str(old.get("content") or old.get("memory")), {OPENMEM_KEY: fields}
    )


def _filter_hits(
    caller: Caller, user: str, rows: builtins.list[RawMemory], query: SearchQuery
) -> builtins.list[SearchHit]:
    now = datetime.now(UTC)
    candidates = [
        (r, record_from_raw(caller, _stringified(r))) for r in rows if r.get("user_id") == user
    ]
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
