"""mem0 OSS on real PostgreSQL + pgvector: parallel calls, full pages with iterative scans."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import anyio.to_thread
import asyncpg
import pytest
from openmem_mem0 import Mem0Provider

from openmem.models import ListQuery, MemoryInput, SearchQuery
from openmem.provider import Caller
from openmem.translation import user_key


@pytest.fixture
def provider(pgvector_provider: Mem0Provider) -> Mem0Provider:
    return pgvector_provider


async def test_concurrent_first_adds_on_a_fresh_collection_all_land(
    provider: Mem0Provider,
) -> None:
    caller = Caller("ns", "u")
    adds = [provider.add(caller, MemoryInput(content=f"fact {i}", user_id="u")) for i in range(50)]
    records = await asyncio.wait_for(asyncio.gather(*adds), 60)
    assert len({r.id for r in records}) == 50
    assert len((await provider.list(caller, ListQuery(limit=100))).items) == 50
    assert provider.offload_stats().max_workers > 1  # pgvector calls run in parallel
    # mem0's history of each add, group-committed (openmem_mem0._history), is all there.
    for record in records:
        assert [e["event"] for e in await provider.history(caller, record.id)] == ["ADD"]
    writer = getattr(provider.backend, "history_writer", None)
    assert writer is not None
    assert writer.rows == 50


async def test_search_returns_full_pages_for_every_user(provider: Mem0Provider) -> None:
    users = [Caller("ns", f"user{u}") for u in range(20)]
    adds = [
        provider.add(c, MemoryInput(content=f"{c.user_id} likes topic {i}", user_id=c.user_id))
        for c in users
        for i in range(12)
    ]
    await asyncio.wait_for(asyncio.gather(*adds), 120)
    # Past ~10 executions Postgres may choose an HNSW plan that filters afterwards; with
    # iterative scans every user still gets a full page.
    for _ in range(2):
        for caller in users:
            hits = await provider.search(caller, SearchQuery(query="likes topic", limit=10))
            assert len(hits) == 10, caller.user_id
            assert {h.memory.user_id for h in hits} == {caller.user_id}
            # mem0 itself, asked for 10 once (no refill by the adapter), also fills the page.
            raw = await anyio.to_thread.run_sync(
                provider.backend.search, user_key(caller), "likes topic", 10, 0.0
            )
            assert len(raw) == 10, caller.user_id


async def test_five_providers_opening_one_fresh_database_at_once_all_work(
    postgres_url: str, tmp_path: Path
) -> None:
    """Concurrent opens of one store in a database without ``vector`` never fail.

    mem0 sends ``CREATE EXTENSION IF NOT EXISTS`` and ``CREATE TABLE IF NOT EXISTS`` unlocked;
    run at once, two of them can both miss the other's catalog row and fail with a unique
    violation (62 of 600 adds failed before the adapter took an advisory lock around them).
    """
    name = f"m0fresh_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(postgres_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = urlunsplit(urlsplit(postgres_url)._replace(path=f"/{name}"))
    providers = [
        Mem0Provider(
            embedder="hashing",
            vector_store="pgvector",
            url=url,
            collection="shared",
            data_dir=str(tmp_path / f"p{i}"),
            embedder_dim=64,
        )
        for i in range(5)
    ]
    try:
        await asyncio.wait_for(asyncio.gather(*(p.open() for p in providers)), 120)
        adds = [
            p.add(Caller("ns", f"u{i}"), MemoryInput(content=f"fact {i} {j}", user_id=f"u{i}"))
            for i, p in enumerate(providers)
            for j in range(10)
        ]
        records = await asyncio.wait_for(asyncio.gather(*adds), 120)
        assert len({r.id for r in records}) == 50
    finally:
        await asyncio.gather(*(p.close() for p in providers), return_exceptions=True)
        admin = await asyncpg.connect(postgres_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def test_pool_connections_plan_each_search_for_its_user(provider: Mem0Provider) -> None:
    """Custom plans and a user index: one user's search never walks the whole HNSW graph.

    A generic plan (psycopg prepares after five runs) cannot see that a user's rows are few
    and chose the HNSW scan, which with iterative scans visited every tuple of the graph.
    """
    pool = provider.backend._pool

    def settings() -> tuple[str, bool]:
        with pool.connection() as conn:
            mode = conn.execute("SHOW plan_cache_mode").fetchone()[0]
            indexed = conn.execute(
                "SELECT count(*) FROM pg_indexes WHERE tablename = %s AND indexdef LIKE %s",
                (provider.options.collection, "%payload ->> 'user_id'%"),
            ).fetchone()[0]
        return mode, indexed == 1

    assert await anyio.to_thread.run_sync(settings) == ("force_custom_plan", True)


async def test_adds_store_no_empty_defaults_and_no_digest_without_a_key(
    provider: Mem0Provider,
) -> None:
    caller = Caller("ns", "u")
    plain = await provider.add(caller, MemoryInput(content="plain", user_id="u"))
    keyed = await provider.add(
        caller, MemoryInput(content="keyed", user_id="u", idempotency_key="k1", tags=["t"])
    )
    raw_plain = await anyio.to_thread.run_sync(provider.backend.get, plain.id)
    raw_keyed = await anyio.to_thread.run_sync(provider.backend.get, keyed.id)
    stored = raw_plain["metadata"]["openmem"]
    assert not {"tags", "supersedes", "metadata", "input_sha256"} & set(stored)
    assert "om_ref" not in raw_plain["metadata"]  # the platform's marker only
    assert raw_keyed["metadata"]["openmem"]["tags"] == ["t"]
    assert "input_sha256" in raw_keyed["metadata"]["openmem"]
    again = await provider.get(caller, plain.id)
    assert (again.tags, again.supersedes, again.metadata) == ([], [], {})
