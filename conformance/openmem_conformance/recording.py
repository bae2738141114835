"""A provider proxy that records every call and never opens or closes what it wraps.

Checks use it to prove that ``AsyncMemory`` refused a call *before* reaching the provider
(the capability gate, loop binding, use after close), and to put a second ``AsyncMemory``
(another namespace, another loop) in front of a provider that is already open.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

from openmem.models import (
    AuditEntry,
    AuditQuery,
    Capabilities,
    ContextBlock,
    ContextQuery,
    ListQuery,
    MemoryInput,
    MemoryPage,
    MemoryPatch,
    MemoryRecord,
    SearchHit,
    SearchQuery,
)
from openmem.provider import Caller, Provider

__all__ = ["RecordingProvider"]


class RecordingProvider(Provider[Any]):
    """Forwards every verb to ``inner`` and appends its name to ``calls``.

    ``open`` and ``close`` are recorded but not forwarded: the wrapped provider belongs to
    someone else, who opened it and will close it.
    """

    name = "recording"

    def __init__(self, inner: Provider[Any]) -> None:
        self.inner = inner
        self.calls: list[str] = []

    def reset(self) -> None:
        """Forget the calls recorded so far."""
        self.calls.clear()

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
        self.calls.append("add")
        return await self.inner.add(caller, item)

    async def get(self, caller: Caller, memory_id: str) -> MemoryRecord:
        """Forward."""
        self.calls.append("get")
        return await self.inner.get(caller, memory_id)

    async def update(self, caller: Caller, memory_id: str, patch: MemoryPatch) -> MemoryRecord:
        """Forward."""
        self.calls.append("update")
        return await self.inner.update(caller, memory_id, patch)

    async def delete(self, caller: Caller, memory_id: str) -> None:
        """Forward."""
        self.calls.append("delete")
        await self.inner.delete(caller, memory_id)

    async def list(self, caller: Caller, query: ListQuery) -> MemoryPage:
        """Forward."""
        self.calls.append("list")
        return await self.inner.list(caller, query)

    async def search(self, caller: Caller, query: SearchQuery) -> builtins.list[SearchHit]:
        """Forward."""
        self.calls.append("search")
        return await self.inner.search(caller, query)

    async def context(self, caller: Caller, query: ContextQuery) -> ContextBlock:
        """Forward."""
        self.calls.append("context")
        return await self.inner.context(caller, query)

    async def audit(self, caller: Caller, query: AuditQuery) -> builtins.list[AuditEntry]:
        """Forward."""
        self.calls.append("audit")
        return await self.inner.audit(caller, query)

    async def add_many(
        self, caller: Caller, items: Sequence[MemoryInput]
    ) -> builtins.list[MemoryRecord]:
        """Forward."""
        self.calls.append("add_many")
        return await self.inner.add_many(caller, items)

    async def forget_user(self, caller: Caller) -> int:
        """Forward."""
        self.calls.append("forget_user")
        return await self.inner.forget_user(caller)
