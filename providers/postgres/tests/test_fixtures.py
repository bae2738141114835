"""The shared PostgreSQL test fixtures hand out a working, isolated database."""

from __future__ import annotations

import asyncpg


async def test_postgres_url_has_pgvector(postgres_url: str) -> None:
    conn = await asyncpg.connect(postgres_url, timeout=30)
    try:
        version = await conn.fetchval(
            "SELECT extversion FROM pg_extension WHERE extname = 'vector'"
        )
    finally:
        await conn.close()
    assert version is not None


def test_pg_namespace_is_unique_per_call(pg_namespace: str) -> None:
    assert pg_namespace.startswith("t_test_pg_namespace_is_unique_per_call_")
    assert len(pg_namespace) <= 63


async def test_postgres_database_url_is_a_fresh_database(
    postgres_database_url: str, postgres_url: str
) -> None:
    conn = await asyncpg.connect(postgres_database_url, timeout=30)
    try:
        name = await conn.fetchval("SELECT current_database()")
        tables = await conn.fetchval("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
    finally:
        await conn.close()
    assert name.startswith("omt_")
    assert tables == 0
