"""The base of local contract fakes: stand-ins for hosted services that cannot be reached.

A contract fake reproduces one service's documented wire format (paths, bodies, status codes,
error bodies, pagination, rate limits) so that the service's OFFICIAL client library runs
against it unmodified. It is never the service: the ranking, timing and storage behind the
wire are simplified, and each fake's docstring says what it reproduces and what it does not.

A subclass implements one method, ``respond(request) -> httpx.Response``; the base adds
what every fake needs and serves it three ways:

- ``fake.asgi``: an ASGI application (``uvicorn``, ``httpx.ASGITransport``);
- ``fake.transport``: an ``httpx`` transport for a client built in-process;
- ``with fake.serve() as base_url:``: a real HTTP server on an ephemeral loopback port, in a
  thread (needs ``uvicorn``), for clients that only take a URL, such as the conformance CLI.

Common behaviour, for every route: the API key check (``Authorization: Bearer <key>``),
injected failures (``fail_next``: a status, a body and headers such as ``Retry-After``, for
the next N requests), an optional per-request ``latency``, and a log of ``requests``.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

__all__ = ["ContractFake", "InjectedFailure"]

ASGIMessage = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[ASGIMessage]]
Send = Callable[[ASGIMessage], Awaitable[None]]


@dataclass(frozen=True)
class InjectedFailure:
    """A response the fake gives instead of the real answer (rate limit, outage, ...)."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class ContractFake:
    """Base class: API key check, injected failures, latency, request log, three ways to serve.

    ``unauthorized_body`` is the body of the service's 401 answer.
    """

    unauthorized_body: dict[str, Any] = {"detail": "Unauthorized"}  # noqa: RUF012 - read only

    def __init__(self, api_key: str, *, latency: float = 0.0) -> None:
        self.api_key = api_key
        self.latency = latency
        self.requests: list[tuple[str, str]] = []
        self._failures: deque[InjectedFailure] = deque()
        self._lock = threading.Lock()

    # -- what a subclass implements ----------------------------------------------------

    def respond(self, request: httpx.Request) -> httpx.Response:
        """The service's answer to one authenticated request (called under the fake's lock)."""
        raise NotImplementedError

    # -- common behaviour --------------------------------------------------------------

    def fail_next(
        self,
        status: int,
        body: dict[str, Any],
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next ``times`` requests with ``status`` and ``body`` instead."""
        with self._lock:
            for _ in range(times):
                self._failures.append(InjectedFailure(status, body, dict(headers or {})))

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request: log it, check the key, give an injected failure or respond."""
        with self._lock:
            self.requests.append((request.method, request.url.path))
            if request.headers.get("Authorization") != f"Bearer {self.api_key}":
                return httpx.Response(401, json=self.unauthorized_body)
            if self._failures:
                failure = self._failures.popleft()
                return httpx.Response(failure.status, json=failure.body, headers=failure.headers)
            return self.respond(request)

    @property
    def transport(self) -> httpx.MockTransport:
        """An ``httpx`` transport (sync and async clients) answering as the service would."""
        return httpx.MockTransport(self.handle)

    async def asgi(self, scope: ASGIMessage, receive: Receive, send: Send) -> None:
        """The fake as an ASGI application."""
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        query = scope.get("query_string", b"").decode()
        url = httpx.URL(
            scheme=scope.get("scheme", "http"),
            host="fake",
            path=scope["path"],
            query=query.encode(),
        )
        headers = [(k.decode(), v.decode()) for k, v in scope.get("headers", [])]
        request = httpx.Request(scope["method"], url, headers=headers, content=body)
        if self.latency:
            await asyncio.sleep(self.latency)
        response = self.handle(request)
        await send(
            {
                "type": "http.response.start",
                "status": response.status_code,
                "headers": [
                    (k.encode(), v.encode())
                    for k, v in response.headers.items()
                    if k.lower() != "content-length"
                ]
                + [(b"content-length", str(len(response.content)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": response.content})

    @contextmanager
    def serve(self) -> Iterator[str]:
        """Serve the fake over HTTP on an ephemeral loopback port; yields its base URL."""
        import uvicorn

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.asgi, log_level="warning", lifespan="off", access_log=False, interface="asgi3"
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="contract-fake", daemon=True
        )
        thread.start()
        deadline = time.monotonic() + 10.0
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the contract fake's HTTP server did not start")
            time.sleep(0.01)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            thread.join(10.0)
            sock.close()
