"""Settings of the Letta provider."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from openmem.provider import ProviderOptions

__all__ = ["LettaOptions"]


class LettaOptions(ProviderOptions):
    """Options of ``LettaProvider``; every field can come from ``OPENMEM_<FIELD>``.

    >>> LettaProvider(api_key="sk-let-...")                              # Letta cloud
    >>> LettaProvider(base_url="http://localhost:8283")                   # a self-hosted server
    >>> LettaProvider(base_url="http://localhost:8283", client="sync")    # the blocking client
    """

    api_key: SecretStr | None = None
    """Letta API key (``LETTA_API_KEY`` when unset); sent as ``Authorization: Bearer``."""
    base_url: str | None = None
    """The Letta server (``LETTA_BASE_URL``, else Letta cloud, ``https://api.letta.com``)."""
    project_id: str | None = None
    """Letta cloud project for the agents (the key's default project when unset)."""
    client: Literal["async", "sync"] = "async"
    """``async``: ``AsyncLetta``, every call natively cancellable (the default). ``sync``: the
    blocking ``Letta`` client on the provider's own bounded worker threads (thread tier), for
    deployments that pin it."""
    model: str = "openai/gpt-4o-mini"
    """LLM handle of the agents the provider creates (one per namespace and user)."""
    embedding: str = "openai/text-embedding-3-small"
    """Embedding handle of those agents: what archival search ranks by."""
    timeout: float = Field(default=30.0, gt=0.0)
    """Seconds per HTTP request."""
    max_retries: int = Field(default=2, ge=0, le=10)
    """Retries of the client on 408/409/429/5xx and connection errors; a ``Retry-After`` up to
    60 s is honoured between them. After the last, a 429 is ``RateLimitedError``."""
    max_workers: int = Field(default=4, ge=1, le=64)
    """``client="sync"``: worker threads for calls in flight."""
    max_abandoned: int = Field(default=32, ge=1, le=1024)
    """``client="sync"``: cancelled calls whose threads may still run before new calls are
    refused with ``provider_saturated``."""
    close_grace: float = Field(default=5.0, ge=0.0)
    """``client="sync"``: seconds ``close()`` waits for worker threads still running."""
