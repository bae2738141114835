"""Settings of the mem0 provider (OSS on worker threads, or the hosted platform)."""

from __future__ import annotations

import os
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

    max_workers: int = Field(default_factory=lambda: _default_executor_size(), ge=1, le=64)
    """Worker threads for calls in parallel (pgvector; the embedded stores serialise): by
    default as many as the loop's default executor that mem0's own ``AsyncMemory`` runs on,
    ``min(32, cpu_count + 4)`` (6 on two cores). A mem0 search is mostly waiting on its round
    trips to PostgreSQL; more threads than that only contend for the GIL and the cores
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


def _default_executor_size() -> int:
    """The thread count of asyncio's default executor on this machine (Python 3.8+)."""
    return min(32, (os.cpu_count() or 1) + 4)
