"""``Mem0Provider``: mem0 behind openmem's verb set, on bounded worker threads.

Every mem0 call is synchronous (the OSS ``Memory``, or the platform ``MemoryClient``), so the
shared base (``openmem.translation.TranslatingProvider``) runs each on the provider's own
``Offloader`` and does what mem0 leaves to its caller: isolation by namespace and user (by-id
verbs included: ``mem0.get(id)`` answers for any user), filters, validity and supersession,
full pages, keyset pagination and idempotent writes. This module says how to build mem0 and
how to call it, and adds what only mem0 has: the platform's queued adds, ``history``, and
the ids of memories mem0's LLM inferred.
"""

from __future__ import annotations

import asyncio
import builtins
import importlib
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar

import anyio
import httpx

from openmem.errors import (
    IngestionTimeoutError,
    InvalidRequestError,
    NotFoundError,
    OMPError,
    ProviderError,
    ProviderUnavailableError,
    RateLimitedError,
    UnsupportedCapabilityError,
)
from openmem.models import IngestEvent, MemoryInput, MemoryRecord
from openmem.offload import Offloader
from openmem.provider import Caller
from openmem.translation import RawMemory, TranslatingProvider, user_key
from openmem.translation.backend import AddInput
from openmem_mem0._backend import Mem0Backend
from openmem_mem0._env import prepare_mem0_environment
from openmem_mem0._events import event_owner, ingest_event
from openmem_mem0._options import Mem0Options

__all__ = ["REF_KEY", "Mem0Provider", "is_uuid"]

REF_KEY = "om_ref"
"""A random token per platform add: finds the memory once its queued add is processed."""

_PENDING_PREFIX = "evt_"


def is_uuid(value: str) -> bool:
    """Whether ``value`` is a UUID (mem0's ids); anything else cannot exist in the store."""
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


