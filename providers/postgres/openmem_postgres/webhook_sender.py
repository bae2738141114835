"""Delivering webhooks: claim a delivery, POST it signed, record the outcome, retry.

Runs beside the ingest workers (``IngestWorkers``), in the SDK process or in
``openmem worker``. A delivery is retried with exponential backoff and jitter until the
receiver answers 2xx, and marked ``FAILED`` after ``webhook_max_attempts``. Every attempt
updates the delivery row (status code or error), which is the webhook's delivery log.
The URL is checked again before each attempt: a host that resolved to a public address at
registration may resolve to a private one now (DNS rebinding).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from typing import Any

import anyio
import httpx

from openmem.errors import OMPError
from openmem.webhooks import check_webhook_url, signature_headers
from openmem_postgres.ingest_queue import retry_delay
from openmem_postgres.store import OpenStore
from openmem_postgres.webhook_schema import WebhookStatements

__all__ = ["WebhookSender"]

_log = logging.getLogger("openmem_postgres.webhooks")
_LEASE = 60.0
_MAX_DELAY = 3600.0


@dataclass(frozen=True)
class _Claimed:
    namespace: str
    id: str
    event: str
    body: bytes
    attempts: int
    url: str
    secret: str

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.namespace, self.id, self.attempts)


class WebhookSender:
    """One task sending due deliveries; ``wake()`` makes it look at once."""

    def __init__(self, store: OpenStore, sql: WebhookStatements) -> None:
        self._store = store
        self._sql = sql
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None

    def start(self) -> None:
        """Start sending on the running loop."""
        if self._task is None:
            self._client = httpx.AsyncClient(timeout=10.0, follow_redirects=False)
            self._task = asyncio.get_running_loop().create_task(
                self._loop(), name="openmem-webhooks"
            )

    def wake(self) -> None:
        """Look for due deliveries now (a job just finished)."""
        self._wake.set()

    async def stop(self) -> None:
        """Stop sending; a delivery cut short is sent again when its lease passes."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait([task], timeout=5)
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def _loop(self) -> None:
        poll = self._store.options.ingest_poll_interval
        while True:
            try:
                claimed = await self._claim()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is away: try again later
                _log.warning("claiming webhook deliveries failed: %r", exc)
                claimed = []
            for delivery in claimed:
                await self._send(delivery)
            if not claimed:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), poll)

    async def _claim(self) -> list[_Claimed]:
        rows = await self._store.runner.fetch(self._sql.claim, 8, _LEASE)
        return [
            _Claimed(
                namespace=r["namespace"],
                id=r["id"],
                event=r["event"],
                body=json.dumps(_payload(r["payload"]), separators=(",", ":")).encode(),
                attempts=r["attempts"],
                url=r["url"],
                secret=r["secret"],
            )
            for r in rows
        ]

    async def _send(self, delivery: _Claimed) -> None:
        opts = self._store.options
        status: int | None = None
        try:
            await anyio.to_thread.run_sync(
                lambda: check_webhook_url(delivery.url, allow_private=opts.webhook_allow_private)
            )
            assert self._client is not None
            headers = signature_headers(delivery.secret, delivery.event, delivery.body)
            headers["X-OpenMem-Delivery"] = delivery.id
            response = await self._client.post(delivery.url, content=delivery.body, headers=headers)
            status = response.status_code
            if 200 <= status < 300:
                await self._store.runner.fetchrow(self._sql.delivered, *delivery.key, status)
                return
            error = f"HTTP {status}"
        except asyncio.CancelledError:
            raise
        except (OMPError, httpx.HTTPError, OSError) as exc:
            error = exc.message if isinstance(exc, OMPError) else f"{type(exc).__name__}: {exc}"
        delay: float | None = None
        if delivery.attempts < opts.webhook_max_attempts:
            delay = min(retry_delay(delivery.attempts, opts.webhook_retry_base), _MAX_DELAY)
        try:
            await self._store.runner.fetchrow(
                self._sql.failed, *delivery.key, status, error[:500], delay
            )
        except Exception as exc:  # the lease brings the delivery back
            _log.warning("recording webhook delivery %s failed: %r", delivery.id, exc)


def _payload(raw: Any) -> Any:
    return json.loads(raw) if isinstance(raw, str) else raw
