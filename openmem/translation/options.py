"""The settings every translation adapter has, whatever its SDK."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from openmem.embedders import EmbedderOptions
from openmem.environment import data_root

__all__ = ["TranslationOptions"]


class TranslationOptions(EmbedderOptions):
    """Data directory, worker threads and inference: shared by mem0, powermem and their kind.

    A subclass names its default data directory with ``data_dir_name`` and adds its SDK's
    own settings.
    """

    data_dir_name: ClassVar[str] = "translation"
    """This adapter's folder under the data root."""

    data_dir: str | None = None
    """The data root (default: ``$OPENMEM_DATA_DIR``, else the user data dir): the SDK's
    local stores live in ``<data_dir>/<data_dir_name>``, beside the other providers'."""
    collection: str = Field(default="openmem", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,47}$")
    infer: bool = False
    """Let the SDK's LLM extract facts from the content (needs ``llm``); off by default."""
    llm: dict[str, Any] | None = None
    """The SDK's ``llm`` config (``{"provider": ..., "config": {...}}``), used only when
    inferring."""
    max_workers: int = Field(default=4, ge=1, le=64)
    max_abandoned: int = Field(default=32, ge=1, le=1024)
    gil_switch_interval: float | None = Field(default=0.001, gt=0, le=0.005)
    """Lower the process's GIL switch interval to this (seconds) so Python work on the worker
    threads cannot hold the event loop up for the default 5 ms; None leaves it alone."""
    close_grace: float = Field(default=5.0, ge=0.0)
    """Seconds ``close()`` waits for worker threads still running."""

    @classmethod
    def default_data_dir(cls) -> Path:
        """``<data root>/<data_dir_name>`` (``$OPENMEM_DATA_DIR``, else the user data dir)."""
        return data_root() / cls.data_dir_name

    def resolved_data_dir(self) -> Path:
        """This adapter's folder, ``<data_dir>/<data_dir_name>`` (created on open).

        ``data_dir`` is a root shared with the other providers, as ``OPENMEM_DATA_DIR`` is.
        """
        if self.data_dir:
            return Path(self.data_dir) / self.data_dir_name
        return self.default_data_dir()
