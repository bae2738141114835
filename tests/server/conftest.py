"""Fixtures for the server tests: apps over the in-memory provider, keys, live servers."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from openmem.inmemory import InMemoryProvider
from openmem.provider import Provider
from openmem.server import KeyStore, ServerSettings, create_app
from openmem.server.serving import uvicorn_config


@pytest.fixture
def key_store(tmp_path: Path) -> KeyStore:
    """An empty key store in a temporary directory."""
    return KeyStore(tmp_path / "keys.json")


AppFactory = Callable[..., Any]


@asynccontextmanager
async def serve_asgi(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan running, and a client that talks to it in process."""
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://omp.test") as client:
            yield client


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """A client of a no-auth server over a fresh in-memory provider."""
    app = create_app(ServerSettings(auth=False), provider=InMemoryProvider())
    async with serve_asgi(app) as http:
        yield http


@dataclass
class AuthedServer:
    """A server with API keys, its key store and its client (no credentials by default)."""

    client: httpx.AsyncClient
    store: KeyStore

    def key(self, **restrictions: Any) -> dict[str, str]:
        """Headers carrying a new key with these restrictions (namespace defaults to 'a')."""
        restrictions.setdefault("namespace", "a")
        key, _ = self.store.create(**restrictions)
        return {"authorization": f"Bearer {key}"}


@pytest.fixture
async def authed(key_store: KeyStore) -> AsyncIterator[AuthedServer]:
    """A server that requires API keys, over a fresh in-memory provider."""
    key_store.create(namespace="bootstrap", label="lets the server start")
    app = create_app(ServerSettings(), provider=InMemoryProvider(), key_store=key_store)
    async with serve_asgi(app) as http:
        yield AuthedServer(http, key_store)


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class LiveServer:
    """A real uvicorn server on loopback, running on its own thread and loop."""

    url: str
    server: uvicorn.Server
    thread: threading.Thread


@contextmanager
def live_server(
    app: FastAPI, *, graceful_timeout: int = 5, settings: ServerSettings | None = None
) -> Iterator[LiveServer]:
    """Run ``app`` under uvicorn in a thread; bounded waits on start and stop.

    With ``settings``, uvicorn is configured exactly as ``openmem serve`` configures it
    (``uvicorn_config``), on a free loopback port.
    """
    port = free_port()
    if settings is not None:
        served = settings.model_copy(update={"host": "127.0.0.1", "port": port})
        config = uvicorn_config(app, served)
    else:
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=graceful_timeout,
        )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    for _ in range(500):
        if server.started:
            break
        if not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        threading.Event().wait(0.01)
    else:
        raise RuntimeError("uvicorn did not start within 5 s")
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", server, thread)
    finally:
        server.should_exit = True
        thread.join(timeout=graceful_timeout + 5)
        assert not thread.is_alive(), "uvicorn did not stop"


def make_app(provider: Provider[Any] | None = None, **settings: Any) -> FastAPI:
    """A no-auth app over ``provider`` (a fresh in-memory one by default)."""
    settings.setdefault("auth", False)
    return create_app(ServerSettings(**settings), provider=provider or InMemoryProvider())


@pytest.fixture
def asgi() -> Callable[[FastAPI], Any]:
    """``async with asgi(app) as client``: the app with its lifespan, in process."""
    return serve_asgi


@pytest.fixture
def live() -> Callable[..., Any]:
    """``with live(app) as server``: the app under a real uvicorn on loopback."""
    return live_server


@pytest.fixture
def app_factory() -> Callable[..., FastAPI]:
    """``app_factory(provider=None, **settings)``: a no-auth app by default."""
    return make_app
