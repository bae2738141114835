"""What a check gets: ``CheckContext``, one fresh provider behind ``AsyncMemory``, and names.

Checks are written against this module only; ``openmem_conformance.harness`` builds the context
and runs the check, and ``openmem_conformance.registry`` records which checks exist. Neither of
those is imported here, so the three form no cycle.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from openmem.memory import AsyncMemory
from openmem.models import Capabilities, MemoryRecord
from openmem.provider import Caller, Provider
from openmem_conformance.grading import offers_openmem_extensions
from openmem_conformance.recording import RecordingProvider
from openmem_conformance.resources import ResourceSnapshot

__all__ = ["DEFAULT_BUDGET_MS", "CheckContext", "eventually", "unique_token"]

T = TypeVar("T")

DEFAULT_BUDGET_MS = 10.0
"""Milliseconds from ``task.cancel()`` to ``CancelledError`` at the awaiter (p99)."""


def unique_token() -> str:
    """A short random token that keeps names of concurrent runs apart."""
    return secrets.token_hex(5)


@dataclass
class CheckContext:
    """Everything a check gets: the open ``AsyncMemory``, the raw provider and settings."""

    mem: AsyncMemory
    raw: Provider[Any]
    capabilities: Capabilities
    namespace: str
    budget_ms: float = DEFAULT_BUDGET_MS
    baseline: ResourceSnapshot | None = None
    token: str = field(default_factory=unique_token)
    details: dict[str, Any] = field(default_factory=dict)
    """Measurements a check wants in the report (latencies, counts)."""
    _users: int = 0

    # -- names -------------------------------------------------------------------------

    def user(self, label: str = "u") -> str:
        """A user id no other check or run uses."""
        self._users += 1
        return f"{label}-{self._users}-{self.token}"

    @property
    def extended(self) -> bool:
        """False for a foreign OMP server: ask it for OMP 0.1 only (see ``grading``)."""
        return offers_openmem_extensions(self.raw)

    def caller(self, user_id: str, namespace: str | None = None) -> Caller:
        """A ``Caller`` for raw provider calls, in this check's namespace by default."""
        return Caller(namespace=namespace or self.namespace, user_id=user_id)

    @property
    def async_ingestion(self) -> bool:
        """Whether adds may come back ``queued`` and become readable later."""
        return self.capabilities.features.async_ingestion

    # -- writes that account for asynchronous ingestion --------------------------------

    async def add(self, content: str, *, user_id: str, **fields: Any) -> MemoryRecord:
        """``mem.add`` and, for async-ingestion providers, wait until it is readable."""
        record = await self.mem.add(content, user_id=user_id, **fields)
        return (await self.settle([record], user_id=user_id))[0]

    async def add_all(
        self, contents: Sequence[str], *, user_id: str, **fields: Any
    ) -> list[MemoryRecord]:
        """Add several memories one after another (creation order = list order)."""
        return [await self.add(c, user_id=user_id, **fields) for c in contents]

    async def settle(self, records: Sequence[MemoryRecord], *, user_id: str) -> list[MemoryRecord]:
        """Wait until queued records are ingested; records already done come back as they are."""
        pending = [r.id for r in records if r.status in ("queued", "indexing")]
        if not pending:
            return list(records)
        done = {r.id: r for r in await self.mem.wait_for_ingest(pending, user_id=user_id)}
        return [done.get(r.id, r) for r in records]

    # -- reads -------------------------------------------------------------------------

    async def list_all(
        self, user_id: str, *, page_size: int = 50, **filters: Any
    ) -> list[MemoryRecord]:
        """Every memory of ``user_id`` through pagination, checking the page invariants."""
        items: list[MemoryRecord] = []
        cursor: str | None = None
        for _ in range(10_000):
            page = await self.mem.list(user_id, limit=page_size, cursor=cursor, **filters)
            assert len(page.items) <= page_size, (
                f"list returned {len(page.items)} items for limit={page_size}"
            )
            if page.next_cursor is not None:
                assert page.items, "list returned an empty page with a next_cursor"
            items.extend(page.items)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        else:  # pragma: no cover - a provider that never ends its pages
            raise AssertionError("list pagination did not end after 10000 pages")
        ids = [r.id for r in items]
        assert len(ids) == len(set(ids)), "list pagination returned a memory twice"
        return items

    async def ids(self, user_id: str, **filters: Any) -> set[str]:
        """The ids of every memory of ``user_id`` (see ``list_all``)."""
        return {r.id for r in await self.list_all(user_id, **filters)}

    # -- other views of the same provider ----------------------------------------------

    def borrow(self) -> RecordingProvider:
        """A recording proxy over the open raw provider (its open/close do nothing)."""
        return RecordingProvider(self.raw)

    def memory_over(self, provider: Provider[Any], *, namespace: str | None = None) -> AsyncMemory:
        """Another ``AsyncMemory`` over ``provider``; close it yourself."""
        return AsyncMemory(provider=provider, namespace=namespace or self.namespace)

    def note(self, **values: Any) -> None:
        """Record measurements for the report."""
        self.details.update(values)


async def eventually(
    probe: Callable[[], Awaitable[T]],
    accept: Callable[[T], bool],
    *,
    within: float = 2.0,
    interval: float = 0.02,
) -> T:
    """Poll ``probe`` until ``accept`` holds or ``within`` seconds pass; the last value."""
    deadline = time.monotonic() + within
    while True:
        value = await probe()
        if accept(value) or time.monotonic() >= deadline:
            return value
        await asyncio.sleep(interval)
