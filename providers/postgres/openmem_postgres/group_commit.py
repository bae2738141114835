"""Group commit: concurrent statements beyond a few in flight go to the database together.

A call runs its own statement while fewer than ``limit`` statements of its kind are in flight
(so a lone call, and every sequential caller, pays nothing and behaves exactly as before).
Calls that arrive while ``limit`` are in flight wait in a queue; when a statement finishes,
everything queued (up to ``max_rows``) is sent as one multi-row statement: one round trip,
one commit and one WAL flush for the group instead of one each, as database drivers and
Kafka producers batch. Adds (``writes.add_groups``) and semantic searches
(``search_groups``) are grouped this way; every row still commits with its audit row, in the
same transaction. A group the server refuses for one bad row is retried call by call; any
other failure (the database gone, a timeout) is every call's error, never retried, as it may
have committed.

Measured (benchmarks/results/profile.md): at c=32 on 2 cores, a single-row statement spent
most of its loop time in ``socket.send``, where the woken backend preempts the event loop;
fewer, larger statements wake fewer backends, which is what bounds the loop lag.

Cancellation: a call cancelled while it waits in the queue is dropped, never sent. A call
cancelled after its group was sent raises ``CancelledError`` at once; its group statement
runs on in a task owned by the ``StatementGroups`` (awaited by ``aclose``), so the others
of its group get their answers, and a write lands whole, with its audit row, or not at all,
as any cancelled write may. A retry of an add with the same idempotency key returns it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import asyncpg

from openmem.errors import ConflictError, InvalidRequestError, ProviderUnavailableError
from openmem_postgres.runner import PROVIDER

__all__ = ["AddArgs", "AddGroups", "Queued", "StatementGroups"]

ArgsT = TypeVar("ArgsT")
ResultT = TypeVar("ResultT")

AddArgs = tuple[Any, ...]
"""The arguments of the single-row ``add`` statement (see ``queries.Statements.add``)."""


@dataclass(eq=False)
class Queued(Generic[ArgsT, ResultT]):
    """One waiting call: its statement arguments and the future its caller awaits."""

    args: ArgsT
    done: asyncio.Future[ResultT]


class StatementGroups(Generic[ArgsT, ResultT]):
    """The in-flight count, the queue and the group statements of one kind of call.

    ``write_one`` runs one call in its own statement; ``write_group`` runs a group in one
    statement and returns one outcome per call, in order.
    """

    def __init__(
        self,
        *,
        limit: int,
        max_rows: int,
        write_one: Callable[[ArgsT], Awaitable[ResultT]],
        write_group: Callable[[Sequence[ArgsT]], Awaitable[Sequence[ResultT]]],
    ) -> None:
        self._limit = limit
        self._max_rows = max_rows
        self._write_one = write_one
        self._write_group = write_group
        self._in_flight = 0
        self._queue: list[Queued[ArgsT, ResultT]] = []
        self._flushes: set[asyncio.Task[None]] = set()
        self._answered: deque[tuple[Queued[ArgsT, ResultT], ResultT | BaseException]] = deque()
        self._settler: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def limit(self) -> int:
        """Statements of this kind in flight at most."""
        return self._limit

    async def submit(self, args: ArgsT) -> ResultT:
        """The outcome of this call: its own statement's, or its group's share."""
        if self._in_flight < self._limit and not self._queue:
            self._in_flight += 1
            try:
                return await self._write_one(args)
            finally:
                self._in_flight -= 1
                self._flush_queued()
        queued: Queued[ArgsT, ResultT] = Queued(args, asyncio.get_running_loop().create_future())
        self._queue.append(queued)
        # Awaiting the future itself: cancelling the caller cancels it, so a queued call is
        # skipped by its flush, and one already sent is simply no longer waited for.
        return await queued.done

    def _flush_queued(self) -> None:
        """Start a group statement for the queued calls while a slot is free."""
        while self._queue and self._in_flight < self._limit and not self._closed:
            batch = self._queue[: self._max_rows]
            del self._queue[: self._max_rows]
            group = [q for q in batch if not q.done.done()]
            if group:
                self._in_flight += 1
                task = asyncio.get_running_loop().create_task(self._flush(group))
                self._flushes.add(task)
                task.add_done_callback(self._flushes.discard)

    async def _flush(self, group: list[Queued[ArgsT, ResultT]]) -> None:
        outcomes: list[ResultT | BaseException]
        try:
            if len(group) == 1:
                outcomes = [await self._write_one(group[0].args)]
            else:
                try:
                    outcomes = list(await self._write_group([q.args for q in group]))
                except (InvalidRequestError, ConflictError):
                    # One bad row fails the whole statement: retry call by call, so each
                    # caller gets its own outcome and the good ones still land. Only for
                    # errors the server raised before committing anything: after a lost
                    # connection the group may have committed, and a retry would duplicate.
                    outcomes = [await self._outcome(q) for q in group]
        except BaseException as exc:
            _settle(group, [exc] * len(group))
            raise
        finally:
            self._in_flight -= 1
            self._flush_queued()
        self._answered.extend(zip(group, outcomes, strict=True))
        if self._settler is None:
            self._settler = asyncio.get_running_loop().create_task(self._settle_in_turn())

    async def _outcome(self, queued: Queued[ArgsT, ResultT]) -> ResultT | BaseException:
        if queued.done.done():  # its caller gave up meanwhile: do not run it
            return asyncio.CancelledError()
        try:
            return await self._write_one(queued.args)
        except Exception as exc:
            return exc

    async def aclose(self, grace: float) -> None:
        """Stop grouping; wait (at most ``grace`` s) for group statements still in flight."""
        self._closed = True
        for queued in self._queue:
            if not queued.done.done():
                queued.done.set_exception(
                    ProviderUnavailableError("the postgres provider is closing", provider=PROVIDER)
                )
        self._queue.clear()
        pending = list(self._flushes)
        if pending:
            _done, late = await asyncio.wait(pending, timeout=grace)
            for task in late:
                task.cancel()
        while self._answered:  # whoever is still to be answered is answered at once
            _settle_one(*self._answered.popleft())

    async def _settle_in_turn(self) -> None:
        """Answer the callers of every finished group, ``SETTLED_PER_ITERATION`` per loop
        iteration in all, in the order their groups finished.

        One task for all groups: when the next group finished before the callers of the one
        before were all answered, two groups' turns in the same iterations resumed twice as
        many callers each. Whatever stops it early, nobody is left waiting: the rest are
        answered at once (``aclose`` answers them itself).
        """
        answered = self._answered
        try:
            while answered:
                for _ in range(min(SETTLED_PER_ITERATION, len(answered))):
                    _settle_one(*answered.popleft())
                if answered:
                    await asyncio.sleep(0)
        finally:
            while answered:
                _settle_one(*answered.popleft())
            self._settler = None


AddGroups = StatementGroups[AddArgs, asyncpg.Record | None]
"""Adds: the stored row of each, or None when its idempotency key was taken."""


SETTLED_PER_ITERATION = 2
"""Callers of finished groups resumed per event-loop iteration, all groups together.

Each resumed caller runs on until its next wait (decoding its rows, returning, and in a busy
application starting its next call: about 0.1 ms of CPU at c=32), and a loop iteration runs
every caller made ready before it began. Settled all at once, a group of 30 made one
iteration of 3.5-4 ms, the loop lag's p99; two per iteration keep an iteration near 0.3 ms
and let timers and I/O in between (benchmarks/results/profile.md)."""


def _settle(group: Sequence[Queued[Any, Any]], outcomes: Sequence[Any]) -> None:
    for queued, outcome in zip(group, outcomes, strict=True):
        _settle_one(queued, outcome)


def _settle_one(queued: Queued[Any, Any], outcome: Any) -> None:
    """Hand ``outcome`` to the caller waiting on ``queued`` (unless it gave up)."""
    if queued.done.done():
        return
    if isinstance(outcome, asyncio.CancelledError):
        queued.done.cancel()
    elif isinstance(outcome, BaseException):
        queued.done.set_exception(outcome)
    else:
        queued.done.set_result(outcome)
