"""The request context around every route: ids, body limit, disconnects, logs, metrics.

One pure-ASGI middleware, outermost in the app, so that it sees every request, even the ones
the framework refuses:

- **Request id.** ``X-Request-Id`` is echoed when it is sane (``[A-Za-z0-9._-]{1,64}``),
  else a new one is generated; it is stored in ``scope["state"]`` for the error envelope and
  the ``Caller``, and sent back on every answer, with ``OMP-Version``.
- **Body limit.** The body is read here, bounded by ``max_body_bytes`` (``Content-Length``
  is checked first), and replayed to the app; a larger body gets ``413 payload_too_large``
  before anything parses it. A body that has not all arrived within ``body_timeout``
  seconds gets ``400 invalid_request`` (a slow client cannot hold a request open).
- **In-flight limit.** Beyond ``max_in_flight`` requests at once, one more answers
  ``503 provider_saturated`` with ``Retry-After`` before authentication or parsing;
  ``/healthz`` and ``/metrics`` are not counted, so probes still see the truth.
- **Disconnects.** Once the body is read, a watcher waits for ``http.disconnect``; when the
  client goes away before the answer is complete, the app (and so the provider verb) is
  cancelled. The access log records status 499 for it.
- **Access log.** One line per request on logger ``openmem.server.access``: method, route
  *template*, status, latency and request id. Method and route come from closed sets (an
  unknown method is ``OTHER``, an unknown route ``-``), so metric labels stay bounded
  whatever a client sends. Never bodies, query strings, headers or raw
  paths, which can hold user ids and keys.
- **Last resort.** An exception that escapes the app becomes ``500 internal_error`` in the
  envelope; the traceback goes to the server log, never to the client.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

import anyio
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openmem.errors import (
    InternalError,
    InvalidRequestError,
    OMPError,
    PayloadTooLargeError,
    ProviderSaturatedError,
)
from openmem.models import OMP_VERSION
from openmem.server.envelope import error_body, error_headers
from openmem.server.metrics import ServerMetrics

__all__ = ["ACCESS_LOGGER", "CLIENT_CLOSED_REQUEST", "RequestContextMiddleware"]

ACCESS_LOGGER = "openmem.server.access"
CLIENT_CLOSED_REQUEST = 499
"""The status logged for a request whose client went away (nginx's convention)."""

_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._\-]{1,64}")
_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_UNCOUNTED_PATHS = frozenset({"/healthz", "/metrics"})
_access_log = logging.getLogger(ACCESS_LOGGER)
_error_log = logging.getLogger("openmem.server")


class _TooLarge(Exception):
    pass


class _ClientGone(Exception):
    pass


class RequestContextMiddleware:
    """Request ids, the body limit, disconnect cancellation, access log and metrics."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        metrics: ServerMetrics | None = None,
        body_timeout: float | None = None,
        max_in_flight: int | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.metrics = metrics
        self.body_timeout = body_timeout
        self.max_in_flight = max_in_flight
        self._counted = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started_at = time.perf_counter()
        request_id = _request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        progress = _Progress()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["x-request-id"] = request_id
                headers["omp-version"] = OMP_VERSION
                progress.status = int(message["status"])
                progress.started = True
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                progress.complete = True
            await send(message)

        counted = scope.get("path") not in _UNCOUNTED_PATHS
        if self.metrics is not None:
            self.metrics.in_flight.inc()
        try:
            if counted and self.max_in_flight is not None and self._counted >= self.max_in_flight:
                error = ProviderSaturatedError(
                    f"the server is handling its limit of {self.max_in_flight} requests",
                    retry_after=1,
                )
                await _send_error(send_with_id, error, request_id, self.metrics)
                return
            self._counted += int(counted)
            try:
                await self._handle(scope, receive, send_with_id, progress, request_id)
            finally:
                self._counted -= int(counted)
        finally:
            if self.metrics is not None:
                self.metrics.in_flight.dec()
            self._record(scope, progress, request_id, time.perf_counter() - started_at)

    async def _handle(
        self, scope: Scope, receive: Receive, send: Send, progress: _Progress, request_id: str
    ) -> None:
        try:
            with anyio.fail_after(self.body_timeout):
                body = await self._read_body(scope, receive)
        except TimeoutError:
            error: OMPError = InvalidRequestError(
                f"the request body did not arrive within {self.body_timeout:g} seconds",
                field="body",
            )
            await _send_error(send, error, request_id, self.metrics)
            return
        except _TooLarge:
            error = PayloadTooLargeError(
                f"the request body is larger than {self.max_body_bytes} bytes"
            )
            await _send_error(send, error, request_id, self.metrics)
            return
        except _ClientGone:
            progress.disconnected = True
            return

        replayed = False
        gone = anyio.Event()

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            await gone.wait()
            return {"type": "http.disconnect"}

        async with anyio.create_task_group() as group:

            async def watch() -> None:
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        gone.set()
                        if not progress.complete:
                            progress.disconnected = True
                            group.cancel_scope.cancel()
                        return

            group.start_soon(watch)
            try:
                await self.app(scope, replay, send)
            except Exception:
                _error_log.exception("unhandled error (request %s)", request_id)
                if not progress.started:
                    await _send_error(
                        send, InternalError("internal server error"), request_id, self.metrics
                    )
            group.cancel_scope.cancel()

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes:
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            raise _TooLarge
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise _TooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _record(self, scope: Scope, progress: _Progress, request_id: str, seconds: float) -> None:
        route = _route_label(scope)
        status = CLIENT_CLOSED_REQUEST if progress.disconnected else (progress.status or 500)
        method = str(scope.get("method", "-"))
        method = method if method in _KNOWN_METHODS else "OTHER"
        _access_log.info(
            "%s %s %d %.1fms req=%s", method, route, status, seconds * 1000.0, request_id
        )
        if self.metrics is not None:
            self.metrics.observe(method, route, status, seconds)
            if progress.disconnected:
                self.metrics.disconnects.labels(route).inc()


class _Progress:
    __slots__ = ("complete", "disconnected", "started", "status")

    def __init__(self) -> None:
        self.status: int | None = None
        self.started = False
        self.complete = False
        self.disconnected = False


def _route_label(scope: Scope) -> str:
    """The route template, never the raw path (raw paths can hold user ids)."""
    template = getattr(scope.get("route"), "path", None)
    if template:
        return str(template)
    # Framework routes (the docs, the OpenAPI document) are plain routes without
    # parameters: their path is their template.
    if "endpoint" in scope and not scope.get("path_params"):
        return str(scope.get("path", "-"))
    return "-"


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            candidate: str = value.decode("latin-1")
            if _SANE_REQUEST_ID.fullmatch(candidate):
                return candidate
            break
    return uuid.uuid4().hex


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send_error(
    send: Send, error: OMPError, request_id: str, metrics: ServerMetrics | None
) -> None:
    body = error_body(error, request_id)
    headers: list[Any] = [(k.encode(), v.encode()) for k, v in error_headers(error).items()]
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": error.http_status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
    if metrics is not None:
        metrics.errors.labels(error.error_code).inc()
