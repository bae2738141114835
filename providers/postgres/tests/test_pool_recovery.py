"""A driver error never poisons the pool: one connection survives unencodable arguments.

Each bad argument is refused client-side by asyncpg mid-protocol (the statement is parsed,
the bind fails). With a pool of one connection, every later request of any tenant runs on
that same connection, so a stale protocol state or timer would show at once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from openmem_postgres import PostgresProvider

from openmem.errors import InvalidRequestError
from openmem.models import ListQuery, MemoryInput, MemoryPatch, SearchQuery
from openmem.provider import Caller

UNENCODABLE: dict[str, dict[str, Any]] = {
    "lone surrogate in content": {"content": "bad \ud800 text"},
    "lone surrogate in a tag": {"content": "fine", "tags": ["\udfff"]},
    "lone surrogate in metadata": {"content": "fine", "metadata": {"k": "\ud83d"}},
    "NUL in the scope": {"content": "fine", "scope": "a\x00b"},
    "an object in metadata": {"content": "fine", "metadata": {"k": object()}},
    "an int where the agent belongs": {"content": "fine", "agent_id": 12},
}


@pytest.fixture
async def one_connection(postgres_url: str) -> AsyncIterator[PostgresProvider]:
    """A provider whose pool holds exactly one connection."""
    provider = PostgresProvider(
        url=postgres_url, pool_min_size=1, pool_max_size=1, ingest_workers=0
    )
    await provider.open()
    try:
        yield provider
    finally:
        await provider.close()


@pytest.mark.parametrize("fields", UNENCODABLE.values(), ids=list(UNENCODABLE))
async def test_one_connection_survives_an_unencodable_argument(
    one_connection: PostgresProvider, pg_namespace: str, fields: dict[str, Any]
) -> None:
    alice = Caller(namespace=pg_namespace, user_id="alice")
    bob = Caller(namespace=pg_namespace + "-other", user_id="bob")
    bad = MemoryInput.model_construct(**{"user_id": "alice", "tags": [], "metadata": {}, **fields})
    with pytest.raises(InvalidRequestError) as refused:
        await one_connection.add(alice, bad)
    # The message the client sees says nothing of the driver (argument numbers, codecs).
    assert "$" not in refused.value.message
    assert "codec" not in refused.value.message
    with pytest.raises(InvalidRequestError):
        await one_connection.add_many(alice, [MemoryInput(content="ok", user_id="alice"), bad])

    # Valid requests of two tenants follow on the same single connection, with no error.
    for caller in (alice, bob):
        added = await one_connection.add(
            caller, MemoryInput(content="valid after the bad one", user_id=caller.user_id)
        )
        assert (await one_connection.get(caller, added.id)).id == added.id
        hits = await one_connection.search(caller, SearchQuery(query="valid after"))
        assert [h.memory.id for h in hits] == [added.id]
        updated = await one_connection.update(caller, added.id, MemoryPatch(tags=["t"]))
        assert updated.tags == ["t"]
        assert [r.id for r in (await one_connection.list(caller, ListQuery())).items] == [added.id]
    await one_connection.runner.wait_released(grace=5)
    pool = one_connection.runner.pool
    assert pool.get_size() == 1
    assert pool.get_idle_size() == 1
