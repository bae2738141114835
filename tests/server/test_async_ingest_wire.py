"""The wire of queued adds: 202 with an event, ``GET /events/{id}``, on the postgres provider."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from openmem_postgres import PostgresProvider

from openmem.server import ServerSettings, create_app

from .conftest import live_server, serve_asgi


@pytest.fixture
async def pg_client(postgres_url: str, pg_namespace: str) -> AsyncIterator[httpx.AsyncClient]:
    provider = PostgresProvider(
        embedder="hashing", url=postgres_url, pool_max_size=3, ingest_poll_interval=0.05
    )
    app = create_app(ServerSettings(auth=False, namespace=pg_namespace), provider=provider)
    async with serve_asgi(app) as http:
        yield http


async def _event_done(client: httpx.AsyncClient, event_id: str, user: str) -> dict[str, Any]:
    for _ in range(400):
        answer = await client.get(f"/events/{event_id}", params={"user_id": user})
        assert answer.status_code == 200, answer.text
        event: dict[str, Any] = answer.json()
        if event["status"] in ("SUCCEEDED", "FAILED"):
            return event
        await asyncio.sleep(0.025)
    raise AssertionError("the event never finished")


async def test_an_async_add_answers_202_with_an_event_that_succeeds(
    pg_client: httpx.AsyncClient,
) -> None:
    answer = await pg_client.post(
        "/memories", params={"async_mode": "true"}, json={"content": "hi", "user_id": "ann"}
    )
    assert answer.status_code == 202, answer.text
    queued = answer.json()
    assert queued["status"] == "queued"
    assert queued["event_id"].startswith("evt_")
    event = await _event_done(pg_client, queued["event_id"], "ann")
    assert (event["status"], event["memory_ids"]) == ("SUCCEEDED", [queued["id"]])
    stored = await pg_client.get(f"/memories/{queued['id']}", params={"user_id": "ann"})
    assert stored.json()["status"] == "done"


async def test_a_synchronous_add_still_answers_201(pg_client: httpx.AsyncClient) -> None:
    answer = await pg_client.post("/memories", json={"content": "hi", "user_id": "ann"})
    assert answer.status_code == 201
    assert answer.json()["event_id"] is None


async def test_an_async_batch_answers_202_with_one_event(pg_client: httpx.AsyncClient) -> None:
    answer = await pg_client.post(
        "/memories:batch",
        params={"async_mode": "true"},
        json={"user_id": "ann", "items": [{"content": "a"}, {"content": "b"}]},
    )
    assert answer.status_code == 202, answer.text
    items = answer.json()["items"]
    assert len({i["event_id"] for i in items}) == 1
    event = await _event_done(pg_client, items[0]["event_id"], "ann")
    assert event["memory_ids"] == [i["id"] for i in items]


async def test_another_users_event_is_not_found(pg_client: httpx.AsyncClient) -> None:
    answer = await pg_client.post(
        "/memories", params={"async_mode": "true"}, json={"content": "x", "user_id": "ann"}
    )
    other = await pg_client.get(f"/events/{answer.json()['event_id']}", params={"user_id": "bob"})
    assert other.status_code == 404
    assert other.json()["error"]["code"] == "not_found"


async def test_async_mode_on_a_provider_without_queue_is_unsupported(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.post(
        "/memories", params={"async_mode": "true"}, json={"content": "x", "user_id": "ann"}
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "unsupported_capability"
    event = await client.get("/events/evt_x", params={"user_id": "ann"})
    assert event.json()["error"]["code"] == "unsupported_capability"


async def test_webhooks_are_managed_over_the_api(pg_client: httpx.AsyncClient) -> None:
    refused = await pg_client.post(
        "/webhooks", json={"url": "http://127.0.0.1:9/hook", "events": ["memory.added"]}
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["field"] == "url"
    bad_event = await pg_client.post(
        "/webhooks", json={"url": "https://example.com/hook", "events": ["memory.eaten"]}
    )
    assert bad_event.status_code == 400
    assert (await pg_client.get("/webhooks")).json() == {"items": []}
    missing = await pg_client.delete("/webhooks/whk_missing")
    assert missing.status_code == 404


async def test_webhooks_on_a_provider_without_them_are_unsupported(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.get("/webhooks")
    assert answer.json()["error"]["code"] == "unsupported_capability"


async def test_only_an_unrestricted_key_manages_webhooks(authed: Any) -> None:
    narrow = authed.key(users=["ann"])
    answer = await authed.client.get("/webhooks", headers=narrow)
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "scope_denied"


@pytest.mark.parametrize(
    "name",
    [
        "async_add_is_queued_and_its_event_succeeds",
        "async_batch_writes_each_item_exactly_once",
        "events_are_bounded_by_user",
    ],
)
async def test_passthrough_to_a_postgres_server_passes_the_async_ingest_group(
    postgres_url: str, pg_namespace: str, name: str
) -> None:
    from openmem_conformance.harness import run_check
    from openmem_conformance.registry import CHECKS

    from openmem.passthrough import PassthroughProvider

    provider = PostgresProvider(
        embedder="hashing", url=postgres_url, pool_max_size=3, ingest_poll_interval=0.05
    )
    app = create_app(ServerSettings(auth=False, namespace=pg_namespace), provider=provider)
    with live_server(app) as server:
        await run_check(CHECKS[name], PassthroughProvider(base_url=server.url))
