"""Client-chosen keys on PostgreSQL: the schema and what only a database can get wrong.

The put/get/delete behaviour is the conformance group ``client_keys`` (test_conformance.py);
these cover the unique index, the scope move and a cancelled put.
"""

from __future__ import annotations

import asyncio

import pytest
from openmem_postgres import PostgresProvider

from openmem.errors import ConflictError
from openmem.models import MemoryInput, MemoryKey, MemoryPatch
from openmem.provider import Caller


async def test_an_update_onto_a_taken_key_is_a_conflict_and_changes_nothing(
    provider: PostgresProvider, caller: Caller
) -> None:
    await provider.add(caller, MemoryInput(content="in a", user_id="alice", scope="a", key="k"))
    mover = await provider.add(
        caller, MemoryInput(content="in b", user_id="alice", scope="b", key="k")
    )
    with pytest.raises(ConflictError):
        await provider.update(caller, mover.id, MemoryPatch(scope="a"))
    kept = await provider.get_by_key(caller, MemoryKey(key="k", scope="b"))
    assert (kept.id, kept.scope) == (mover.id, "b")


async def test_the_key_index_serves_lookups_by_key(provider: PostgresProvider) -> None:
    schema = provider.options.db_schema
    definition = await provider.runner.fetchval(
        "SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND indexname = $2",
        schema,
        "memories_client_key",
    )
    assert definition is not None
    assert "UNIQUE" in definition
    assert "client_key IS NOT NULL" in definition


async def test_a_cancelled_put_leaves_the_old_memory_or_the_new_one(
    provider: PostgresProvider, caller: Caller
) -> None:
    old = await provider.add(caller, MemoryInput(content="old", user_id="alice", key="c"))
    for delay in (0.0, 0.001, 0.002, 0.004, 0.008):
        put = asyncio.create_task(
            provider.add(caller, MemoryInput(content=f"new {delay}", user_id="alice", key="c"))
        )
        await asyncio.sleep(delay)
        put.cancel()
        await asyncio.gather(put, return_exceptions=True)
        now = await provider.get_by_key(caller, MemoryKey(key="c"))
        assert now.id == old.id
        assert now.content in {"old", *(f"new {d}" for d in (0.0, 0.001, 0.002, 0.004, 0.008))}
        entries = await provider.runner.fetchval(
            f"SELECT count(*) FROM {provider.options.db_schema}.memories"
            " WHERE namespace = $1 AND user_id = $2 AND client_key = 'c'",
            caller.namespace,
            caller.user_id,
        )
        assert entries == 1