class Mem0Provider(TranslatingProvider[Mem0Options, Mem0Backend]):
    """mem0 OSS (thread tier) or the mem0 platform, behaving like every other provider.

    >>> async with AsyncMemory("mem0", data_dir="/tmp/m") as mem:
    ...     await mem.add("prefers dark mode", user_id="u1")

    ``transport`` (platform mode, tests) is an ``httpx`` transport for the platform client,
    e.g. a local contract fake.
    """

    name: ClassVar[str] = "mem0"
    Options = Mem0Options
    third_party: ClassVar[tuple[str, ...]] = ("mem0", "qdrant_client", "faiss", "posthog")

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

    @property
    def _platform(self) -> bool:
        return self.options.mode == "platform"

    # -- building mem0 -------------------------------------------------------------------

    async def build_backend(self, offload: Offloader) -> Mem0Backend:
        prepare_mem0_environment(self.options.resolved_data_dir())
        if self._platform:
            module = await offload.run(importlib.import_module, "openmem_mem0._platform")
            platform: Mem0Backend = module.Mem0PlatformBackend(self.options, self._transport)
            return platform
        module = await offload.run(importlib.import_module, "openmem_mem0._oss")
        oss: Mem0Backend = module.Mem0OSSBackend(
            self.options, self._embedder, asyncio.get_running_loop()
        )
        return oss

    def serialize_calls(self) -> bool:
        # Embedded qdrant/faiss are not thread-safe (peers.md §0, bugs 1 and 2).
        return not self._platform and self.options.vector_store != "pgvector"

    async def warm_up(self, offload: Offloader, backend: Mem0Backend) -> None:
        if not self._platform:
            # mem0 imports its scoring and NLP helpers on the first search; an import holds
            # the GIL for long stretches, so pay for it here, not under load.
            await offload.run(backend.search, "_:_warmup", "warm up", 1, 0.0)

    def extra_features(self) -> dict[str, Any]:
        queues = self._platform and self.options.async_mode
        return {"async_ingestion": queues, "async_ingest": queues}

    def map_error(self, exc: Exception) -> OMPError:
        return _mapped(exc)

    async def health(self) -> None:
        await self._call(lambda backend: backend.list_all(user_key(Caller("_", "_health"))))

    # -- calling mem0 (on worker threads) ------------------------------------------------

    def fetch(self, backend: Mem0Backend, user: str, memory_id: str) -> RawMemory | None:
        return backend.get(memory_id) if is_uuid(memory_id) else None

    def list_raw(self, backend: Mem0Backend, user: str) -> builtins.list[RawMemory]:
        return backend.list_all(user)

    def find_raw(self, backend: Mem0Backend, user: str, key: str, value: str) -> RawMemory | None:
        return backend.find(user, key, value)

    def search_raw(
        self, backend: Mem0Backend, user: str, query: str, top_k: int
    ) -> builtins.list[RawMemory]:
        return backend.search(user, query, top_k, 0.0)

    def create_raw(
        self,
        backend: Mem0Backend,
        user: str,
        content: AddInput,
        metadata: dict[str, Any],
        infer: bool,
    ) -> builtins.list[RawMemory]:
        return backend.create(user, content, metadata, infer)

    def write_raw(
        self,
        backend: Mem0Backend,
        user: str,
        current: RawMemory,
        content: str | None,
        metadata: dict[str, Any],
    ) -> None:
        backend.update(str(current["id"]), content, metadata)

    def delete_raw(self, backend: Mem0Backend, user: str, current: RawMemory) -> bool:
        backend.delete(str(current["id"]))
        return True

    # -- what only mem0 has ------------------------------------------------------------

    def embedding_model(self) -> str | None:
        return None if self._platform else self._embedder.model

    def add_metadata(self, now: datetime) -> dict[str, Any]:
        if self._platform:  # the ref finds a queued add's memory once the platform made it
            return {REF_KEY: uuid.uuid4().hex}
        return {"created_at": now.isoformat()}

    def record_of_add(
        self,
        caller: Caller,
        item: MemoryInput,
        results: builtins.list[RawMemory],
        metadata: dict[str, Any],
        fields: dict[str, Any],
        now: datetime,
        infer: bool,
    ) -> MemoryRecord:
        first = results[0]
        if "status" in first and not first.get("id"):
            return self._queued_record(caller, item, fields, first, now)
        record = super().record_of_add(caller, item, results, metadata, fields, now, infer)
        if infer and "metadata" not in first and len(results) > 1:
            also = [r["id"] for r in results[1:] if r.get("id")]
            return record.model_copy(update={"x-mem0": {"inferred_ids": also}})
        return record

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

    async def enqueue_add(
        self, caller: Caller, items: Sequence[MemoryInput]
    ) -> builtins.list[MemoryRecord]:
        """Platform adds are queued by the platform itself: one event per memory."""
        if not (self._platform and self.options.async_mode):
            raise UnsupportedCapabilityError("async_ingest is not supported", provider=self.name)
        records = [await self.add(caller, item) for item in items]
        return [
            r.model_copy(update={"event_id": r.id}) if r.status == "queued" else r for r in records
        ]

    async def get_event(self, caller: Caller, event_id: str) -> IngestEvent:
        """The platform's event, if it is an add of this caller's."""
        missing = NotFoundError(f"no event {event_id!r} for this user", provider=self.name)
        if not (self._platform and event_id.startswith(_PENDING_PREFIX)):
            raise missing
        platform_id = event_id.removeprefix(_PENDING_PREFIX)
        raw = await self._call(lambda backend: backend.event(platform_id))  # type: ignore[attr-defined]
        if raw is None or event_owner(raw) != (caller.namespace, caller.user_id):
            raise missing
        return ingest_event(event_id, caller.user_id, raw)

    async def get(self, caller: Caller, memory_id: str) -> MemoryRecord:
        if self._platform and memory_id.startswith(_PENDING_PREFIX):
            return await self._resolve_pending(caller, memory_id)
        return await super().get(caller, memory_id)

    async def history(self, caller: Caller, memory_id: str) -> builtins.list[RawMemory]:
        """mem0's change history of one of the caller's memories (ADD / UPDATE / DELETE)."""
        user = user_key(caller)

        def work(backend: Mem0Backend) -> builtins.list[RawMemory]:
            self.owned(backend, user, memory_id)
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
                if raw is not None and raw.get("user_id") == user:
                    return raw
            # The result shape of an event is undocumented: find the memory by its event.
            for raw in backend.list_all(user):
                if (raw.get("metadata") or {}).get(REF_KEY) == event.get("ref"):
                    return raw
            raise NotFoundError(f"memory {pending_id!r} not found", provider=self.name)

        raw = await self._call(work)
        return None if raw is None else self.record(caller, raw)


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
