"""A provider proxy that records every call and never opens or closes what it wraps.

Checks use it to prove that ``AsyncMemory`` refused a call *before* reaching the provider
(the capability gate, loop binding, use after close), and to put a second ``AsyncMemory``
(another namespace, another loop) in front of a provider that is already open.

It is also the suite's probe inside the provider: for each verb it counts the await points
the provider suspended at (on calls that finished) and the cancellations that landed inside
it (a ``CancelledError`` that came out of the provider's own call, not one delivered before
the call began), so a cancellation check can prove it cancelled the backend and not only
``AsyncMemory``.
"""

from __future__ import annotations

import asyncio
import builtins
from collections import Counter
from collections.abc import Awaitable, Coroutine, Sequence
from typing import Any, TypeVar

from openmem.models import (
    AuditEntry,
    AuditQuery,
    Capabilities,
    ContextBlock,
    ContextQuery,
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
from openmem_conformance.await_points import CountingCoroutine

__all__ = ["RecordingProvider"]

T = TypeVar("T")


class RecordingProvider(Provider[Any]):
    """Forwards every verb to ``inner`` and appends its name to ``calls``.

    ``open`` and ``close`` are recorded but not forwarded: the wrapped provider belongs to
    someone else, who opened it and will close it.
    """

    name = "recording"

    def __init__(self, inner: Provider[Any]) -> None:
        self.inner = inner
        self.calls: list[str] = []
        self.await_points: dict[str, int] = {}
        """Per verb: the most await points one finished call of the provider suspended at."""
        self.cancelled_inside: Counter[str] = Counter()
        """Per verb: how many calls ended in a ``CancelledError`` raised inside the provider."""

    def reset(self) -> None:
        """Forget the calls, await points and cancellations recorded so far."""
        self.calls.clear()
        self.await_points.clear()
        self.cancelled_inside.clear()

    async def _forward(self, verb: str, call: Awaitable[T]) -> T:
        """Await the inner provider's ``call``, counting its await points and cancellations."""
        self.calls.append(verb)
        if not isinstance(call, Coroutine):
            return await call
        counting: CountingCoroutine[T] = CountingCoroutine(call)
        try:
            result = await counting
        except asyncio.CancelledError:
            self.cancelled_inside[verb] += 1
            raise
        # The first step starts the call; every further step resumes it after a suspension.
        self.await_points[verb] = max(self.await_points.get(verb, 0), counting.steps - 1)
        return result

    @property
    def verb_calls(self) -> list[str]:
        """The recorded calls other than open, close and capabilities."""
        return [c for c in self.calls if c not in ("open", "close", "capabilities")]

    async def open(self) -> None:
        """Record only: the inner provider is already open."""
        self.calls.append("open")

    async def close(self) -> None:
        """Record only: the inner provider is closed by its owner."""
        self.calls.append("close")

    async def health(self) -> None:
        """Forward the health probe."""
        self.calls.append("health")
        await self.inner.health()

    async def capabilities(self) -> Capabilities:
        """Forward."""
        self.calls.append("capabilities")
        return await self.inner.capabilities()

    async def add(self, caller: Caller, item: MemoryInput) -> MemoryRecord:
        """Forward."""
        return await self._forward("add", self.inner.add(caller, item))

    async def get(self, caller: Caller, memory_id: str) -> MemoryRecord:
        """Forward."""
        return await self._forward("get", self.inner.get(caller, memory_id))

    async def update(self, caller: Caller, memory_id: str, patch: MemoryPatch) -> MemoryRecord:
        """Forward."""
        return await self._forward("update", self.inner.update(caller, memory_id, patch))

    async def delete(self, caller: Caller, memory_id: str) -> None:
        """Forward."""
        await self._forward("delete", self.inner.delete(caller, memory_id))

    async def get_by_key(self, caller: Caller, where: MemoryKey) -> MemoryRecord:
        """Forward."""
        return await self._forward("get_by_key", self.inner.get_by_key(caller, where))

    async def delete_by_key(self, caller: Caller, where: MemoryKey) -> None:
        """Forward."""
        await self._forward("delete_by_key", self.inner.delete_by_key(caller, where))

    async def list(self, caller: Caller, query: ListQuery) -> MemoryPage:
        """Forward."""
        return await self._forward("list", self.inner.list(caller, query))

    async def search(self, caller: Caller, query: SearchQuery) -> builtins.list[SearchHit]:
        """Forward."""
        return await self._forward("search", self.inner.search(caller, query))

    async def context(self, caller: Caller, query: ContextQuery) -> ContextBlock:
        """Forward."""
        return await self._forward("context", self.inner.context(caller, query))

    async def audit(self, caller: Caller, query: AuditQuery) -> builtins.list[AuditEntry]:
        """Forward."""
        return await self._forward("audit", self.inner.audit(caller, query))

    async def add_many(
        self, caller: Caller, items: Sequence[MemoryInput]
    ) -> builtins.list[MemoryRecord]:
        """Forward."""
        return await self._forward("add_many", self.inner.add_many(caller, items))

    async def forget_user(self, caller: Caller) -> int:
        """Forward."""
        return await self._forward("forget_user", self.inner.forget_user(caller))
