"""Connections handed from call to call (``openmem_postgres.handoff``) never leak or wedge."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from openmem_postgres import PostgresProvider
from openmem_postgres.runner import Connection

from openmem.errors import ProviderSaturatedError


@pytest.fixture
async def one_connection(postgres_url: str) -> AsyncIterator[PostgresProvider]:
    """A provider whose pool holds exactly one connection, acquire bounded at 0.3 s."""
    provider = PostgresProvider(
        url=postgres_url,
        pool_min_size=1,
        pool_max_size=1,
        ingest_workers=0,
        acquire_timeout=0.3,
    )
    await provider.open()
    try:
        yield provider
    finally:
        await provider.close()


async def backend_pid(conn: Connection) -> int:
    return int(await conn.fetchval("SELECT pg_backend_pid()"))


async def test_sequential_calls_run_on_one_kept_connection_that_settles_back_to_the_pool(
    provider: PostgresProvider,
) -> None:
    runner = provider.runner
    pids = {await runner.run(backend_pid) for _ in range(5)}
    assert len(pids) == 1
    await runner.wait_released(grace=5)
    assert runner.pool.get_idle_size() == runner.pool.get_size()


async def test_more_concurrent_calls_than_connections_all_finish_on_the_one_connection(
    one_connection: PostgresProvider,
) -> None:
    runner = one_connection.runner

    async def short_sleep(conn: Connection) -> int:
        await conn.execute("SELECT pg_sleep(0.01)")
        return await backend_pid(conn)

    pids = await asyncio.gather(*(runner.run(short_sleep) for _ in range(8)))
    assert len(set(pids)) == 1
    await runner.wait_released(grace=5)
    assert runner.pool.get_idle_size() == 1


async def test_a_call_that_waits_past_acquire_timeout_is_saturated(
    one_connection: PostgresProvider,
) -> None:
    runner = one_connection.runner

    async def hold(conn: Connection) -> None:
        await conn.execute("SELECT pg_sleep(1)")

    holder = asyncio.ensure_future(runner.run(hold))
    await asyncio.sleep(0.05)
    with pytest.raises(ProviderSaturatedError):
        await runner.run(backend_pid)
    await holder
    assert await runner.run(backend_pid) > 0  # the connection came back


async def test_a_cancelled_waiter_does_not_take_the_connection_with_it(
    one_connection: PostgresProvider,
) -> None:
    runner = one_connection.runner

    async def hold(conn: Connection) -> None:
        await conn.execute("SELECT pg_sleep(0.2)")

    holder = asyncio.ensure_future(runner.run(hold))
    await asyncio.sleep(0.05)
    waiters = [asyncio.ensure_future(runner.run(backend_pid)) for _ in range(3)]
    await asyncio.sleep(0.01)
    waiters[0].cancel()
    await holder
    assert all(pid > 0 for pid in await asyncio.gather(*waiters[1:]))
    assert waiters[0].cancelled()
    assert await runner.run(backend_pid) > 0
    await runner.wait_released(grace=5)
    assert runner.pool.get_idle_size() == 1


async def test_a_kept_connection_the_server_ended_is_replaced(
    one_connection: PostgresProvider, postgres_url: str
) -> None:
    runner = one_connection.runner
    first = await runner.run(backend_pid)

    async def end_backend(conn: Connection) -> None:
        await conn.execute("SELECT pg_terminate_backend($1)", first)

    # Another pool's connection ends the kept one's backend.
    other = PostgresProvider(url=postgres_url, ingest_workers=0)
    await other.open()
    try:
        await other.runner.run(end_backend)
    finally:
        await other.close()
    await asyncio.sleep(0.2)  # the client reads the closed socket meanwhile
    assert await runner.run(backend_pid) != first
    await runner.wait_released(grace=5)
    assert runner.pool.get_idle_size() == 1
