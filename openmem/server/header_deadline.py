"""A read deadline on request headers, for uvicorn: a slowloris client is cut off.

uvicorn's h11 protocol waits for headers as long as bytes keep coming (its
``timeout_keep_alive`` only runs between requests, and every byte resets it), so a client
dribbling one header byte at a time holds a connection forever. ``header_deadline_protocol``
builds an ``H11Protocol`` subclass (uvicorn's ``Config(http=...)`` seam) that starts a timer
at the first byte of each request and, when the headers are not complete in time, answers
``400 invalid_request`` (``field: "headers"``) in the OMP envelope and closes the connection.
Other connections are untouched: each has its own timer on the event loop.

The body's own deadline (``body_timeout``) is the request middleware's, once the headers are in.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from openmem.errors import InvalidRequestError

__all__ = ["header_deadline_protocol"]


def header_deadline_protocol(header_timeout: float) -> type[H11Protocol]:
    """uvicorn's h11 protocol with ``header_timeout`` seconds for each request's headers."""

    class HeaderDeadlineProtocol(_HeaderDeadlineProtocol):
        timeout = header_timeout

    return HeaderDeadlineProtocol


class _HeaderDeadlineProtocol(H11Protocol):
    timeout: float
    _deadline: asyncio.TimerHandle | None = None
    _waiting_for: object = None
    """The cycle that was current when the timer started: a new one means headers arrived."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start()

    def data_received(self, data: bytes) -> None:
        if self._deadline is None and (self.cycle is None or self.cycle.response_complete):
            self._start()  # the first bytes of the next request on a kept-alive connection
        super().data_received(data)
        if self._deadline is not None and self.cycle is not self._waiting_for:
            self._stop()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop()
        super().connection_lost(exc)

    def _start(self) -> None:
        self._waiting_for = self.cycle
        self._deadline = self.loop.call_later(self.timeout, self._expire)

    def _stop(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        if self.transport.is_closing() or self.cycle is not self._waiting_for:
            return
        self.logger.warning("request headers did not arrive within %gs; closing", self.timeout)
        # h11 cannot send a response before it has read a request: the bytes are written
        # directly, and the connection closes after them.
        error = InvalidRequestError(
            f"the request headers did not arrive within {self.timeout:g} seconds",
            field="headers",
        )
        body = json.dumps(error.to_envelope(), separators=(",", ":")).encode("utf-8")
        head = (
            "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
        )
        self.transport.write(head.encode("ascii") + body)
        with contextlib.suppress(h11.LocalProtocolError):  # the transport closes either way
            self.conn.send(h11.ConnectionClosed())
        self.transport.close()
