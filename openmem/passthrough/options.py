"""The options of the passthrough provider (``OPENMEM_BASE_URL``, ``OPENMEM_API_KEY``, ...)."""

from __future__ import annotations

import httpx
from pydantic import ConfigDict, Field, SecretStr, field_validator

from openmem.provider import ProviderOptions

__all__ = ["PassthroughOptions"]


class PassthroughOptions(ProviderOptions):
    """Options of the passthrough provider."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    base_url: str
    """The OMP server, e.g. ``http://127.0.0.1:8080`` (no trailing path needed)."""
    api_key: SecretStr | None = None
    """Sent as ``Authorization: Bearer <key>``."""
    timeout: float = Field(default=30.0, gt=0)
    """Seconds for the whole answer of one request."""
    connect_timeout: float = Field(default=5.0, gt=0)
    retries: int = Field(default=2, ge=0, le=10)
    """Retries of an idempotent call after a retryable error."""
    backoff: float = Field(default=0.2, ge=0)
    """Base of the exponential backoff, in seconds (full jitter)."""
    max_backoff: float = Field(default=5.0, ge=0)
    max_retry_after: float = Field(default=30.0, ge=0)
    """A ``Retry-After`` longer than this is not waited for: the error is raised."""
    max_connections: int = Field(default=100, ge=1)
    keepalive_expiry: float = Field(default=2.0, ge=0)
    """Seconds an idle pooled connection is kept. Shorter than servers' own keep-alive
    (uvicorn 5 s, nginx 75 s), so the client never reuses a connection the server is closing."""
    clamp_scores: bool = False
    """Clamp a server's scores outside [0, 1] into range (counted, with a warning) instead of
    refusing the answer with ``invalid_response``."""
    transport: httpx.AsyncBaseTransport | None = Field(default=None, exclude=True, repr=False)
    """An httpx transport to use instead of the network (tests)."""

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        try:
            url = httpx.URL(value)
        except httpx.InvalidURL as exc:
            raise ValueError(f"base_url is not a valid URL: {exc}") from None
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError("base_url must be an http:// or https:// URL")
        return value.rstrip("/")
