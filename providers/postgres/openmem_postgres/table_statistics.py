"""Fresh statistics while the memories table grows, so no cached plan outlives its table's size.

The pool plans each statement once per connection and keeps that generic plan
(``plan_cache_mode = force_generic_plan``) until the table's statistics change. A plan made
while the table was small (a new store: a few hundred rows, no statistics, every estimate
one row) stayed in use long after the table had grown, reading through whichever index a
small table made look as good as any other: searches planned at 200 rows ran 2-20 times
slower at 5,000 (benchmarks/results/profile.md), and autovacuum analyses a table a minute or
more after it changed. Statements are written so their plans do not depend on the table's
size (``Statements.nearest_ctes``, ``search_groups``); this is the backstop for every one.

This process analyses the table whenever the rows it has added since the last analysis reach
``GROWTH`` times the table's size at that analysis (at least ``MIN_ROWS``): at most once each
time the table quadruples, so a cached plan was made on at least a quarter of the rows it
reads. ``ANALYZE`` replaces the statistics, and every server process plans its statements
anew on their next use. It runs in the background, in a transaction on a connection of the
pool, through the runner (a connection of its own cost a server process forked, a log-in
and the driver's type introspection, 1.1-1.2 ms of one step on the event loop, for each
analysis: benchmarks/results/profile.md), and gives way after ``LOCK_TIMEOUT`` to another
``ANALYZE`` or ``VACUUM`` of the table (that one refreshes the plans too; the next is due at
the next quadrupling). A failure (no privilege to analyse, no connection) is logged once
and ends the refreshes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg

from openmem.errors import OMPError
from openmem_postgres.handoff import Connection
from openmem_postgres.runner import PooledRunner

__all__ = ["COLUMNS", "GROWTH", "LOCK_TIMEOUT", "MIN_ROWS", "StatisticsRefresh"]

_log = logging.getLogger("openmem_postgres")

MIN_ROWS = 1_000
"""Rows added before the first analysis of an empty, never analysed table. Below it a plan
that reads the whole table still reads little, and each analysis costs the server a new
process and a pass over the table beside the callers' work: at 100, five analyses in the
first 2,000 adds at c=32 were the five longest event-loop stalls, the lag's p99."""

COLUMNS = "namespace, user_id, embedding_model, in_ann, created_at, scope, supersedes"
"""The columns analysed: those the statements' plans choose by (owner, model, graph
membership, order, scope, supersession). All of them took 12-17 ms of server CPU at 2,200
rows, most of it the text search vectors'; these 5.5 ms. The table's size is updated
either way, and the others keep whatever autovacuum's analyses give them."""

GROWTH = 3
"""Rows added, as a multiple of the table's size at the last analysis, before the next: the
table has quadrupled, so a cached plan was made on at least a quarter of the rows it reads.
Each analysis is a burst of server work beside the callers' (at doublings, two in the first
2,000 adds at c=32 were among the event loop's longest stalls)."""

LOCK_TIMEOUT = "200ms"
"""How long an analysis waits for another ``ANALYZE`` or ``VACUUM`` of the table."""


class StatisticsRefresh:
    """Counts the rows this process adds; analyses the table each time it quadruples."""

    def __init__(self, runner: PooledRunner, table: str, *, rows: float, stale: bool) -> None:
        """``rows``: the table's size as last analysed (``pg_class.reltuples``, below 0 when
        never); ``stale``: analyse as soon as possible (rows stored, never analysed)."""
        self._runner = runner
        self._table = table
        self._analysed_rows = max(0.0, rows)
        self._added = MIN_ROWS if stale else 0
        self._task: asyncio.Task[None] | None = None
        self._stopped = False
        self.analyses = 0
        """Analyses this process has run (for tests and benchmarks)."""

    def start(self) -> None:
        """Analyse now if the table was found stale at open."""
        self.added(0)

    def added(self, count: int) -> None:
        """``count`` rows were added; start an analysis when they reach the threshold."""
        self._added += count
        if self._stopped or self._task is not None:
            return
        if self._added < max(MIN_ROWS, GROWTH * self._analysed_rows):
            return
        self._analysed_rows += self._added
        self._added = 0
        self._task = asyncio.get_running_loop().create_task(self._analyse(), name="openmem-analyse")

    async def _analyse(self) -> None:
        outcome: float | Exception
        try:
            outcome = await self._runner.run(self._analyse_on)
        except OMPError as exc:  # no connection, or the driver gave up
            outcome = exc
        finally:
            self._task = None
        if isinstance(outcome, asyncpg.LockNotAvailableError):
            return  # another ANALYZE or VACUUM of the table has the plans made anew
        if isinstance(outcome, Exception):
            _log.warning("stopped analysing %s as it grows: %r", self._table, outcome)
            self._stopped = True
            return
        self.analyses += 1
        self._analysed_rows = max(self._analysed_rows, outcome)

    async def _analyse_on(self, conn: Connection) -> float | asyncpg.PostgresError:
        """Analyse on ``conn``: the table's size as analysed (rows of other processes
        included), or the server's refusal (handled above, not logged as a failed call)."""
        try:
            async with conn.transaction():
                await conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
                await conn.execute(f"ANALYZE {self._table} ({COLUMNS})")
        except asyncpg.PostgresError as exc:
            return exc
        rows = await conn.fetchval(
            "SELECT reltuples FROM pg_class WHERE oid = $1::regclass", self._table
        )
        return float(rows)

    async def aclose(self) -> None:
        """Stop; cancel an analysis under way (the server rolls it back)."""
        self._stopped = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
