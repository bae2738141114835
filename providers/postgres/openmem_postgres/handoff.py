"""Handing a clean connection straight from one call to the next, past asyncpg's pool.

asyncpg's ``Pool.release`` shields a task, arms a reset timer and re-arms the idle timer, and
``Pool.acquire`` awaits the pool's queue and builds a new proxy: together about 50 us of
event-loop CPU per call, measured beside a search's 0.9 ms (benchmarks/results/profile.md).
``ConnectionHandoff`` keeps the connections its runner has out of the pool and lends them
directly: a call that finished cleanly hands its connection to the oldest waiting call, or
keeps it (newest first, so the next call runs on a warm backend). Connections go back to the
pool only through ``PooledRunner``'s release path (a failure, a cancel, an open transaction,
``wait_released``), which proves them clean or terminates them, as before.

The count ``held`` (connections out of the pool: in use, kept, or being released) never
exceeds the pool's size, so ``Pool.acquire`` is only called when the pool has a connection
free or can open one; beyond that a call waits here, bounded by ``acquire_timeout``.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

__all__ = ["Connection", "ConnectionHandoff"]

Connection: TypeAlias = "PoolConnectionProxy[asyncpg.Record]"
"""A pooled connection as ``PooledRunner.run`` hands it to an operation."""


class ConnectionHandoff:
    """The connections one runner has out of its pool; see the module docstring."""

    def __init__(self, pool: asyncpg.Pool, *, acquire_timeout: float) -> None:
        self._pool = pool
        self._size = pool.get_max_size()
        self._acquire_timeout = acquire_timeout
        self.held = 0
        """Connections out of the pool: in use, kept here, or being released."""
        self._kept: list[Connection] = []
        # A waiter receives a connection, or None: a slot of the pool reserved for it.
        self._waiters: deque[asyncio.Future[Connection | None]] = deque()

    @property
    def kept(self) -> int:
        """Idle connections kept for the next call."""
        return len(self._kept)

    async def acquire(self) -> Connection:
        """A kept connection, a new one from the pool, or the next one handed back.

        Raises ``TimeoutError`` after ``acquire_timeout`` when none comes back.
        """
        if self._kept:
            return self._kept.pop()
        if self.held < self._size:
            self.held += 1
            return await self._from_pool()
        waiter: asyncio.Future[Connection | None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(self._acquire_timeout):
                handed = await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                # Handed over just as this call gave up (cancelled or timed out): pass it on.
                self._pass_on(waiter.result())
            raise
        if handed is None:
            return await self._from_pool()
        return handed

    async def _from_pool(self) -> Connection:
        """Acquire within a slot already counted in ``held``; the slot is freed on failure."""
        try:
            conn: Connection = await self._pool.acquire()
        except BaseException:
            self.slot_freed()
            raise
        return conn

    def give_back(self, conn: Connection) -> None:
        """A clean connection a call has finished with: to the oldest waiter, else kept."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        self._kept.append(conn)

    def slot_freed(self) -> None:
        """A connection went back to the pool (or never came): its slot to a waiter, if any."""
        self.held -= 1
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self.held += 1
                waiter.set_result(None)
                return

    def _pass_on(self, handed: Connection | None) -> None:
        if handed is None:
            self.slot_freed()
        else:
            self.give_back(handed)

    def take_kept(self) -> list[Connection]:
        """Every kept connection, removed from here (they stay counted in ``held``)."""
        kept, self._kept = self._kept, []
        return kept
