"""Verb calls are admitted a few per event-loop iteration: a burst spreads over iterations,
in arrival order, while a lone call never suspends and a waiting call can leave at once."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from openmem import AsyncMemory
from openmem.admission import PER_ITERATION, LoopAdmission
from openmem.inmemory import InMemoryProvider


@contextmanager
def iteration_clock() -> Iterator[list[int]]:
    """``[n]``: how many event-loop iterations have begun since entering (a callback that
    reschedules itself runs once in every iteration)."""
    loop = asyncio.get_running_loop()
    count = [0]
    handle: list[asyncio.Handle] = []

    def tick() -> None:
        count[0] += 1
        handle[:] = [loop.call_soon(tick)]

    handle.append(loop.call_soon(tick))
    try:
        yield count
    finally:
        handle[0].cancel()


async def test_a_burst_is_admitted_a_few_per_iteration_in_arrival_order() -> None:
    admission = LoopAdmission(per_iteration=4)
    admitted: list[tuple[int, int]] = []

    async def call(n: int, clock: list[int]) -> None:
        await admission.enter()
        admitted.append((n, clock[0]))

    with iteration_clock() as clock:
        async with asyncio.timeout(5):
            await asyncio.gather(*(call(n, clock) for n in range(40)))
    per_iteration = Counter(iteration for _, iteration in admitted)
    assert max(per_iteration.values()) == 4
    assert len(per_iteration) >= 10
    assert [n for n, _ in admitted] == list(range(40))


async def test_a_lone_call_is_admitted_without_suspending() -> None:
    admission = LoopAdmission(per_iteration=2)
    for _ in range(3):  # one call per iteration, as calls resumed one by one arrive
        entering = admission.enter()
        with pytest.raises(StopIteration):
            entering.send(None)
        await asyncio.sleep(0)


async def test_a_waiting_call_cancelled_leaves_at_once_and_takes_no_turn() -> None:
    admission = LoopAdmission(per_iteration=2)
    admitted: list[int] = []

    async def call(n: int) -> None:
        await admission.enter()
        admitted.append(n)

    tasks = [asyncio.create_task(call(n)) for n in range(8)]
    await asyncio.sleep(0)  # 0 and 1 admitted, 2-7 waiting
    tasks[5].cancel()
    await asyncio.sleep(0)
    assert tasks[5].cancelled()
    async with asyncio.timeout(5):
        await asyncio.gather(*(t for n, t in enumerate(tasks) if n != 5))
    assert admitted == [0, 1, 2, 3, 4, 6, 7]


def test_admission_needs_room_for_one() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        LoopAdmission(per_iteration=0)


async def test_a_burst_of_verb_calls_reaches_the_provider_a_few_per_iteration() -> None:
    """64 searches and 64 adds started together: the provider sees at most
    ``PER_ITERATION`` of them begin in any loop iteration."""
    entered: list[int] = []

    class CountingProvider(InMemoryProvider):
        async def search(self, caller: Any, query: Any) -> Any:
            entered.append(clock[0])
            return await super().search(caller, query)

        async def add(self, caller: Any, item: Any) -> Any:
            entered.append(clock[0])
            return await super().add(caller, item)

    async with AsyncMemory(provider=CountingProvider()) as mem:
        with iteration_clock() as clock:
            await asyncio.wait_for(
                asyncio.gather(
                    *(mem.add(f"note {n}", user_id=f"u{n % 4}") for n in range(64)),
                    *(mem.search("note", f"u{n % 4}") for n in range(64)),
                ),
                timeout=5,
            )
    assert len(entered) == 128
    assert max(Counter(entered).values()) <= PER_ITERATION
