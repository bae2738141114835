"""AsyncMemory(base_url=...) -> passthrough -> `openmem serve` -> in-memory and Postgres.

Every verb once, through the real wire format (in-process ASGI), against each backend.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from openmem import AsyncMemory
from openmem.errors import InvalidRequestError, NotFoundError
from openmem.inmemory import InMemoryProvider
from openmem.provider import Provider
from openmem.server import ServerSettings, create_app


@pytest.fixture(params=["inmemory", "postgres"])
def backend(request: pytest.FixtureRequest) -> Provider[Any]:
    """The provider behind the server."""
    if request.param == "inmemory":
        return InMemoryProvider()
    from openmem_postgres import PostgresProvider

    return PostgresProvider(
        embedder="hashing", url=request.getfixturevalue("postgres_url"), pool_max_size=4
    )


@pytest.fixture
async def mem(backend: Provider[Any], pg_namespace: str) -> AsyncIterator[AsyncMemory]:
    """An AsyncMemory speaking OMP to a server over ``backend``, in its own namespace."""
    app = create_app(ServerSettings(auth=False), provider=backend)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(manager.app)
        async with AsyncMemory(
            base_url="http://omp.test", transport=transport, namespace=pg_namespace, app="rt"
        ) as memory:
            yield memory


async def test_every_verb_round_trips(mem: AsyncMemory) -> None:
    now = datetime.now(UTC)
    record = await mem.add(
        "prefers dark mode in every editor",
        user_id="alice",
        scope="ui/editor",
        tags=["ui", "theme"],
        source={"app": "chat", "type": "explicit", "ref": "msg-1"},
        confidence=0.8,
        valid_from=now - timedelta(days=1),
        agent_id="agent-1",
        session_id="s-1",
        metadata={"device": "laptop", "n": 3},
        x_rt={"kept": [1, 2]},
    )
    assert record.extensions == {"x-rt": {"kept": [1, 2]}}
    assert (record.source and record.source.ref) == "msg-1"
    assert await mem.get(record.id, user_id="alice") == record
    with pytest.raises(NotFoundError):
        await mem.get(record.id, user_id="bob")

    updated = await mem.update(
        record.id, user_id="alice", tags=["ui"], confidence=None, metadata={"n": None}
    )
    assert (updated.tags, updated.confidence, updated.metadata) == (
        ["ui"],
        None,
        {"device": "laptop"},
    )

    others = await mem.add_many(
        ["likes hiking on weekends", {"content": "drinks green tea", "scope": "food"}],
        user_id="alice",
    )
    page = await mem.list("alice", limit=2)
    assert len(page.items) == 2
    assert page.next_cursor is not None
    rest = await mem.list("alice", limit=2, cursor=page.next_cursor)
    assert {r.id for r in page.items + rest.items} == {record.id, *(o.id for o in others)}
    assert [r.id for r in (await mem.list("alice", scope="ui")).items] == [record.id]

    hits = await mem.search("dark mode editor", "alice", limit=3)
    assert hits[0].memory.id == record.id
    filtered = await mem.search("dark mode", "alice", filters={"device": "laptop"})
    assert [h.memory.id for h in filtered] == [record.id]
    keyword = await mem.search("hiking", "alice", mode="keyword")
    assert keyword[0].memory.id == others[0].id

    block = await mem.context("dark mode", "alice", token_budget=60)
    assert block.token_count <= 60
    assert record.id in {c.memory_id for c in block.citations}

    entries = await mem.audit("alice", action="add")
    assert record.id in {e.memory_id for e in entries}
    assert all(e.app == "rt" for e in entries)

    await mem.delete(record.id, user_id="alice")
    with pytest.raises(NotFoundError):
        await mem.delete(record.id, user_id="alice")
    assert await mem.forget_user("alice") == 2
    assert (await mem.list("alice")).items == []


async def test_bad_input_comes_back_as_invalid_request(mem: AsyncMemory) -> None:
    with pytest.raises(InvalidRequestError):
        await mem.list("alice", cursor="not-a-cursor")
