"""Migrations under an advisory lock, per-model indexes, model mismatch and ``reembed``."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg
import pytest
from click.testing import CliRunner
from openmem_postgres import PostgresProvider
from openmem_postgres.migrations import MIGRATIONS, vector_index_name
from openmem_postgres.reembed import reembed, reembed_stored
from openmem_postgres.runner import Connection

from openmem.errors import EmbeddingModelMismatchError
from openmem.models import ListQuery, MemoryInput, SearchQuery
from openmem.provider import Caller


async def test_providers_opening_at_once_apply_each_migration_once(
    postgres_database_url: str,
) -> None:
    providers = [PostgresProvider(embedder="hashing", url=postgres_database_url) for _ in range(4)]
    await asyncio.wait_for(asyncio.gather(*(p.open() for p in providers)), timeout=60)
    try:
        conn = await asyncpg.connect(postgres_database_url, timeout=30)
        try:
            versions = [
                r["version"] for r in await conn.fetch("SELECT version FROM openmem.migrations")
            ]
            indexes = await conn.fetchval(
                "SELECT count(*) FROM pg_indexes WHERE schemaname = 'openmem'"
                " AND indexname LIKE 'memories_hnsw_%'"
            )
        finally:
            await conn.close()
        assert versions == [m.version for m in MIGRATIONS]
        assert indexes == 1
    finally:
        await asyncio.gather(*(p.close() for p in providers))


async def test_a_store_from_before_migration_2_keeps_its_rows_in_the_vector_index(
    postgres_database_url: str, pg_namespace: str
) -> None:
    """Rows written before migration 2 stay in the graph; the earlier index is replaced."""
    embedder = PostgresProvider(embedder="hashing", url=postgres_database_url).options
    model = embedder.build_embedder()
    earlier = vector_index_name(model.model, model.dim, "vector", large_users_only=False)
    conn = await asyncpg.connect(postgres_database_url, timeout=30)
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS vector; CREATE SCHEMA openmem")
        await conn.execute(MIGRATIONS[0].sql.format(schema="openmem", ts_config="english"))
        await conn.execute(
            "CREATE TABLE openmem.migrations (version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now());"
            f"INSERT INTO openmem.migrations (version, name) VALUES (1, '{MIGRATIONS[0].name}');"
            f"CREATE INDEX {earlier} ON openmem.memories USING hnsw"
            f" ((embedding::vector({model.dim})) vector_cosine_ops)"
            f" WHERE embedding_model = '{model.model}'"
        )
        (vector,) = await model.embed(["written by version 1 about tulips"])
        await conn.execute(
            "INSERT INTO openmem.memories (namespace, id, user_id, content, embedding,"
            " embedding_model) VALUES ($1, 'mem_old', 'alice', $2, $3::vector, $4)",
            pg_namespace,
            "written by version 1 about tulips",
            str(vector),
            model.model,
        )
    finally:
        await conn.close()

    # Bound 0: every user is large, so searches read the graph (and the rest exactly).
    provider = PostgresProvider(
        embedder="hashing", url=postgres_database_url, exact_search_max_rows=0
    )
    await provider.open()
    try:
        caller = Caller(pg_namespace, "alice")
        await provider.add(caller, MemoryInput(content="written now about roses", user_id="alice"))
        hits = await provider.search(caller, SearchQuery(query="tulips", mode="semantic"))
        assert [h.memory.id for h in hits][:1] == ["mem_old"]
        conn = await asyncpg.connect(postgres_database_url, timeout=30)
        try:
            in_graph = await conn.fetch(
                "SELECT id, in_ann FROM openmem.memories ORDER BY created_at"
            )
            indexes = await conn.fetch(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'openmem'"
                " AND indexname LIKE 'memories_hnsw_%'"
            )
        finally:
            await conn.close()
        assert [r["in_ann"] for r in in_graph] == [None, True]
        assert len(indexes) == 1
        assert indexes[0]["indexname"] != earlier
        assert "in_ann IS NOT FALSE" in indexes[0]["indexdef"]
    finally:
        await provider.close()


@pytest.mark.parametrize("plans", ["force_generic_plan", "force_custom_plan"])
async def test_a_users_newest_row_is_read_from_its_index_before_any_statistics(
    postgres_database_url: str, plans: str
) -> None:
    """A fresh store (never analyzed: the planner guesses one row per user) with 60 users
    of 100 memories and one of 10,000: the newest-row probe of a search, of the insert
    trigger and of a list's first page reads one row of ``memories_user_created``, not all of
    the user's rows through another index led by (namespace, user_id) and a sort (migration
    5). (The graph's bound is raised only to keep the load fast.)"""
    provider = PostgresProvider(
        embedder="hashing",
        url=postgres_database_url,
        ingest_workers=0,
        exact_search_max_rows=100_000,
    )
    await provider.open()
    try:
        # Names as long as the peer benchmark's: the index sizes decide the plan.
        for user in range(60):
            await provider.add_many(
                Caller("peers", f"c8-u{user}"),
                [MemoryInput(content=f"note {i}", user_id=f"c8-u{user}") for i in range(100)],
            )
        caller = Caller("peers", "scale-one")
        for batch in range(100):
            await provider.add_many(
                caller,
                [MemoryInput(content=f"note {batch} {i}", user_id="scale-one") for i in range(100)],
            )

        async def probe(conn: Connection) -> list[tuple[str, float]]:
            await conn.execute(f"SET plan_cache_mode = {plans}")
            text = await conn.fetchval(
                "EXPLAIN (ANALYZE, FORMAT JSON) SELECT in_ann FROM openmem.memories"
                " WHERE namespace = $1 AND user_id = $2"
                " ORDER BY created_at DESC, id DESC LIMIT 1",
                "peers",
                "scale-one",
            )
            await conn.execute("RESET plan_cache_mode")
            scans: list[tuple[str, float]] = []

            def walk(node: dict[str, Any]) -> None:
                if "Index Name" in node or node["Node Type"] == "Seq Scan":
                    scans.append((node.get("Index Name", "seq"), node["Actual Rows"]))
                for child in node.get("Plans", []):
                    walk(child)

            walk(json.loads(text)[0]["Plan"])
            return scans

        assert await provider.runner.run(probe) == [("memories_user_created", 1.0)]
    finally:
        await provider.close()


async def test_a_custom_schema_keeps_its_own_tables(
    postgres_database_url: str, pg_namespace: str
) -> None:
    first = PostgresProvider(embedder="hashing", url=postgres_database_url, db_schema="tenant_a")
    second = PostgresProvider(embedder="hashing", url=postgres_database_url, db_schema="tenant_b")
    await first.open()
    await second.open()
    try:
        caller = Caller(pg_namespace, "alice")
        await first.add(caller, MemoryInput(content="only in a", user_id="alice"))
        assert (await second.list(caller, ListQuery())).items == []
    finally:
        await first.close()
        await second.close()


async def test_a_changed_embedding_model_refuses_vector_search_until_reembedded(
    postgres_database_url: str, pg_namespace: str
) -> None:
    caller = Caller(pg_namespace, "alice")
    old = PostgresProvider(embedder="hashing", url=postgres_database_url, embedder_dim=64)
    await old.open()
    try:
        await old.add_many(
            caller, [MemoryInput(content=f"garden note {i}", user_id="alice") for i in range(5)]
        )
    finally:
        await old.close()

    new = PostgresProvider(embedder="hashing", url=postgres_database_url, embedder_dim=128)
    await new.open()
    try:
        with pytest.raises(EmbeddingModelMismatchError, match="openmem reembed"):
            await new.search(caller, SearchQuery(query="garden", mode="semantic"))
        keyword = await new.search(caller, SearchQuery(query="garden", mode="keyword"))
        assert len(keyword) == 5
        progress: list[tuple[int, int]] = []
        count = await reembed_stored(
            new, batch_size=2, progress=lambda d, t: progress.append((d, t))
        )
        assert count == 5
        assert progress[0] == (0, 5)
        assert progress[-1] == (5, 5)
        hits = await new.search(caller, SearchQuery(query="garden note 3", mode="semantic"))
        assert hits[0].memory.content == "garden note 3"
        assert {h.memory.embedding_model for h in hits} == {new.embedder.model}
    finally:
        await new.close()


async def test_unmigrated_rows_of_one_user_never_block_another_users_search(
    postgres_database_url: str, pg_namespace: str
) -> None:
    old = PostgresProvider(embedder="hashing", url=postgres_database_url, embedder_dim=64)
    await old.open()
    try:
        await old.add(Caller(pg_namespace, "alice"), MemoryInput(content="old", user_id="alice"))
    finally:
        await old.close()

    new = PostgresProvider(embedder="hashing", url=postgres_database_url, embedder_dim=128)
    await new.open()
    try:
        for caller in (Caller(pg_namespace, "bob"), Caller(f"{pg_namespace}-other", "alice")):
            await new.add(caller, MemoryInput(content="fresh note", user_id=caller.user_id))
            hits = await new.search(caller, SearchQuery(query="fresh note", mode="semantic"))
            assert [h.memory.content for h in hits] == ["fresh note"]
        with pytest.raises(EmbeddingModelMismatchError):
            await new.search(Caller(pg_namespace, "alice"), SearchQuery(query="old"))
    finally:
        await new.close()


def test_reembed_command_reports_progress(postgres_database_url: str, pg_namespace: str) -> None:
    async def seed() -> None:
        provider = PostgresProvider(embedder="hashing", url=postgres_database_url, embedder_dim=32)
        await provider.open()
        try:
            await provider.add_many(
                Caller(pg_namespace, "alice"),
                [MemoryInput(content=f"m {i}", user_id="alice") for i in range(3)],
            )
        finally:
            await provider.close()

    asyncio.run(seed())
    result = CliRunner().invoke(
        reembed,
        [
            *("--url", postgres_database_url, "--embedder", "hashing"),
            *("--embedder-dim", "48", "--batch-size", "2"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "re-embedded 3/3" in result.output
    assert "done: 3 memories now embedded with openmem-hashing-v2-48" in result.output


async def test_a_halfvec_index_serves_semantic_search(
    postgres_database_url: str, pg_namespace: str
) -> None:
    provider = PostgresProvider(
        embedder="hashing", url=postgres_database_url, vector_index="halfvec"
    )
    await provider.open()
    try:
        caller = Caller(pg_namespace, "alice")
        await provider.add_many(
            caller, [MemoryInput(content=f"garden note {i}", user_id="alice") for i in range(5)]
        )
        hits = await provider.search(caller, SearchQuery(query="garden note 3", mode="semantic"))
        assert hits[0].memory.content == "garden note 3"

        async def index_definition(conn: Connection) -> str:
            return str(
                await conn.fetchval(
                    "SELECT indexdef FROM pg_indexes WHERE schemaname = 'openmem'"
                    " AND indexname LIKE 'memories_hnsw_%'"
                )
            )

        assert "halfvec_cosine_ops" in await provider.runner.run(index_definition)
    finally:
        await provider.close()
