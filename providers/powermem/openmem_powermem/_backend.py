"""powermem's synchronous ``Memory`` on its SQLite store, built offline."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from openmem.embedders import Embedder
from openmem.translation import embed_blocking
from openmem.translation.backend import MemoryObjectBackend
from openmem_powermem._options import PowermemOptions

__all__ = ["PowermemBackend", "RawMemory", "is_powermem_id"]

RawMemory = dict[str, Any]
_LIST_PAGE = 1_000
# Never called while infer=False; powermem builds an LLM client at construction regardless.
_DUMMY_LLM = {"provider": "openai", "config": {"api_key": "sk-openmem-unused"}}


def is_powermem_id(value: str) -> bool:
    """Whether ``value`` can be a powermem id (a non-negative 64-bit decimal integer)."""
    return value.isascii() and value.isdigit() and len(value) <= 20 and int(value) < 2**64


class PowermemBackend(MemoryObjectBackend):
    """A ``powermem.Memory`` whose embedder is openmem's. Every method blocks."""

    sdk = "powermem"

    def __init__(
        self, options: PowermemOptions, embedder: Embedder, loop: asyncio.AbstractEventLoop
    ) -> None:
        self.options = options
        self._embedder = embedder
        self._loop = loop
        self._memory: Any = None

    def open(self) -> None:
        from powermem import Memory

        # powermem's AuditLogger attaches a FileHandler for ./audit.log (in the current
        # directory, whatever the config says) to the process-wide "audit" logger unless it
        # already has a handler. Its audit is off below; a NullHandler keeps the file away.
        audit = logging.getLogger("audit")
        if not audit.handlers:
            audit.addHandler(logging.NullHandler())

        data_dir = self.options.resolved_data_dir()
        data_dir.mkdir(parents=True, exist_ok=True)
        config = {
            "vector_store": {
                "provider": "sqlite",
                "config": {
                    "database_path": str(data_dir / f"{self.options.collection}.db"),
                    "collection_name": self.options.collection,
                },
            },
            "llm": self.options.llm or _DUMMY_LLM,
            "embedder": {"provider": "mock", "config": {"embedding_dims": self._embedder.dim}},
            "telemetry": {"enable_telemetry": False},
            # The Ebbinghaus plugin rewrites (and may delete) memories on powermem's own
            # background threads after a search: data loss, and it races close().
            "intelligent_memory": {"enabled": False},
            "audit": {"enabled": False},
        }
        memory = Memory(config=config)
        # The mock embedder object is shared by powermem's storage adapter: give it our
        # vectors by replacing its methods on the instance.
        memory.embedding.embed = self._embed
        memory.embedding.embed_batch = self._embed_batch
        self._memory = memory

    def _embed(self, text: str, memory_action: str | None = None) -> list[float]:
        return self._embed_batch([text])[0]

    def _embed_batch(self, texts: list[str], memory_action: str | None = None) -> list[list[float]]:
        return embed_blocking(self._embedder, self._loop, texts)

    def close(self) -> None:
        memory, self._memory = self._memory, None
        store = getattr(getattr(memory, "storage", None), "vector_store", None)
        if store is not None and hasattr(store, "close"):
            store.close()

    def get(self, memory_id: int, user: str) -> RawMemory | None:
        # Always scoped: without user_id powermem answers for any user.
        raw: RawMemory | None = self.memory.get(memory_id, user_id=user)
        return raw

    def list_all(self, user: str, filters: dict[str, Any] | None = None) -> list[RawMemory]:
        rows: list[RawMemory] = []
        offset = 0
        while True:
            result = self.memory.get_all(
                user_id=user, limit=_LIST_PAGE, offset=offset, filters=filters
            )
            batch = list(result.get("results", []))
            rows.extend(batch)
            if len(batch) < _LIST_PAGE:
                return rows
            offset += _LIST_PAGE

    def search(self, user: str, query: str, limit: int) -> list[RawMemory]:
        result = self.memory.search(query, user_id=user, limit=limit)
        return list(result.get("results", []))

    def update(self, memory_id: int, user: str, content: str, metadata: dict[str, Any]) -> None:
        self.memory.update(memory_id, content, user_id=user, metadata=metadata)

    def delete(self, memory_id: int, user: str) -> bool:
        return bool(self.memory.delete(memory_id, user_id=user))
