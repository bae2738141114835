"""Client-chosen keys: reaching a memory by the key it was put under.

``add(..., key=...)`` is the put (an upsert, see ``MemoryInput.key``); the two verbs here
read and delete by that key. ``AsyncMemory`` inherits them, ``Memory`` mirrors them. Keys
are unique per (namespace, user, scope) and need ``features.client_keys``.
"""

from __future__ import annotations

from openmem.arguments import build_request
from openmem.gate import require_feature
from openmem.lifecycle import MemoryLifecycle
from openmem.models import MemoryKey, MemoryRecord

__all__ = ["KeyedVerbs"]


class KeyedVerbs(MemoryLifecycle):
    """``get_by_key`` and ``delete_by_key``, the by-key half of ``AsyncMemory``."""

    async def get_by_key(self, key: str, *, user_id: str, scope: str | None = None) -> MemoryRecord:
        """The memory of ``user_id`` put under ``key`` in ``scope``; ``NotFoundError`` if none.

        ``scope=None`` is the unscoped space: a key put with ``scope="ui"`` is found only with
        ``scope="ui"``.

        >>> await mem.add("dark", user_id="u1", scope="prefs", key="theme")
        >>> (await mem.get_by_key("theme", user_id="u1", scope="prefs")).content
        'dark'
        """
        await self._binding.admit()
        caller = self._caller(user_id)
        where = build_request(MemoryKey, key=key, scope=scope)
        require_feature(await self._binding.ready(), "client_keys", "client-chosen keys")
        return await self._provider.get_by_key(caller, where)

    async def delete_by_key(self, key: str, *, user_id: str, scope: str | None = None) -> None:
        """Delete the memory of ``user_id`` put under ``key`` in ``scope``; ``NotFoundError``
        if there is none."""
        await self._binding.admit()
        caller = self._caller(user_id)
        where = build_request(MemoryKey, key=key, scope=scope)
        require_feature(await self._binding.ready(), "client_keys", "client-chosen keys")
        await self._provider.delete_by_key(caller, where)
