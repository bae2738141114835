"""Signed webhooks on PostgreSQL: SSRF guard, signature, retry until 2xx, delivery log."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openmem_postgres import PostgresProvider

from openmem import AsyncMemory
from openmem.errors import InvalidRequestError, NotFoundError
from openmem.webhooks import signature_headers

_EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "webhook_receiver.py"


def _receiver_module() -> Any:
    spec = importlib.util.spec_from_file_location("webhook_receiver", _EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def receiver_factory() -> Iterator[Any]:
    servers: list[Any] = []
    module = _receiver_module()

    def start(secret: str, fail_first: int = 0) -> Any:
        server = module.WebhookReceiver(("127.0.0.1", 0), secret, fail_first=fail_first)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _memory(postgres_url: str, namespace: str, **options: Any) -> AsyncMemory:
    return AsyncMemory(
        provider="postgres",
        url=postgres_url,
        embedder="hashing",
        namespace=namespace,
        pool_max_size=3,
        ingest_poll_interval=0.05,
        **options,
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "ftp://example.com/hook",
    ],
)
async def test_webhook_urls_to_private_networks_are_refused(
    postgres_url: str, pg_namespace: str, url: str
) -> None:
    async with _memory(postgres_url, pg_namespace, ingest_workers=0) as mem:
        provider = mem.provider
        assert isinstance(provider, PostgresProvider)
        with pytest.raises(InvalidRequestError) as refused:
            await provider.add_webhook(pg_namespace, url, ["memory.added"])
        assert refused.value.field == "url"
        assert await provider.list_webhooks(pg_namespace) == []


async def test_deliveries_are_signed_retried_after_a_500_and_logged(
    postgres_url: str, pg_namespace: str, receiver_factory: Any
) -> None:
    async with _memory(
        postgres_url, pg_namespace, webhook_allow_private=True, webhook_retry_base=0.05
    ) as mem:
        provider = mem.provider
        assert isinstance(provider, PostgresProvider)
        hook = await provider.add_webhook(pg_namespace, "http://127.0.0.1:1/x", ["memory.added"])
        assert hook.secret is not None
        await provider.remove_webhook(pg_namespace, hook.id)
        with pytest.raises(NotFoundError):
            await provider.remove_webhook(pg_namespace, hook.id)

        receiver = receiver_factory("pending", fail_first=1)
        url = f"http://127.0.0.1:{receiver.server_port}/hook"
        hook = await provider.add_webhook(pg_namespace, url, ["memory.added"])
        assert hook.secret is not None
        receiver.secret = hook.secret
        assert [h.id for h in await provider.list_webhooks(pg_namespace)] == [hook.id]
        assert (await provider.list_webhooks(pg_namespace))[0].secret is None

        queued = await mem.add("announce me", user_id="alice", async_mode=True)
        for _ in range(600):
            if receiver.received:
                break
            await asyncio.sleep(0.05)
        assert receiver.received, "no verified delivery arrived"
        (payload,) = receiver.received
        assert payload["event"] == "memory.added"
        assert payload["event_id"] == queued.event_id
        assert payload["memory_ids"] == [queued.id]
        assert payload["user_id"] == "alice"
        log: list[Any] = []
        for _ in range(100):
            log = await provider.webhook_deliveries(pg_namespace, hook.id)
            if log and log[0].status == "DELIVERED":
                break
            await asyncio.sleep(0.05)
        (delivery,) = log
        assert (delivery.status, delivery.attempts, delivery.last_status_code) == (
            "DELIVERED",
            2,
            204,
        )


async def test_the_example_receiver_rejects_a_tampered_body(receiver_factory: Any) -> None:
    receiver = receiver_factory("whsec_test")
    url = f"http://127.0.0.1:{receiver.server_port}/hook"
    body = json.dumps({"event": "memory.added", "memory_ids": ["mem_1"]}).encode()
    headers = signature_headers("whsec_test", "memory.added", body)
    tampered = body.replace(b"mem_1", b"mem_2")
    async with httpx.AsyncClient() as client:
        assert (await client.post(url, content=tampered, headers=headers)).status_code == 401
        forged = signature_headers("another secret", "memory.added", body)
        assert (await client.post(url, content=body, headers=forged)).status_code == 401
        stale = signature_headers("whsec_test", "memory.added", body, now=1.0)
        assert (await client.post(url, content=body, headers=stale)).status_code == 401
        assert (await client.post(url, content=body, headers=headers)).status_code == 204
    assert receiver.received == [json.loads(body)]
    assert receiver.refused == 3
