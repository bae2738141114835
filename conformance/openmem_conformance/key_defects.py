"""Deliberately broken providers for the ``client_keys`` checks, one defect each.

Like ``openmem_conformance.defects``: the in-memory reference provider with one behaviour
of client-chosen keys bent, so each check of ``checks.client_keys`` is proven able to fail.
None of these is registered as a provider.
"""

from __future__ import annotations

import asyncio

from openmem.inmemory import InMemoryProvider
from openmem.models import MemoryInput, MemoryKey, MemoryRecord
from openmem.provider import Caller

__all__ = [
    "KEY_DEFECTS",
    "ConcurrentPutsRace",
    "DeleteByKeyEmptiesTheScope",
    "KeysIgnoreScope",
    "PutAddsASecondMemory",
    "ReplacingPutAuditedAsAdd",
]


class PutAddsASecondMemory(InMemoryProvider):
    """A put over an existing key adds another memory instead of replacing it."""

    async def add(self, caller: Caller, item: MemoryInput) -> MemoryRecord:
        if item.key is None:
            return await super().add(caller, item)
        return await _add_beside(self, caller, item)


class KeysIgnoreScope(InMemoryProvider):
    """A key names one memory per user whatever the scope: the scope is not part of it."""

    def _keyed(self, caller: Caller, where: MemoryKey):  # type: ignore[no-untyped-def]
        for stored in self._owned_all(caller):
            if stored.record.key == where.key:
                return stored
        return None


class DeleteByKeyEmptiesTheScope(InMemoryProvider):
    """delete_by_key deletes every memory of the key's scope, not only the keyed one."""

    async def delete_by_key(self, caller: Caller, where: MemoryKey) -> None:
        await super().delete_by_key(caller, where)
        for stored in list(self._owned_all(caller)):
            if stored.record.scope == where.scope:
                await self.delete(caller, stored.record.id)


class ConcurrentPutsRace(InMemoryProvider):
    """A put reads, awaits, then writes: concurrent puts of one key each add a memory."""

    async def add(self, caller: Caller, item: MemoryInput) -> MemoryRecord:
        if item.key is None:
            return await super().add(caller, item)
        existing = self._keyed(caller, MemoryKey(key=item.key, scope=item.scope))
        await asyncio.sleep(0.001)
        if existing is not None:
            return await super().add(caller, item)
        return await _add_beside(self, caller, item)


class ReplacingPutAuditedAsAdd(InMemoryProvider):
    """A put that replaces a keyed memory is audited as ``add``, not ``update``."""

    async def add(self, caller: Caller, item: MemoryInput) -> MemoryRecord:
        record = await super().add(caller, item)
        audit = self._space(caller).audit
        if item.key is not None and audit and audit[-1].action == "update":
            audit[-1] = audit[-1].model_copy(update={"action": "add"})
        return record


async def _add_beside(
    provider: InMemoryProvider, caller: Caller, item: MemoryInput
) -> MemoryRecord:
    """Store ``item`` as a new memory carrying its key, whatever already holds the key."""
    record = await InMemoryProvider.add(provider, caller, item.model_copy(update={"key": None}))
    keyed = record.model_copy(update={"key": item.key})
    provider._space(caller).memories[record.id].record = keyed
    return keyed


KEY_DEFECTS: list[tuple[type[InMemoryProvider], str, str]] = [
    # (broken provider, the check that must fail, what its message must say)
    (PutAddsASecondMemory, "put_by_key_replaces_the_memory_and_keeps_its_id", "second memory"),
    (KeysIgnoreScope, "keys_are_unique_per_user_and_scope", "named the same memory"),
    (DeleteByKeyEmptiesTheScope, "delete_by_key_removes_only_that_memory", "wrong memories"),
    (ConcurrentPutsRace, "concurrent_puts_of_one_key_leave_one_memory", "several memories"),
    (ReplacingPutAuditedAsAdd, "a_put_over_a_key_is_audited_as_an_update", "audit actions"),
]
"""The defects of this module and the check each must fail (``conformance/tests``)."""
