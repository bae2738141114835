"""Settings of the powermem provider (its SQLite store, offline, on worker threads)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field

from openmem.embedders import EmbedderOptions

__all__ = ["PowermemOptions", "default_data_dir"]


def default_data_dir() -> Path:
    """``$OPENMEM_DATA_DIR/powermem``, else ``~/.local/share/openmem/powermem``."""
    base = os.environ.get("OPENMEM_DATA_DIR")
    root = Path(base) if base else Path.home() / ".local" / "share" / "openmem"
    return root / "powermem"


class PowermemOptions(EmbedderOptions):
    """Options of ``PowermemProvider``; every field can come from ``OPENMEM_<FIELD>``.

    >>> PowermemProvider(data_dir="/var/lib/app", embedder="hashing")
    """

    data_dir: str | None = None
    """Where the SQLite database lives (``<data_dir>/<collection>.db``)."""
    collection: str = Field(default="openmem", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,47}$")
    infer: bool = False
    """Let powermem's LLM extract and merge facts (needs ``llm``); off by default."""
    llm: dict[str, Any] | None = None
    """powermem ``llm`` config, used only when inferring."""
    serialize: bool = True
    """One powermem call at a time. Its SQLite store locks internally, but concurrent add and
    query through one ``Memory`` are reported unsafe upstream (powercontext#264)."""
    max_workers: int = Field(default=4, ge=1, le=64)
    max_abandoned: int = Field(default=32, ge=1, le=1024)
    gil_switch_interval: float | None = Field(default=0.001, gt=0, le=0.005)
    """Lower the process's GIL switch interval to this (seconds) so Python work on the worker
    threads cannot hold the event loop up for the default 5 ms; None leaves it alone."""
    close_grace: float = Field(default=5.0, ge=0.0)

    def resolved_data_dir(self) -> Path:
        """The data directory (created on open)."""
        return Path(self.data_dir) if self.data_dir else default_data_dir()
