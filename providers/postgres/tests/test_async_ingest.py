"""Queued adds on PostgreSQL: events, workers, retries, dead letters, exactly-once writes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from openmem_postgres import PostgresProvider
from openmem_postgres.ingest_queue import ClaimedJob, run_job

from openmem import AsyncMemory
from openmem.errors import NotFoundError, ProviderUnavailableError, UnsupportedCapabilityError

FAST = {"ingest_poll_interval": 0.05, "ingest_retry_base": 0.01}


def _memory(postgres_url: str, namespace: str, **options: Any) -> AsyncMemory:
    return AsyncMemory(
        provider="postgres",
        url=postgres_url,
        embedder="hashing",
        namespace=namespace,
        pool_max_size=3,
        **{**FAST, **options},
    )


@pytest.fixture
async def mem(postgres_url: str, pg_namespace: str) -> AsyncIterator[AsyncMemory]:
    async with _memory(postgres_url, pg_namespace) as memory:
        yield memory


async def _count(provider: PostgresProvider, namespace: str) -> int:
    return int(
        await provider.runner.fetchval(
            "SELECT count(*) FROM openmem.memories WHERE namespace = $1", namespace
        )
    )


async def test_an_async_add_is_queued_with_an_event_and_lands_once(
    mem: AsyncMemory, pg_namespace: str
) -> None:
    queued = await mem.add("likes green tea", user_id="alice", scope="food", async_mode=True)
    assert queued.status == "queued"
    assert queued.event_id is not None
    assert queued.event_id.startswith("evt_")
    [stored] = await mem.wait_for_ingest([queued.event_id], user_id="alice", timeout=30)
    assert stored.id == queued.id
    assert (stored.content, stored.scope, stored.status) == ("likes green tea", "food", "done")
    event = await mem.get_event(queued.event_id, user_id="alice")
    assert event.status == "SUCCEEDED"
    assert event.memory_ids == [queued.id]
    assert event.attempts == 1
    assert event.started_at is not None
    assert event.finished_at is not None
    assert event.created_at <= event.started_at <= event.finished_at
    assert await _count(mem.provider, pg_namespace) == 1  # type: ignore[arg-type]


async def test_add_many_in_async_mode_is_one_event_for_the_batch(mem: AsyncMemory) -> None:
    queued = await mem.add_many(
        ["one", {"content": "two", "tags": ["t"]}], user_id="alice", async_mode=True
    )
    assert {r.event_id for r in queued} == {queued[0].event_id}
    stored = await mem.wait_for_ingest([r.id for r in queued], user_id="alice", timeout=30)
    assert [r.content for r in stored] == ["one", "two"]
    assert stored[1].tags == ["t"]
    assert queued[0].event_id is not None
    event = await mem.get_event(queued[0].event_id, user_id="alice")
    assert event.memory_ids == [r.id for r in queued]


async def test_an_event_of_another_user_is_not_found(mem: AsyncMemory) -> None:
    queued = await mem.add("secret", user_id="alice", async_mode=True)
    assert queued.event_id is not None
    with pytest.raises(NotFoundError):
        await mem.get_event(queued.event_id, user_id="bob")


async def test_a_queued_memory_reads_as_queued_until_a_worker_runs_it(
    postgres_url: str, pg_namespace: str
) -> None:
    async with _memory(postgres_url, pg_namespace, ingest_workers=0) as idle:
        queued = await idle.add("waits for a worker", user_id="alice", async_mode=True)
        assert (await idle.get(queued.id, user_id="alice")).status == "queued"
        with pytest.raises(NotFoundError):
            await idle.get(queued.id, user_id="bob")
        assert queued.event_id is not None
        assert (await idle.get_event(queued.event_id, user_id="alice")).status == "PENDING"
    async with _memory(postgres_url, pg_namespace, ingest_workers=1) as working:
        [stored] = await working.wait_for_ingest([queued.id], user_id="alice", timeout=30)
        assert stored.status == "done"


async def test_the_default_of_async_mode_is_an_option(postgres_url: str, pg_namespace: str) -> None:
    async with _memory(postgres_url, pg_namespace, async_mode_default=True) as memory:
        assert (await memory.add("queued by default", user_id="alice")).status == "queued"
        assert (await memory.add("now", user_id="alice", async_mode=False)).status == "done"


async def test_a_job_run_twice_writes_its_memory_once(postgres_url: str, pg_namespace: str) -> None:
    async with _memory(postgres_url, pg_namespace, ingest_workers=0) as memory:
        provider = memory.provider
        assert isinstance(provider, PostgresProvider)
        queued = await memory.add("exactly once", user_id="alice", async_mode=True)
        sql = provider._ingest
        rows = await provider.runner.fetch(
            sql.claim.replace("WHERE (status", f"WHERE namespace = '{pg_namespace}' AND (status"),
            1,
            30.0,
        )
        job = ClaimedJob.from_row(rows[0])
        assert await run_job(provider.store, sql, job) is True
        assert await run_job(provider.store, sql, job) is False  # the claim is spent
        assert await _count(provider, pg_namespace) == 1
        assert (await memory.get(queued.id, user_id="alice")).status == "done"


def _failing(times: int, real: Any, marker: str) -> Any:
    """``embed`` failing the first ``times`` calls for texts holding ``marker``: the test's
    own job, not another test's left in the shared queue."""
    calls = {"n": 0}

    async def embed(texts: Sequence[str]) -> list[list[float]]:
        if any(marker in t for t in texts):
            calls["n"] += 1
            if calls["n"] <= times:
                raise ProviderUnavailableError("embedder down", provider="test")
        result: list[list[float]] = await real(texts)
        return result

    return embed


