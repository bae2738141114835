"""Bounded before authentication: metric labels, body read deadline, requests in flight."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from openmem.inmemory import InMemoryProvider
from openmem.models import ListQuery, MemoryPage
from openmem.provider import Caller


async def test_unknown_methods_and_routes_share_one_metric_label(
    asgi: Callable[[FastAPI], Any], app_factory: Callable[..., FastAPI]
) -> None:
    async with asgi(app_factory()) as http:
        for index in range(5):
            answer = await http.request(f"FOO{index}", f"/nowhere/{index}")
            assert answer.status_code in (404, 405)
            assert "error" in answer.json()
        text = (await http.get("/metrics")).text
    assert "FOO" not in text
    assert "nowhere" not in text
    assert 'method="OTHER",route="-"' in text


async def test_a_body_that_does_not_arrive_in_time_is_refused(
    app_factory: Callable[..., FastAPI],
) -> None:
    app = app_factory(body_timeout=0.05)
    sent: list[dict[str, Any]] = []
    first = True

    async def receive() -> dict[str, Any]:
        nonlocal first
        if first:
            first = False
            return {"type": "http.request", "body": b'{"content": ', "more_body": True}
        await anyio.sleep(3600)  # the rest never comes (cancelled by the deadline)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "path": "/memories",
        "raw_path": b"/memories",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 2),
        "scheme": "http",
        "root_path": "",
    }
    async with LifespanManager(app) as manager:
        with anyio.fail_after(10):
            await manager.app(scope, receive, send)
    assert sent[0]["status"] == 400
    assert b'"field":"body"' in sent[1]["body"]


class _HeldList(InMemoryProvider):
    """``list`` waits for ``release``: a request that stays in flight as long as needed."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = anyio.Event()
        self.release = anyio.Event()

    async def list(self, caller: Caller, query: ListQuery) -> MemoryPage:
        self.entered.set()
        await self.release.wait()
        return await super().list(caller, query)


async def test_beyond_the_in_flight_limit_is_503_with_retry_after(
    asgi: Callable[[FastAPI], Any], app_factory: Callable[..., FastAPI]
) -> None:
    provider = _HeldList()
    async with asgi(app_factory(provider=provider, max_in_flight=1)) as http:
        answers: list[httpx.Response] = []

        async def held() -> None:
            answers.append(await http.get("/memories", params={"user_id": "u1"}))

        async with anyio.create_task_group() as group:
            group.start_soon(held)
            with anyio.fail_after(10):
                await provider.entered.wait()
            refused = await http.get("/memories", params={"user_id": "u1"})
            health = await http.get("/healthz")
            provider.release.set()
        after = await http.get("/memories", params={"user_id": "u1"})
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "1"
    assert refused.json()["error"]["code"] == "provider_saturated"
    assert health.status_code == 200
    assert [a.status_code for a in answers] == [200]
    assert after.status_code == 200
