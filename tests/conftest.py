"""Fixtures for the core tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from openmem import AsyncMemory
from openmem.inmemory import InMemoryProvider
from openmem.provider import Caller


class RecordingProvider(InMemoryProvider):
    """The in-memory provider, noting every call that reaches it (opens and verbs)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.calls: list[str] = []

    async def open(self) -> None:
        self.calls.append("open")
        await super().open()

    async def close(self) -> None:
        self.calls.append("close")
        await super().close()

    async def capabilities(self):  # type: ignore[no-untyped-def]
        self.calls.append("capabilities")
        return await super().capabilities()

    def __getattribute__(self, name: str) -> Any:
        attr = super().__getattribute__(name)
        verbs = {"add", "get", "update", "delete", "list", "search", "context", "audit"}
        if name in verbs | {"add_many", "forget_user"}:
            calls = super().__getattribute__("calls")

            async def recorded(caller: Caller, *args: Any) -> Any:
                calls.append(name)
                return await attr(caller, *args)

            return recorded
        return attr


@pytest.fixture
def recording() -> RecordingProvider:
    return RecordingProvider()


@pytest.fixture
async def mem() -> AsyncIterator[AsyncMemory]:
    async with AsyncMemory(provider="inmemory") as memory:
        yield memory
