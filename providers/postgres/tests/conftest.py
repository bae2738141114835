"""Fixtures of the Postgres provider tests: an open provider on the session's database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from openmem_postgres import PostgresProvider

from openmem.provider import Caller


@pytest.fixture
async def provider(postgres_url: str) -> AsyncIterator[PostgresProvider]:
    """An open provider (hashing embedder, 256 dimensions) on the shared test database.

    No queue workers: their idle polls borrow a pooled connection now and then, and these
    tests check that every connection is back in the pool (test_async_ingest has its own).
    """
    prov = PostgresProvider(embedder="hashing", url=postgres_url, pool_max_size=4, ingest_workers=0)
    await prov.open()
    try:
        yield prov
    finally:
        await prov.close()


@pytest.fixture
def caller(pg_namespace: str) -> Caller:
    """User ``alice`` in this test's own namespace."""
    return Caller(namespace=pg_namespace, user_id="alice", app="tests")


@pytest.fixture
def other(pg_namespace: str) -> Caller:
    """User ``bob`` in the same namespace as ``caller``."""
    return Caller(namespace=pg_namespace, user_id="bob", app="tests")
