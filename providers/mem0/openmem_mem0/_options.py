"""Settings of the mem0 provider (OSS on worker threads, or the hosted platform)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr

from openmem.embedders import EmbedderOptions

__all__ = ["Mem0Options", "default_data_dir"]


def default_data_dir() -> Path:
    """``$OPENMEM_DATA_DIR/mem0``, else ``~/.local/share/openmem/mem0``."""
    base = os.environ.get("OPENMEM_DATA_DIR")
    root = Path(base) if base else Path.home() / ".local" / "share" / "openmem"
    return root / "mem0"


class Mem0Options(EmbedderOptions):
    """Options of ``Mem0Provider``; every field can come from ``OPENMEM_<FIELD>``.

    OSS (the default) runs ``mem0.Memory`` offline with openmem's embedder::

        Mem0Provider(vector_store="qdrant", data_dir="/var/lib/app")      # embedded qdrant
        Mem0Provider(vector_store="pgvector", url="postgresql://...")     # shared Postgres

    Platform talks to the hosted API::

        Mem0Provider(mode="platform", api_key="m0-...")
    """

    mode: Literal["oss", "platform"] = "oss"
    vector_store: Literal["qdrant", "pgvector", "faiss"] = "qdrant"
    """``qdrant`` and ``faiss`` are embedded (a directory under ``data_dir``, one process at a
    time, calls serialised); ``pgvector`` needs ``url`` and runs calls in parallel."""
    url: str | None = None
    """PostgreSQL connection string for ``pgvector``."""
    data_dir: str | None = None
    """Where the embedded store, mem0's history database and ``MEM0_DIR`` live."""
    collection: str = Field(default="openmem", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,47}$")
    infer: bool = False
    """Let mem0's LLM extract facts from the content (needs ``llm``); off by default."""
    llm: dict[str, Any] | None = None
    """mem0 ``llm`` config (``{"provider": ..., "config": {...}}``), used only when inferring."""
    max_workers: int = Field(default=4, ge=1, le=64)
    max_abandoned: int = Field(default=32, ge=1, le=1024)
    gil_switch_interval: float | None = Field(default=0.001, gt=0, le=0.005)
    """Lower the process's GIL switch interval to this (seconds) so Python work on the worker
    threads cannot hold the event loop up for the default 5 ms; None leaves it alone."""
    close_grace: float = Field(default=5.0, ge=0.0)
    """Seconds ``close()`` waits for worker threads still running."""
    api_key: SecretStr | None = None
    """Platform API key (``MEM0_API_KEY`` when unset)."""
    host: str | None = None
    """Platform base URL (``https://api.mem0.ai`` by default)."""
    async_mode: bool = True
    """Platform: queue adds (``status="queued"``) instead of waiting for processing."""
    ingest_timeout: float = Field(default=60.0, gt=0.0)
    """Platform: how long ``wait_for_ingest`` polls before ``IngestionTimeoutError``."""
    ingest_poll_interval: float = Field(default=0.5, gt=0.0)

    def resolved_data_dir(self) -> Path:
        """The data directory (created on open)."""
        return Path(self.data_dir) if self.data_dir else default_data_dir()
