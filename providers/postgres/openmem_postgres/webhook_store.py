"""Registering webhooks per namespace, and reading their delivery log (``WebhookRegistry``)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from typing import Any

import anyio
import asyncpg
from ulid import ULID

from openmem.errors import InvalidRequestError, NotFoundError
from openmem.webhooks import (
    WEBHOOK_EVENTS,
    Webhook,
    WebhookDelivery,
    WebhookEvent,
    check_webhook_url,
)
from openmem_postgres.runner import PROVIDER
from openmem_postgres.store import OpenStore
from openmem_postgres.webhook_schema import WebhookStatements

__all__ = ["add_webhook", "list_webhooks", "remove_webhook", "webhook_deliveries"]


async def add_webhook(
    store: OpenStore,
    sql: WebhookStatements,
    namespace: str,
    url: str,
    events: Sequence[WebhookEvent],
) -> Webhook:
    """Register ``url`` for ``events``; the answer carries the signing secret, shown once."""
    if not events or any(e not in WEBHOOK_EVENTS for e in events):
        raise InvalidRequestError(
            f"events must be some of {', '.join(WEBHOOK_EVENTS)}", field="events"
        )
    if len(url) > 2048:
        raise InvalidRequestError("a webhook URL is at most 2048 characters", field="url")
    allow = store.options.webhook_allow_private
    await anyio.to_thread.run_sync(lambda: check_webhook_url(url, allow_private=allow))
    secret = f"whsec_{secrets.token_urlsafe(32)}"
    row = await store.runner.fetchrow(
        sql.add, namespace, f"whk_{ULID()}", url, sorted(set(events)), secret
    )
    assert row is not None
    return _webhook(row).model_copy(update={"secret": secret})


async def list_webhooks(store: OpenStore, sql: WebhookStatements, namespace: str) -> list[Webhook]:
    """The namespace's webhooks, oldest first (secrets never shown again)."""
    return [_webhook(r) for r in await store.runner.fetch(sql.list, namespace)]


async def remove_webhook(
    store: OpenStore, sql: WebhookStatements, namespace: str, webhook_id: str
) -> None:
    """Remove a webhook and its delivery log; ``NotFoundError`` if the namespace has none."""
    if await store.runner.fetchval(sql.remove, namespace, webhook_id) is None:
        raise NotFoundError(f"no webhook {webhook_id!r}", provider=PROVIDER)


async def webhook_deliveries(
    store: OpenStore, sql: WebhookStatements, namespace: str, webhook_id: str, limit: int
) -> list[WebhookDelivery]:
    """The webhook's delivery log, newest first."""
    if await store.runner.fetchval(sql.exists, namespace, webhook_id) is None:
        raise NotFoundError(f"no webhook {webhook_id!r}", provider=PROVIDER)
    rows = await store.runner.fetch(sql.deliveries, namespace, webhook_id, limit)
    return [_delivery(r) for r in rows]


def _webhook(row: asyncpg.Record) -> Webhook:
    return Webhook(
        id=row["id"], url=row["url"], events=list(row["events"]), created_at=row["created_at"]
    )


def _delivery(row: asyncpg.Record) -> WebhookDelivery:
    payload: Any = row["payload"]
    return WebhookDelivery(
        id=row["id"],
        webhook_id=row["webhook_id"],
        event=row["event"],
        status=row["status"],
        attempts=row["attempts"],
        last_status_code=row["last_status"],
        last_error=row["last_error"],
        created_at=row["created_at"],
        delivered_at=row["delivered_at"],
        payload=json.loads(payload) if isinstance(payload, str) else payload,
    )
