"""Signed webhooks: what is sent, how it is signed and verified, and which URLs are refused.

A webhook is registered per namespace with the events it wants (``memory.added`` when a
queued add succeeded, ``memory.add_failed`` when it was dead-lettered). Each delivery is a
JSON ``POST`` with three headers::

    X-OpenMem-Event: memory.added
    X-OpenMem-Timestamp: 1767225600
    X-OpenMem-Signature: v1=<hex HMAC-SHA256 of "<timestamp>.<body>" with the secret>

A receiver recomputes the signature over the raw body (``verify_signature``) and refuses a
timestamp outside its replay window (5 minutes by default). Deliveries are retried with
backoff until the receiver answers 2xx. A URL whose host resolves to a loopback, link-local,
private or otherwise non-public address is refused (``check_webhook_url``) unless the
operator allows it: a webhook must not become a way into the operator's own network (SSRF).

Providers that store webhooks implement ``WebhookRegistry`` (the postgres provider does).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import socket
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Literal, Protocol, runtime_checkable
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from openmem.errors import InvalidRequestError, UnauthorizedError

__all__ = [
    "EVENT_HEADER",
    "REPLAY_WINDOW",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "WEBHOOK_EVENTS",
    "Webhook",
    "WebhookDelivery",
    "WebhookEvent",
    "WebhookRegistry",
    "check_webhook_url",
    "sign_payload",
    "signature_headers",
    "verify_signature",
]

WebhookEvent = Literal["memory.added", "memory.add_failed"]
WEBHOOK_EVENTS: tuple[WebhookEvent, ...] = ("memory.added", "memory.add_failed")
EVENT_HEADER = "X-OpenMem-Event"
TIMESTAMP_HEADER = "X-OpenMem-Timestamp"
SIGNATURE_HEADER = "X-OpenMem-Signature"
REPLAY_WINDOW = 300.0
"""Seconds a signed delivery stays acceptable to ``verify_signature`` by default."""


class Webhook(BaseModel):
    """A registered webhook. ``secret`` is shown once, in the answer to its creation."""

    model_config = ConfigDict(frozen=True)

    id: str
    url: str
    events: list[WebhookEvent]
    created_at: datetime
    secret: str | None = None


class WebhookDelivery(BaseModel):
    """One line of a webhook's delivery log: an event, its attempts and its outcome."""

    model_config = ConfigDict(frozen=True)

    id: str
    webhook_id: str
    event: WebhookEvent
    status: Literal["PENDING", "DELIVERED", "FAILED"]
    attempts: int = 0
    last_status_code: int | None = None
    last_error: str | None = None
    created_at: datetime
    delivered_at: datetime | None = None
    payload: dict[str, object] = Field(default_factory=dict)


@runtime_checkable
class WebhookRegistry(Protocol):
    """What a provider that stores and delivers webhooks offers (per namespace)."""

    async def add_webhook(
        self, namespace: str, url: str, events: Sequence[WebhookEvent]
    ) -> Webhook: ...

    async def list_webhooks(self, namespace: str) -> list[Webhook]: ...

    async def remove_webhook(self, namespace: str, webhook_id: str) -> None: ...

    async def webhook_deliveries(
        self, namespace: str, webhook_id: str, limit: int = 100
    ) -> list[WebhookDelivery]: ...


def sign_payload(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header value of ``body`` sent at ``timestamp``: ``v1=<hex>``."""
    message = str(timestamp).encode() + b"." + body
    return "v1=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_headers(
    secret: str, event: str, body: bytes, *, now: float | None = None
) -> dict[str, str]:
    """The headers of one delivery of ``body``."""
    timestamp = int(now if now is not None else time.time())
    return {
        "content-type": "application/json",
        EVENT_HEADER: event,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign_payload(secret, timestamp, body),
    }


def verify_signature(
    secret: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    tolerance: float = REPLAY_WINDOW,
    now: float | None = None,
) -> None:
    """Raise ``UnauthorizedError`` unless ``body`` carries a valid, fresh signature.

    ``headers`` is looked up case-insensitively. Compare in constant time; refuse a
    timestamp more than ``tolerance`` seconds away (a replayed delivery).
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    raw_timestamp = lowered.get(TIMESTAMP_HEADER.lower(), "")
    given = lowered.get(SIGNATURE_HEADER.lower(), "")
    try:
        timestamp = int(raw_timestamp)
    except ValueError:
        raise UnauthorizedError("missing or malformed webhook timestamp") from None
    current = now if now is not None else time.time()
    if abs(current - timestamp) > tolerance:
        raise UnauthorizedError("webhook timestamp outside the replay window")
    expected = sign_payload(secret, timestamp, body)
    if not hmac.compare_digest(expected.encode(), given.encode()):
        raise UnauthorizedError("webhook signature does not match the body")


def check_webhook_url(url: str, *, allow_private: bool = False) -> None:
    """Refuse a URL that is not http(s), or whose host resolves to a non-public address.

    Blocking (it resolves the host name): call it on a worker thread from async code.
    ``allow_private`` lets loopback and private networks through (development, a receiver
    inside the operator's network).
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidRequestError("a webhook URL is http(s)://host/...", field="url")
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise InvalidRequestError(f"webhook host does not resolve: {exc}", field="url") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global or address.is_multicast:
            raise InvalidRequestError(
                f"webhook URL resolves to a non-public address ({address}); refused unless "
                "webhooks to private networks are allowed",
                field="url",
            )
