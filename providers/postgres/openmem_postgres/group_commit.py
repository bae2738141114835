"""Group commit: concurrent adds beyond a few in flight go to the database together.

An add runs its own statement while fewer than ``limit`` add statements are in flight (so a
lone add, and every sequential caller, pays nothing and behaves exactly as before). Adds that
arrive while ``limit`` are in flight wait in a queue; when a statement finishes, everything
queued (up to ``max_rows``) is written by one multi-row statement: one round trip, one
commit and one WAL flush for the group instead of one each, as database drivers and Kafka
producers batch. Every row still commits with its audit row, in the same transaction. A group
the server refuses for one bad row is retried add by add; any other failure (the database
gone, a timeout) is every add's error, never retried, as it may have committed.

Measured (benchmarks/results/profile.md): at c=32 on 2 cores, a single-row add spent most of
its loop time in ``socket.send``, where the woken backend preempts the event loop; fewer,
larger statements wake fewer backends, which is what bounds the loop lag.

Cancellation: an add cancelled while it waits in the queue is dropped, never written. An add
cancelled after its group was sent raises ``CancelledError`` at once; its group statement
runs on in a task owned by the ``AddGroups`` (awaited by ``aclose``), so the record lands
whole, with its audit row, or not at all, as any cancelled write may. A retry with the same
idempotency key returns it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from openmem.errors import ConflictError, InvalidRequestError, ProviderUnavailableError
from openmem_postgres.runner import PROVIDER

__all__ = ["AddGroups", "QueuedAdd"]

AddArgs = tuple[Any, ...]
"""The arguments of the single-row ``add`` statement (see ``queries.Statements.add``)."""
WriteOne = Callable[[AddArgs], Awaitable["asyncpg.Record | None"]]
"""Writes one add in its own statement; its row, or None when the idempotency key is taken."""
WriteGroup = Callable[[Sequence[AddArgs]], Awaitable["list[asyncpg.Record | None]"]]
"""Writes the adds of a group in one statement; one row (or None) per add, in order."""


@dataclass(eq=False)
class QueuedAdd:
    """One waiting add: its statement arguments and the future its caller awaits."""

    args: AddArgs
    done: asyncio.Future[asyncpg.Record | None]


class AddGroups:
    """The in-flight count, the queue and the group statements of one provider's adds."""

    def __init__(
        self, *, limit: int, max_rows: int, write_one: WriteOne, write_group: WriteGroup
    ) -> None:
        self._limit = limit
        self._max_rows = max_rows
        self._write_one = write_one
        self._write_group = write_group
        self._in_flight = 0
        self._queue: list[QueuedAdd] = []
        self._flushes: set[asyncio.Task[None]] = set()
        self._closed = False

    async def add(self, args: AddArgs) -> asyncpg.Record | None:
        """The stored row of this add, or ``None`` if its idempotency key was taken."""
        if self._in_flight < self._limit and not self._queue:
            self._in_flight += 1
            try:
                return await self._write_one(args)
            finally:
                self._in_flight -= 1
                self._flush_queued()
        queued = QueuedAdd(args, asyncio.get_running_loop().create_future())
        self._queue.append(queued)
        # Awaiting the future itself: cancelling the caller cancels it, so a queued add is
        # skipped by its flush, and one already sent is simply no longer waited for.
        return await queued.done

    def _flush_queued(self) -> None:
        """Start a group statement for the queued adds while a slot is free."""
        while self._queue and self._in_flight < self._limit and not self._closed:
            batch = self._queue[: self._max_rows]
            del self._queue[: self._max_rows]
            group = [q for q in batch if not q.done.done()]
            if group:
                self._in_flight += 1
                task = asyncio.get_running_loop().create_task(self._flush(group))
                self._flushes.add(task)
                task.add_done_callback(self._flushes.discard)

    async def _flush(self, group: list[QueuedAdd]) -> None:
        outcomes: list[asyncpg.Record | BaseException | None]
        try:
            if len(group) == 1:
                outcomes = [await self._write_one(group[0].args)]
            else:
                try:
                    outcomes = list(await self._write_group([q.args for q in group]))
                except (InvalidRequestError, ConflictError):
                    # One bad row fails the whole statement: retry add by add, so each
                    # caller gets its own outcome and the good adds still land. Only for
                    # errors the server raised before committing anything: after a lost
                    # connection the group may have committed, and a retry would duplicate.
                    outcomes = [await self._outcome(q) for q in group]
        except BaseException as exc:
            _settle(group, [exc] * len(group))
            raise
        finally:
            self._in_flight -= 1
            self._flush_queued()
        _settle(group, outcomes)

    async def _outcome(self, queued: QueuedAdd) -> asyncpg.Record | Exception | None:
        if queued.done.done():  # its caller gave up meanwhile: do not write it
            return None
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


def _settle(group: Sequence[QueuedAdd], outcomes: Sequence[Any]) -> None:
    for queued, outcome in zip(group, outcomes, strict=True):
        if queued.done.done():
            continue
        if isinstance(outcome, asyncio.CancelledError):
            queued.done.cancel()
        elif isinstance(outcome, BaseException):
            queued.done.set_exception(outcome)
        else:
            queued.done.set_result(outcome)
