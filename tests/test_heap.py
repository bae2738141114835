"""The collector is tuned once a provider is open, once per process, and only if asked."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

import openmem.heap
from openmem import AsyncMemory
from openmem.heap import YOUNG_GENERATION_THRESHOLD


@pytest.fixture
def fresh_heap(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """``gc.freeze`` recorded instead of done, the thresholds restored after the test, and
    the once-per-process flag reset."""
    calls: list[str] = []
    monkeypatch.setattr(openmem.heap, "_tuned", False)
    monkeypatch.setattr(gc, "freeze", lambda: calls.append("freeze"))
    before = gc.get_threshold()
    gc.set_threshold(700, *before[1:])
    yield calls
    gc.set_threshold(*before)


async def test_opening_tunes_the_collector_once_per_process(fresh_heap: list[str]) -> None:
    async with AsyncMemory(provider="inmemory") as first:
        await first.search("x", "u1")
    gc.set_threshold(800, *gc.get_threshold()[1:])  # the application's own choice, later
    async with AsyncMemory(provider="inmemory") as second:
        await second.search("x", "u1")
    assert fresh_heap == ["freeze"]
    assert gc.get_threshold()[0] == 800


async def test_the_young_generation_threshold_is_raised_never_lowered(
    fresh_heap: list[str],
) -> None:
    older = gc.get_threshold()[1:]
    async with AsyncMemory(provider="inmemory") as mem:
        await mem.search("x", "u1")
    assert gc.get_threshold() == (YOUNG_GENERATION_THRESHOLD, *older)

    openmem.heap._tuned = False
    gc.set_threshold(50_000, *older)
    async with AsyncMemory(provider="inmemory") as mem:
        await mem.search("x", "u1")
    assert gc.get_threshold()[0] == 50_000

    openmem.heap._tuned = False
    gc.set_threshold(0, *older)  # the application turned collection off: left so
    async with AsyncMemory(provider="inmemory") as mem:
        await mem.search("x", "u1")
    assert gc.get_threshold()[0] == 0


async def test_freeze_gc_at_open_false_leaves_the_collector_alone(fresh_heap: list[str]) -> None:
    async with AsyncMemory(provider="inmemory", freeze_gc_at_open=False) as mem:
        await mem.search("x", "u1")
    assert fresh_heap == []
    assert gc.get_threshold()[0] == 700
    assert not openmem.heap._tuned


def test_the_environment_turns_it_off(
    fresh_heap: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENMEM_FREEZE_GC_AT_OPEN", "false")
    mem = AsyncMemory.from_env(provider="inmemory", dotenv=None)
    assert mem._binding._freeze_gc_at_open is False
