"""Workers that drain the queue of async adds, in the SDK process or in ``openmem worker``.

``IngestWorkers`` runs ``count`` tasks on the provider's loop. Each claims one ready job at
a time (``FOR UPDATE SKIP LOCKED``, so any number of workers in any number of processes
share one database without taking the same job), runs it (``ingest_queue.run_job``) and
records the outcome: ``SUCCEEDED``; a retry after exponential backoff with jitter; or
``FAILED`` (dead letter) after ``ingest_max_attempts``. An idle worker sleeps until a
``NOTIFY`` from an enqueue wakes it (one listening connection per process, outside the
pool), or ``ingest_poll_interval`` passes: polling is the fallback when notifications are
lost (the listening connection dropped, a pooler that does not pass them on).

``stop()`` cancels the workers; a job interrupted mid-run is handed back at once (its
attempt not counted) or, if even that fails, claimed again when its lease passes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

import asyncpg

from openmem_postgres.ingest_queue import (
    ClaimedJob,
    announcement,
    failure_of,
    retry_delay,
    run_job,
)
from openmem_postgres.ingest_schema import IngestStatements
from openmem_postgres.store import OpenStore
from openmem_postgres.webhook_sender import WebhookSender

__all__ = ["IngestWorkers"]

_log = logging.getLogger("openmem_postgres.ingest")
_HAND_BACK_TIMEOUT = 2.0


class IngestWorkers:
    """``count`` queue workers on the running loop; see the module docstring."""

    def __init__(self, store: OpenStore, sql: IngestStatements, url: str, count: int) -> None:
        self._store = store
        self._sql = sql
        self._url = url
        self._count = count
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._listener: asyncpg.Connection | None = None
        self._sender = WebhookSender(store, sql.webhooks)
        self.processed = 0
        """Jobs this process finished (succeeded or dead-lettered)."""

    async def start(self) -> None:
        """Listen for enqueues and start the workers."""
        if self._count == 0 or self._tasks:
            return
        try:
            conn = await asyncpg.connect(self._url, timeout=self._store.options.connect_timeout)
            await conn.add_listener(self._sql.channel, self._notified)
            self._listener = conn
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
            _log.warning("ingest workers poll only; LISTEN failed: %r", exc)
        self._sender.start()
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._work(), name=f"openmem-ingest-{n}") for n in range(self._count)
        ]

    async def stop(self) -> None:
        """Cancel the workers, wait for them (interrupted jobs are handed back), unlisten."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=_HAND_BACK_TIMEOUT + 1)
        await self._sender.stop()
        listener, self._listener = self._listener, None
        if listener is not None:
            try:
                await asyncio.wait_for(listener.close(), _HAND_BACK_TIMEOUT)
            except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                listener.terminate()

    def _notified(self, *args: Any) -> None:
        self._wake.set()

    async def _work(self) -> None:
        opts = self._store.options
        while True:
            try:
                job = await self._claim()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is away: back off, keep the worker
                _log.warning("claiming an ingest job failed: %r", exc)
                job = None
            if job is None:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), opts.ingest_poll_interval)
                continue
            await self._run(job)

    async def _claim(self) -> ClaimedJob | None:
        rows = await self._store.runner.fetch(self._sql.claim, 1, self._store.options.ingest_lease)
        if not rows:
            return None
        row = rows[0]
        try:
            return ClaimedJob.from_row(row)
        except ValueError as exc:  # a row no run can read: dead-letter it, never loop on it
            key = (row["namespace"], row["id"], row["attempts"])
            await self._store.runner.fetchrow(
                self._sql.fail, *key, None, "invalid_request", f"unreadable job: {exc}"
            )
            return None

    async def _run(self, job: ClaimedJob) -> None:
        opts = self._store.options
        if job.attempts > job.max_attempts:
            # Its workers kept dying on it: dead-letter without another try.
            await self._record_failure(
                job, "provider_error", "abandoned: no worker finished it", None
            )
            return
        try:
            await run_job(self._store, self._sql, job)
        except asyncio.CancelledError:
            await self._hand_back(job)
            raise
        except Exception as exc:
            code, message, retry = failure_of(exc)
            _log.warning("ingest job %s attempt %d failed: %r", job.event_id, job.attempts, exc)
            delay = (
                retry_delay(job.attempts, opts.ingest_retry_base)
                if retry and job.attempts < job.max_attempts
                else None
            )
            await self._record_failure(job, code, message, delay)
            return
        self.processed += 1
        self._sender.wake()

    async def _record_failure(
        self, job: ClaimedJob, code: str, message: str, delay: float | None
    ) -> None:
        try:
            await self._store.runner.fetchrow(self._sql.fail, *job.key, delay, code, message)
        except Exception as exc:  # the lease brings the job back
            _log.warning("recording the failure of %s failed: %r", job.event_id, exc)
            return
        if delay is None:
            self.processed += 1
            payload = announcement(job, "memory.add_failed", "FAILED", [])
            payload["error"] = {"code": code, "message": message}
            try:
                await self._store.runner.fetchrow(
                    self._sql.webhooks.fan_out,
                    job.namespace,
                    job.event_id,
                    "memory.add_failed",
                    json.dumps(payload),
                )
            except Exception as exc:
                _log.warning("announcing the failure of %s failed: %r", job.event_id, exc)
            self._sender.wake()

    async def _hand_back(self, job: ClaimedJob) -> None:
        """Return an interrupted job at once (bounded); else its lease brings it back."""
        release = asyncio.ensure_future(self._store.runner.fetchrow(self._sql.release, *job.key))
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(release), _HAND_BACK_TIMEOUT)