async def test_a_failed_attempt_is_retried_with_backoff(
    postgres_url: str, pg_namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with _memory(postgres_url, pg_namespace, ingest_workers=0) as memory:
        provider = memory.provider
        assert isinstance(provider, PostgresProvider)
        monkeypatch.setattr(provider.store, "embed", _failing(2, provider.store.embed, "retried"))
        queued = await memory.add("retried", user_id="alice", async_mode=True)
        assert queued.event_id is not None
        await _drain_here(provider, queued.event_id, memory)
        event = await memory.get_event(queued.event_id, user_id="alice")
        assert (event.status, event.attempts, event.error) == ("SUCCEEDED", 3, None)


async def test_a_job_failing_every_attempt_is_dead_lettered_with_its_error_code(
    postgres_url: str, pg_namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with _memory(
        postgres_url, pg_namespace, ingest_workers=0, ingest_max_attempts=2
    ) as memory:
        provider = memory.provider
        assert isinstance(provider, PostgresProvider)
        monkeypatch.setattr(
            provider.store, "embed", _failing(100, provider.store.embed, "never lands")
        )
        queued = await memory.add("never lands", user_id="alice", async_mode=True)
        assert queued.event_id is not None
        await _drain_here(provider, queued.event_id, memory)
        event = await memory.get_event(queued.event_id, user_id="alice")
        assert (event.status, event.attempts) == ("FAILED", 2)
        assert event.error is not None
        assert event.error.code == "provider_unavailable"
        assert (await memory.get(queued.id, user_id="alice")).status == "failed"
        with pytest.raises(ProviderUnavailableError):
            await memory.wait_for_ingest([queued.event_id], user_id="alice", timeout=5)
        assert await _count(provider, pg_namespace) == 0


async def _drain_here(provider: PostgresProvider, event_id: str, memory: AsyncMemory) -> None:
    """Run workers of this provider (its own monkeypatched store) until the event is done."""
    from openmem_postgres.ingest_worker import IngestWorkers

    url = provider.options.connection_url()
    assert url is not None
    workers = IngestWorkers(provider.store, provider._ingest, url, 1)
    await workers.start()
    try:
        for _ in range(400):
            if (await memory.get_event(event_id, user_id="alice")).done:
                return
            import asyncio

            await asyncio.sleep(0.025)
        raise AssertionError("the event never finished")
    finally:
        await workers.stop()


async def test_async_mode_on_a_provider_without_async_ingest_is_refused() -> None:
    async with AsyncMemory(provider="inmemory") as memory:
        with pytest.raises(UnsupportedCapabilityError):
            await memory.add("x", user_id="alice", async_mode=True)
