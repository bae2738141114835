"""Settings of the Supermemory provider."""

from __future__ import annotations

from pydantic import Field, SecretStr

from openmem.provider import ProviderOptions

__all__ = ["SupermemoryOptions"]


class SupermemoryOptions(ProviderOptions):
    """Options of ``SupermemoryProvider``; every field can come from ``OPENMEM_<FIELD>``.

    >>> SupermemoryProvider(api_key="sm_...")
    >>> SupermemoryProvider(api_key="sm_...", base_url="https://supermemory.internal")
    """

    api_key: SecretStr | None = None
    """Supermemory API key (``SUPERMEMORY_API_KEY`` when unset); sent as a Bearer token."""
    base_url: str | None = None
    """The API root (``https://api.supermemory.ai`` by default)."""
    timeout: float = Field(default=30.0, gt=0.0)
    """Seconds per HTTP request."""
    max_retries: int = Field(default=2, ge=0, le=10)
    """Retries of the client on 408/429/5xx, waiting as ``Retry-After`` says (else with
    backoff). After the last, a 429 is ``RateLimitedError`` with ``retry_after``."""
