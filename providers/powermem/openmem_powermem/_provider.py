"""``PowermemProvider``: powermem behind openmem's verb set, on bounded worker threads.

powermem's ``Memory`` is synchronous and does not require a user: ``search`` without one
returns every user's memories, ``get`` without one answers for any id. The adapter passes
the caller's (namespace-qualified) user on every call *and* the shared base
(``openmem.translation.TranslatingProvider``) checks ownership of every row it returns, so
isolation does not depend on powermem's defaults. This module says only how to build
powermem and how to call it; powermem's integer ids travel as decimal strings.
"""

from __future__ import annotations

import asyncio
import builtins
from typing import Any, ClassVar

from openmem.offload import Offloader
from openmem.translation import RawMemory, TranslatingProvider
from openmem.translation.backend import AddInput
from openmem_powermem._backend import PowermemBackend, is_powermem_id
from openmem_powermem._options import PowermemOptions

__all__ = ["PowermemProvider"]


class PowermemProvider(TranslatingProvider[PowermemOptions, PowermemBackend]):
    """powermem (SQLite store, offline) behaving like every other provider.

    >>> async with AsyncMemory("powermem", data_dir="/tmp/pm") as mem:
    ...     await mem.add("prefers dark mode", user_id="u1")
    """

    name: ClassVar[str] = "powermem"
    third_party: ClassVar[tuple[str, ...]] = ("powermem",)
    Options = PowermemOptions
    sdk_updated_at_is_ours: ClassVar[bool] = True  # powermem bumps updated_at on every read

    # -- building powermem ---------------------------------------------------------------

    async def build_backend(self, offload: Offloader) -> PowermemBackend:
        # Its open() imports powermem (~2 s), on a worker thread like every call.
        return PowermemBackend(self.options, self._embedder, asyncio.get_running_loop())

    def serialize_calls(self) -> bool:
        return self.options.serialize

    # -- calling powermem (on worker threads) --------------------------------------------

    def fetch(self, backend: PowermemBackend, user: str, memory_id: str) -> RawMemory | None:
        if not is_powermem_id(memory_id):
            return None
        raw = backend.get(int(memory_id), user)
        return None if raw is None else _stringified(raw)

    def list_raw(self, backend: PowermemBackend, user: str) -> builtins.list[RawMemory]:
        return [_stringified(r) for r in backend.list_all(user)]

    def find_raw(
        self, backend: PowermemBackend, user: str, key: str, value: str
    ) -> RawMemory | None:
        found = backend.list_all(user, {key: value})
        return _stringified(found[0]) if found else None

    def search_raw(
        self, backend: PowermemBackend, user: str, query: str, top_k: int
    ) -> builtins.list[RawMemory]:
        return [_stringified(r) for r in backend.search(user, query, top_k)]

    def create_raw(
        self,
        backend: PowermemBackend,
        user: str,
        content: AddInput,
        metadata: dict[str, Any],
        infer: bool,
    ) -> builtins.list[RawMemory]:
        rows = backend.create(user, content, metadata, infer)
        return [_stringified(r) for r in rows if "id" in r]

    def write_raw(
        self,
        backend: PowermemBackend,
        user: str,
        current: RawMemory,
        content: str | None,
        metadata: dict[str, Any],
    ) -> None:
        # powermem's update always takes the text: the current one when it does not change.
        text = (
            content if content is not None else str(current.get("content") or current.get("memory"))
        )
        backend.update(int(current["id"]), user, text, metadata)

    def delete_raw(self, backend: PowermemBackend, user: str, current: RawMemory) -> bool:
        return backend.delete(int(current["id"]), user)


def _stringified(raw: RawMemory) -> RawMemory:
    """powermem's row with its integer id as a string (``get`` calls the text ``content``)."""
    row = dict(raw)
    row["id"] = str(row.get("id", row.get("memory_id")))
    return row
