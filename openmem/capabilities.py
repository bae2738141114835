"""What a provider declares about itself: its verbs, features and limits.

Every ``True`` feature is proven by a conformance check (``openmem-conformance``); the
declared verbs decide which calls reach the provider at all (``openmem.gate``). Import the
models from ``openmem.models`` (or ``openmem``); this module is where they are defined.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from openmem.records import DEFAULT_MAX_CONTENT_LENGTH, OMP_VERSION, Verb, _Record


class CapabilityFeatures(_Record):
    """What a provider can do beyond the REQUIRED verbs. Every ``True`` is proven by a check."""

    vector_search: bool = False
    keyword_search: bool = False
    hybrid_search: bool = False
    graph_queries: bool = False
    temporal: bool = False
    scopes: Literal["native", "tags", "none"] = "native"
    max_content_length: int = DEFAULT_MAX_CONTENT_LENGTH
    supports_e2e: bool = False
    supports_audit: bool = False
    supports_supersession: bool = False
    metadata_filters: bool = False
    idempotency: bool = False
    batch_add: bool = False
    forget_user: bool = False
    async_ingestion: bool = False
    async_ingest: bool = False
    """``add(..., async_mode=True)`` queues the add and answers at once with an ``event_id``;
    ``get_event`` reports its ``IngestEvent``. ``async_ingestion`` means the backend itself
    may answer before a memory is readable."""
    cancellation: Literal["native", "thread", "none"] = "native"
    """``native``: the backend call itself is cancelled. ``thread``: the caller is released at
    once and the worker thread runs on, its result dropped. ``none``: not cancellable."""
    infer: Literal["none", "pipeline", "backend"] = "none"
    """``add(messages=..., infer=True)``: ``pipeline`` runs openmem's infer pipeline with the
    configured chat model (``openmem.llm``); ``backend`` hands the conversation to the
    backend's own inference (its behaviour, its LLM configuration); ``none``: not offered."""
    client_keys: bool = False
    """``add(..., key=)`` upserts the memory under a client-chosen key, unique per namespace,
    user and scope; ``get_by_key`` and ``delete_by_key`` reach it (see ``MemoryKey``)."""


class CapabilityLimits(_Record):
    """Hard limits the provider enforces."""

    max_search_results: int = 100
    max_list_limit: int = 500
    max_batch_size: int = 100
    max_token_budget: int = 100_000
    rate_limit_per_minute: int | None = None


class Capabilities(_Record):
    """What a provider declares about itself; cached by ``AsyncMemory``."""

    omp_version: str = OMP_VERSION
    provider: str
    verbs: list[Verb]
    features: CapabilityFeatures = Field(default_factory=CapabilityFeatures)
    limits: CapabilityLimits = Field(default_factory=CapabilityLimits)

    def supports(self, verb: str) -> bool:
        """Whether ``verb`` is declared."""
        return verb in self.verbs
