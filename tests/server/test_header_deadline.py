"""Request headers have a read deadline under ``openmem serve``'s uvicorn (slowloris).

A real uvicorn server configured as ``openmem serve`` configures it, real sockets. No
wall-clock assertion a loaded machine could break: the close must happen while the client is
still dribbling bytes (well before a generous bound), and another client is served meanwhile.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from openmem.inmemory import InMemoryProvider
from openmem.server import ServerSettings, create_app

from .conftest import LiveServer, live_server

HEADER_TIMEOUT = 0.5
GIVE_UP_AFTER = 60.0
"""A bound only a hang reaches: the deadline is 0.5 s, the dribble keeps going until this."""


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    settings = ServerSettings(auth=False, header_timeout=HEADER_TIMEOUT, log_level="critical")
    app = create_app(settings, provider=InMemoryProvider())
    with live_server(app, settings=settings) as running:
        yield running


def _connect(server: LiveServer) -> socket.socket:
    address = urlsplit(server.url)
    sock = socket.create_connection((address.hostname, address.port), timeout=GIVE_UP_AFTER)
    sock.settimeout(0.1)
    return sock


_PARTIAL_HEAD = b"GET /healthz HTTP/1.1\r\nHost: openmem\r\nX-Slow: "


def _dribble_until_closed(sock: socket.socket, *, dribble: bool = True) -> tuple[bytes, int]:
    """Send one header byte every 0.1 s until the server closes; what it said, bytes sent.

    A close can come as a reset: the server closed with a dribbled byte still unread, and
    the kernel then says so with RST (the answer may be lost with it).
    """
    sock.sendall(_PARTIAL_HEAD)
    received, sent, started = b"", 0, time.monotonic()
    while time.monotonic() - started < GIVE_UP_AFTER:
        try:
            chunk = sock.recv(4096)
        except TimeoutError:
            chunk = None
        except ConnectionResetError:
            return received, sent
        if chunk == b"":
            return received, sent
        if chunk:
            received += chunk
            continue
        if dribble:
            try:
                sock.sendall(b"a")
            except OSError:  # reset: closed while we were writing
                return received, sent
            sent += 1
    raise AssertionError(f"still open after {GIVE_UP_AFTER} s of dribbled header bytes")


def test_a_client_dribbling_header_bytes_is_disconnected(server: LiveServer) -> None:
    with _connect(server) as sock:
        received, sent = _dribble_until_closed(sock)
    # Bytes kept arriving (each resets uvicorn's own keep-alive timer): only the deadline ends it.
    assert sent >= 1
    assert not received or received.startswith(b"HTTP/1.1 400 "), received[:200]


def test_headers_that_stop_arriving_get_a_400_in_the_envelope(server: LiveServer) -> None:
    with _connect(server) as sock:
        received, _ = _dribble_until_closed(sock, dribble=False)
    assert received.startswith(b"HTTP/1.1 400 "), received[:200]
    assert b"connection: close" in received
    assert b'"field":"headers"' in received
    assert b'"code":"invalid_request"' in received


def test_other_clients_are_served_while_one_dribbles(server: LiveServer) -> None:
    outcome: dict[str, object] = {}

    def slowloris() -> None:
        with _connect(server) as sock:
            outcome["slow"] = _dribble_until_closed(sock)

    thread = threading.Thread(target=slowloris)
    thread.start()
    try:
        with httpx.Client(base_url=server.url, timeout=GIVE_UP_AFTER) as client:
            answers = [client.get("/healthz").status_code for _ in range(3)]
    finally:
        thread.join(GIVE_UP_AFTER + 5)
    assert answers == [200, 200, 200]
    assert "slow" in outcome, "the dribbling client was not disconnected"


def test_a_kept_alive_connection_idle_between_requests_is_not_cut(server: LiveServer) -> None:
    # Idle time between requests is the keep-alive timer's (5 s), not the header deadline:
    # the second request, after an idle longer than the deadline, is served.
    with httpx.Client(base_url=server.url, timeout=GIVE_UP_AFTER) as client:
        first = client.get("/healthz")
        time.sleep(HEADER_TIMEOUT * 3)
        second = client.get("/healthz")
        assert first.status_code == second.status_code == 200
        assert client.get("/healthz").status_code == 200


def test_the_deadline_is_a_server_option_with_a_few_seconds_default() -> None:
    assert ServerSettings().header_timeout == 5.0
    with pytest.raises(ValueError, match="header_timeout"):
        ServerSettings(header_timeout=0)
