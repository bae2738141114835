"""The synchronous surface the provider drives on its worker threads (OSS or platform)."""

from __future__ import annotations

from typing import Any, Protocol

from openmem.translation.backend import AddInput

__all__ = ["Mem0Backend", "RawMemory"]

RawMemory = dict[str, Any]
"""A memory as mem0 returns it: ``id``, ``memory``, ``metadata``, timestamps, ``user_id``."""


class Mem0Backend(Protocol):
    """What ``Mem0Provider`` needs from a mem0 deployment. Every method blocks."""

    thread_safe: bool
    """False for embedded stores: the provider then serialises every call."""
    async_ingestion: bool
    """True when ``create`` may answer before the memory is readable (platform)."""

    def open(self) -> None:
        """Build clients and create the collection; called once, on a worker thread."""

    def close(self) -> None:
        """Release clients, pools and file locks."""

    def create(
        self, user: str, content: AddInput, metadata: dict[str, Any], infer: bool
    ) -> list[RawMemory]:
        """Store ``content``; returns mem0's add results (ids, or queued events)."""

    def get(self, memory_id: str) -> RawMemory | None:
        """The memory, whoever owns it, or None."""

    def list_all(self, user: str) -> list[RawMemory]:
        """Every memory of ``user``."""

    def find(self, user: str, key: str, value: str) -> RawMemory | None:
        """A memory of ``user`` whose flat metadata ``key`` equals ``value``."""

    def search(self, user: str, query: str, top_k: int, threshold: float) -> list[RawMemory]:
        """mem0's ranking for ``query`` among ``user``'s memories, best first."""

    def update(self, memory_id: str, content: str | None, metadata: dict[str, Any]) -> None:
        """Replace the text (when given) and merge ``metadata`` into the memory's."""

    def delete(self, memory_id: str) -> None:
        """Delete the memory."""

    def history(self, memory_id: str) -> list[RawMemory]:
        """mem0's change history of one memory."""
