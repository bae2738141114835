"""Verb calls admitted a few per event-loop iteration, so a burst of calls spreads out.

A verb's first step runs on the event loop before its first real wait: its arguments
validated into the wire models, the query embedded (a cheap embedder runs inline), the
statement built and queued. When many calls start at once (a burst of requests, an
``asyncio.gather`` of 128 adds), every one of them runs that step in the same loop iteration,
and everything else on the loop (its timers, the answers other calls wait for) waits for the
sum: 128 adds took 5-9 ms of one iteration, the longest stall of a c=128 run
(``benchmarks/results/profile.md``, ninth session).

``LoopAdmission.enter()`` lets ``PER_ITERATION`` calls through per loop iteration without
suspending them; later calls of the same iteration wait, in arrival order, for the
iterations after. In steady state calls are resumed a few per iteration by the answers they
wait for, so none waits here: a lone call never suspends. Waiting holds nothing, so a waiting
call cancelled leaves at once.
"""

from __future__ import annotations

import asyncio
from collections import deque

__all__ = ["PER_ITERATION", "LoopAdmission"]

PER_ITERATION = 8
"""Calls admitted per loop iteration. The first step of an add on the postgres provider took
about 45 us of CPU on the machine of the ninth session, which runs the SDKs 2-3x faster
than the earlier sessions' machine of the same kind: 8 of them 0.4 ms here and about 1 ms
there, under the 2 ms loop-lag target with room for the answers of the calls in flight."""


class LoopAdmission:
    """Admit at most ``per_iteration`` callers per event-loop iteration, first come first in.

    One instance serves one event loop (``AsyncMemory`` binds to one).
    """

    def __init__(self, per_iteration: int = PER_ITERATION) -> None:
        if per_iteration < 1:
            raise ValueError("per_iteration must be at least 1")
        self._per_iteration = per_iteration
        self._admitted = 0
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._turn_scheduled = False

    async def enter(self) -> None:
        """Return in this iteration if it has room and nobody waits; else wait a turn."""
        if self._admitted < self._per_iteration and not self._waiting:
            self._admitted += 1
            self._schedule_turn()
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        self._schedule_turn()
        await waiter

    def _schedule_turn(self) -> None:
        """Run ``_turn`` in the next loop iteration (once, however many callers ask)."""
        if not self._turn_scheduled:
            self._turn_scheduled = True
            asyncio.get_running_loop().call_soon(self._turn)

    def _turn(self) -> None:
        """A new iteration: room again, and the next waiters (not cancelled) let in."""
        self._turn_scheduled = False
        self._admitted = 0
        while self._waiting and self._admitted < self._per_iteration:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                self._admitted += 1
        if self._waiting or self._admitted:
            self._schedule_turn()
