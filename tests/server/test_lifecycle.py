"""Disconnects cancel the verb, shutdown drains, health reflects the provider."""

from __future__ import annotations

import asyncio
import builtins
import threading
from collections.abc import Callable
from typing import Any

import httpx
from asgi_lifespan import LifespanManager

from openmem.errors import ProviderUnavailableError
from openmem.inmemory import InMemoryProvider
from openmem.models import SearchHit, SearchQuery
from openmem.provider import Caller


class _SlowSearch(InMemoryProvider):
    """Search takes ``delay`` seconds; notes entry, cancellation, completion and close."""

    def __init__(self, delay: float = 30.0) -> None:
        super().__init__()
        self.delay = delay
        self.entered = threading.Event()
        self.cancelled = threading.Event()
        self.events: list[str] = []

    async def search(self, caller: Caller, query: SearchQuery) -> builtins.list[SearchHit]:
        self.entered.set()
        try:
            await asyncio.sleep(self.delay)
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        self.events.append("search done")
        return []

    async def close(self) -> None:
        self.events.append("closed")
        await super().close()


def _search_scope() -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/memories/search",
        "raw_path": b"/memories/search",
        "query_string": b"q=x&user_id=u1",
        "root_path": "",
        "headers": [(b"host", b"omp.test")],
        "client": ("127.0.0.1", 1),
        "server": ("omp.test", 80),
    }


async def test_client_disconnect_cancels_the_verb(app_factory: Callable[..., Any]) -> None:
    provider = _SlowSearch()
    app = app_factory(provider)
    gone = asyncio.Event()
    messages = [{"type": "http.request", "body": b"", "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async with LifespanManager(app) as manager:
        call = asyncio.create_task(manager.app(_search_scope(), receive, send))
        await asyncio.wait_for(asyncio.to_thread(provider.entered.wait, 5), 6)
        gone.set()
        await asyncio.wait_for(call, 5)
    assert provider.cancelled.is_set()
    assert sent == []  # nobody to answer


async def test_disconnect_over_a_real_socket_cancels_the_verb(
    live: Callable[..., Any], app_factory: Callable[..., Any]
) -> None:
    provider = _SlowSearch()
    with live(app_factory(provider)) as server:
        async with httpx.AsyncClient(base_url=server.url) as http:
            request = asyncio.create_task(http.get("/memories/search?q=x&user_id=u1"))
            await asyncio.wait_for(asyncio.to_thread(provider.entered.wait, 5), 6)
            request.cancel()
        assert await asyncio.to_thread(provider.cancelled.wait, 5)


async def test_shutdown_drains_in_flight_requests(
    live: Callable[..., Any], app_factory: Callable[..., Any]
) -> None:
    provider = _SlowSearch(delay=0.5)
    with live(app_factory(provider)) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
            request = asyncio.create_task(http.get("/memories/search?q=x&user_id=u1"))
            await asyncio.wait_for(asyncio.to_thread(provider.entered.wait, 5), 6)
            server.server.should_exit = True
            response = await asyncio.wait_for(request, 10)
    assert response.status_code == 200
    assert provider.events == ["search done", "closed"]


class _Down(InMemoryProvider):
    async def health(self) -> None:
        raise ProviderUnavailableError("database is down")


class _Hanging(InMemoryProvider):
    async def health(self) -> None:
        await asyncio.sleep(30)


async def test_healthz_is_503_when_the_provider_is_down(
    asgi: Callable[..., Any], app_factory: Callable[..., Any]
) -> None:
    async with asgi(app_factory(_Down())) as http:
        response = await http.get("/healthz")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "provider_unavailable"


async def test_healthz_is_503_when_the_probe_hangs(
    asgi: Callable[..., Any], app_factory: Callable[..., Any]
) -> None:
    async with asgi(app_factory(_Hanging(), health_timeout=0.05)) as http:
        response = await asyncio.wait_for(http.get("/healthz"), 5)
    assert response.status_code == 503


async def test_the_provider_is_closed_on_shutdown(
    asgi: Callable[..., Any], app_factory: Callable[..., Any]
) -> None:
    provider = _SlowSearch()
    async with asgi(app_factory(provider)) as http:
        assert (await http.get("/healthz")).status_code == 200
    assert provider.events == ["closed"]
