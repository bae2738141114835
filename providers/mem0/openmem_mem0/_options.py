"""Settings of the mem0 provider (OSS on worker threads, or the hosted platform)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, SecretStr

from openmem.translation import TranslationOptions

__all__ = ["Mem0Options"]


class Mem0Options(TranslationOptions):
    """Options of ``Mem0Provider``; every field can come from ``OPENMEM_<FIELD>``.

    OSS (the default) runs ``mem0.Memory`` offline with openmem's embedder::

        Mem0Provider(vector_store="qdrant", data_dir="/var/lib/app")      # embedded qdrant
        Mem0Provider(vector_store="pgvector", url="postgresql://...")     # shared Postgres

    Platform talks to the hosted API::

        Mem0Provider(mode="platform", api_key="m0-...")

    The settings every translation adapter shares (``data_dir``: the embedded store, mem0's
    history database and ``MEM0_DIR``; ``collection``; ``infer``; ``llm``, mem0's config;
    worker threads) are ``TranslationOptions``'.
    """

    data_dir_name: ClassVar[str] = "mem0"

    max_workers: int = Field(default=8, ge=1, le=64)
    """Worker threads for calls in parallel (pgvector; the embedded stores serialise). Eight,
    not the translation base's four: a mem0 search is mostly waiting on its four round trips
    to PostgreSQL, and mem0's own ``AsyncMemory`` runs six at once on two cores
    (benchmarks/thread_tier.py --concurrency 32)."""

    mode: Literal["oss", "platform"] = "oss"
    vector_store: Literal["qdrant", "pgvector", "faiss"] = "qdrant"
    """``qdrant`` and ``faiss`` are embedded (a directory under ``data_dir``, one process at a
    time, calls serialised); ``pgvector`` needs ``url`` and runs calls in parallel."""
    url: str | None = None
    """PostgreSQL connection string for ``pgvector``."""
    api_key: SecretStr | None = None
    """Platform API key (``MEM0_API_KEY`` when unset)."""
    host: str | None = None
    """Platform base URL (``https://api.mem0.ai`` by default)."""
    async_mode: bool = True
    """Platform: queue adds (``status="queued"``) instead of waiting for processing."""
    ingest_timeout: float = Field(default=60.0, gt=0.0)
    """Platform: how long ``wait_for_ingest`` polls before ``IngestionTimeoutError``."""
    ingest_poll_interval: float = Field(default=0.5, gt=0.0)
