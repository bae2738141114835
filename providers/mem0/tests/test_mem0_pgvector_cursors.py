"""mem0's pgvector store on the adapter's pool: reads alone, writes in one transaction each."""

from __future__ import annotations

import uuid
from typing import Any

import anyio.to_thread
import psycopg
import pytest
from openmem_mem0 import Mem0Provider
from openmem_mem0._pgvector_cursors import install_lean_cursors
from psycopg import pq, sql

PGVECTOR_DIM = 8


@pytest.fixture
def provider(pgvector_provider: Mem0Provider) -> Mem0Provider:
    return pgvector_provider


def store_of(provider: Mem0Provider) -> Any:
    return provider.backend.memory.vector_store


async def test_a_read_is_sent_without_a_transaction_around_it(provider: Mem0Provider) -> None:
    store = store_of(provider)

    def read() -> pq.TransactionStatus:
        with store._get_cursor() as cur:
            cur.execute("SELECT 1")
            return cur.connection.info.transaction_status

    # mem0's own cursor leaves the connection INTRANS here (BEGIN before, COMMIT after).
    assert await anyio.to_thread.run_sync(read) == pq.TransactionStatus.IDLE


async def test_a_failed_write_of_several_statements_leaves_nothing(
    provider: Mem0Provider,
) -> None:
    store = store_of(provider)
    table = sql.Identifier(provider.options.collection)
    kept = str(uuid.uuid4())
    insert = sql.SQL("INSERT INTO {} (id, vector, payload) VALUES (%s, %s, '{{}}')").format(table)
    vector = "[" + ",".join(["0.5"] * 8) + "]"

    def write_twice() -> None:
        with store._get_cursor(commit=True) as cur:
            cur.execute(insert, (kept, vector))
            cur.execute(insert, (kept, vector))  # the same id again: a unique violation

    def count() -> int:
        with store._get_cursor() as cur:
            cur.execute(sql.SQL("SELECT count(*) FROM {} WHERE id = %s").format(table), (kept,))
            return int(cur.fetchone()[0])

    with pytest.raises(psycopg.errors.UniqueViolation):
        await anyio.to_thread.run_sync(write_twice)
    assert await anyio.to_thread.run_sync(count) == 0  # the first insert was rolled back too


async def test_mem0_writes_and_reads_through_them(provider: Mem0Provider) -> None:
    store = store_of(provider)
    memory_id = str(uuid.uuid4())

    def round_trip() -> tuple[str, str]:
        store.insert(vectors=[[0.1] * 8], ids=[memory_id], payloads=[{"data": "one"}])
        store.update(memory_id, vector=[0.2] * 8, payload={"data": "two"})
        got = store.get(memory_id)
        return str(got.id), got.payload["data"]

    assert await anyio.to_thread.run_sync(round_trip) == (memory_id, "two")


async def test_stores_on_another_pool_keep_mem0s_cursors(provider: Mem0Provider) -> None:
    store = store_of(provider)
    pool = provider.backend._pool

    class OtherStore:
        connection_pool = object()

        def _get_cursor(self, commit: bool = False) -> None: ...

    other = OtherStore()
    assert not install_lean_cursors(other, pool)  # not the adapter's pool
    assert "_get_cursor" not in vars(other)

    class NotAutocommit:
        def __init__(self) -> None:
            self.kwargs: dict[str, Any] = {}

    not_autocommit = NotAutocommit()
    store_like = OtherStore()
    store_like.connection_pool = not_autocommit  # type: ignore[assignment]
    assert not install_lean_cursors(store_like, not_autocommit)
    assert "_get_cursor" in vars(store)  # the provider's own store did get them
