"""The start-up heap is frozen once a provider is open, once per process, and only if asked."""

from __future__ import annotations

import gc

import pytest

import openmem.heap
from openmem import AsyncMemory


@pytest.fixture
def fresh_heap(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """``gc.freeze`` recorded instead of done, and the once-per-process flag reset."""
    calls: list[str] = []
    monkeypatch.setattr(openmem.heap, "_frozen", False)
    monkeypatch.setattr(gc, "freeze", lambda: calls.append("freeze"))
    return calls


async def test_opening_freezes_the_heap_once_per_process(fresh_heap: list[str]) -> None:
    async with AsyncMemory(provider="inmemory") as first:
        await first.search("x", "u1")
    async with AsyncMemory(provider="inmemory") as second:
        await second.search("x", "u1")
    assert fresh_heap == ["freeze"]


async def test_freeze_gc_at_open_false_leaves_the_heap_alone(fresh_heap: list[str]) -> None:
    async with AsyncMemory(provider="inmemory", freeze_gc_at_open=False) as mem:
        await mem.search("x", "u1")
    assert fresh_heap == []
    assert not openmem.heap._frozen


def test_the_environment_turns_it_off(
    fresh_heap: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENMEM_FREEZE_GC_AT_OPEN", "false")
    mem = AsyncMemory.from_env(provider="inmemory", dotenv=None)
    assert mem._binding._freeze_gc_at_open is False
