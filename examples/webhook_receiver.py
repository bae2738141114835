"""A webhook receiver that verifies openmem's signature before trusting a delivery.

Register it (the secret is printed once), then run it with that secret::

    openmem webhooks add http://127.0.0.1:8765/hook --events memory.added
    OPENMEM_WEBHOOK_SECRET=whsec_... python examples/webhook_receiver.py --port 8765

It answers 204 to a delivery whose ``X-OpenMem-Signature`` matches the raw body and whose
timestamp is inside the replay window, and 401 to anything else (a tampered body, a replay,
a forged sender). openmem retries a delivery until it gets a 2xx; ``--fail-first N``
answers 500 to the first N valid deliveries, to watch that happen. Loopback receivers need
``webhook_allow_private = true`` on the server (webhook URLs to private networks are
refused by default).
"""

from __future__ import annotations

import argparse
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from openmem.errors import UnauthorizedError
from openmem.webhooks import verify_signature


class WebhookReceiver(ThreadingHTTPServer):
    """An HTTP server that keeps the deliveries it verified (``received``)."""

    def __init__(self, address: tuple[str, int], secret: str, *, fail_first: int = 0) -> None:
        super().__init__(address, _Handler)
        self.secret = secret
        self.fail_first = fail_first
        self.received: list[dict[str, Any]] = []
        self.refused = 0
        self.lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    server: WebhookReceiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        try:
            verify_signature(self.server.secret, body, dict(self.headers.items()))
        except UnauthorizedError as exc:
            with self.server.lock:
                self.server.refused += 1
            self._answer(401, str(exc))
            return
        with self.server.lock:
            if self.server.fail_first > 0:
                self.server.fail_first -= 1
                self._answer(500, "failing on purpose (--fail-first)")
                return
            self.server.received.append(json.loads(body))
        self._answer(204, "")

    def _answer(self, status: int, text: str) -> None:
        self.send_response(status)
        self.send_header("content-length", str(len(text.encode())))
        self.end_headers()
        if text:
            self.wfile.write(text.encode())

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: print only what was verified (see ``main``)."""


def main() -> None:
    """Serve until interrupted, printing every verified delivery."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--fail-first", type=int, default=0)
    args = parser.parse_args()
    secret = os.environ["OPENMEM_WEBHOOK_SECRET"]
    server = WebhookReceiver((args.host, args.port), secret, fail_first=args.fail_first)
    print(f"listening on http://{args.host}:{server.server_port}/", flush=True)
    seen = 0
    try:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        while True:
            threading.Event().wait(0.5)
            with server.lock:
                for delivery in server.received[seen:]:
                    print(json.dumps(delivery), flush=True)
                seen = len(server.received)
    except KeyboardInterrupt:
        server.shutdown()


if __name__ == "__main__":
    main()
