"""The cancelled-add contract: knowable with an idempotency key.

A cancelled ``add`` either committed or did not; retrying it with the same
``idempotency_key`` returns the committed record, or stores it then: exactly once either way.
Checked through ``AsyncMemory`` on the in-memory provider, the real PostgreSQL provider, and
over the wire (passthrough to ``openmem serve`` on PostgreSQL, where the cancel closes the
connection and the server cancels the verb). Cancel moments are spread over 0-3 ms from a
fixed seed, so some adds land and some do not; no timing is asserted.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest

from openmem import AsyncMemory
from openmem.inmemory import InMemoryProvider
from openmem.server import ServerSettings, create_app

from .server.conftest import live_server

ADDS = 40


async def _cancel_some_adds(mem: AsyncMemory, keys: list[str]) -> None:
    moments = random.Random(13)
    for key in keys:
        task = asyncio.ensure_future(
            mem.add(f"fact {key}", user_id="u1", idempotency_key=key, tags=["cancelled"])
        )
        await asyncio.sleep(moments.uniform(0, 0.003))
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.fixture(params=["inmemory", "postgres", "wire"])
async def mem(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[AsyncMemory]:
    """An ``AsyncMemory`` on each kind of backend, in a namespace of its own."""
    if request.param == "inmemory":
        async with AsyncMemory(InMemoryProvider()) as memory:
            yield memory
        return
    from openmem_postgres import PostgresProvider

    url = request.getfixturevalue("postgres_url")
    namespace = request.getfixturevalue("pg_namespace")
    provider = PostgresProvider(embedder="hashing", url=url, pool_max_size=2)
    if request.param == "postgres":
        async with AsyncMemory(provider, namespace=namespace) as memory:
            yield memory
        return
    app = create_app(ServerSettings(auth=False, namespace=namespace), provider=provider)
    with live_server(app) as server:
        async with AsyncMemory("passthrough", base_url=server.url) as memory:
            yield memory


async def test_a_cancelled_add_retried_with_its_key_is_stored_exactly_once(
    mem: AsyncMemory,
) -> None:
    keys = [f"key-{i}" for i in range(ADDS)]
    await _cancel_some_adds(mem, keys)
    await asyncio.sleep(0.2)  # let cancelled statements and requests settle
    before = await mem.list("u1", tags=["cancelled"], limit=500)
    retried = [
        await mem.add(f"fact {key}", user_id="u1", idempotency_key=key, tags=["cancelled"])
        for key in keys
    ]
    after = await mem.list("u1", tags=["cancelled"], limit=500)
    assert len({r.id for r in retried}) == ADDS
    assert sorted(r.id for r in after.items) == sorted(r.id for r in retried)
    # Each record that had landed before the retry is the one the retry returned.
    landed = {r.content: r.id for r in before.items}
    assert all(landed.get(r.content, r.id) == r.id for r in retried)
