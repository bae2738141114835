"""Group commit: concurrent adds beyond the in-flight limit go to the database together."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from openmem_postgres import PostgresProvider
from openmem_postgres.options import PostgresOptions
from openmem_postgres.runner import Connection

from openmem.errors import InvalidRequestError, ProviderUnavailableError
from openmem.models import AuditQuery, ListQuery, MemoryInput
from openmem.provider import Caller


def count_group_statements(
    provider: PostgresProvider, monkeypatch: pytest.MonkeyPatch
) -> list[int]:
    """Rows per ``add_group`` statement the provider sends from now on."""
    groups: list[int] = []
    original = provider.runner.fetch

    async def counting(sql: str, *args: Any, **kw: Any) -> Any:
        if sql == provider.statements.add_group:
            groups.append(len(args[0]))
        return await original(sql, *args, **kw)

    monkeypatch.setattr(provider.runner, "fetch", counting)
    return groups


async def audit_ids(provider: PostgresProvider, caller: Caller) -> set[str | None]:
    entries = await provider.audit(caller, AuditQuery(action="add", limit=1000))
    return {entry.memory_id for entry in entries}


async def test_concurrent_adds_of_many_users_land_in_groups_each_with_its_audit_row(
    provider: PostgresProvider, pg_namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    groups = count_group_statements(provider, monkeypatch)
    callers = [Caller(namespace=pg_namespace, user_id=f"user-{u}", app="tests") for u in range(4)]
    adds = [
        provider.add(callers[i % 4], MemoryInput(content=f"fact {i}", user_id=f"user-{i % 4}"))
        for i in range(64)
    ]
    records = await asyncio.gather(*adds)
    assert [r.content for r in records] == [f"fact {i}" for i in range(64)]
    assert [r.user_id for r in records] == [f"user-{i % 4}" for i in range(64)]
    assert groups, "64 concurrent adds never formed a group"
    assert all(rows >= 2 for rows in groups)
    assert sum(groups) <= 64
    for caller in callers:
        stored = await provider.list(caller, ListQuery(limit=100))
        assert len(stored.items) == 16
        assert {r.id for r in stored.items} <= await audit_ids(provider, caller)


async def test_a_bad_add_in_a_group_fails_alone_and_the_others_land(
    provider: PostgresProvider, caller: Caller, monkeypatch: pytest.MonkeyPatch
) -> None:
    groups = count_group_statements(provider, monkeypatch)
    bad = MemoryInput.model_construct(content="a\x00b", user_id="alice", tags=[], metadata={})
    items = [MemoryInput(content=f"good {i}", user_id="alice") for i in range(12)]
    items[7] = bad
    outcomes = await asyncio.gather(
        *(provider.add(caller, item) for item in items), return_exceptions=True
    )
    assert groups, "the adds never formed a group"
    assert isinstance(outcomes[7], InvalidRequestError)
    assert not any(isinstance(o, BaseException) for i, o in enumerate(outcomes) if i != 7)
    stored = await provider.list(caller, ListQuery(limit=100))
    assert sorted(r.content for r in stored.items) == sorted(
        f"good {i}" for i in range(12) if i != 7
    )


async def test_one_idempotency_key_twice_in_a_group_stores_one_memory(
    provider: PostgresProvider, caller: Caller
) -> None:
    items = [MemoryInput(content=f"other {i}", user_id="alice") for i in range(6)]
    items += [MemoryInput(content="once", user_id="alice", idempotency_key="k1")] * 4
    records = await asyncio.gather(*(provider.add(caller, item) for item in items))
    assert len({r.id for r in records[6:]}) == 1
    stored = await provider.list(caller, ListQuery(limit=100))
    assert [r.content for r in stored.items].count("once") == 1


async def test_cancelled_queued_adds_are_never_written_and_nothing_is_half_written(
    provider: PostgresProvider, caller: Caller
) -> None:
    tasks = [
        asyncio.create_task(
            provider.add(caller, MemoryInput(content=f"maybe {i}", user_id="alice"))
        )
        for i in range(40)
    ]
    await asyncio.sleep(0)  # every add has started: the first ones run, the rest queue
    for task in tasks[10:]:
        task.cancel()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    landed = {o.id for o in outcomes if not isinstance(o, BaseException)}
    assert all(isinstance(o, asyncio.CancelledError) for o in outcomes[10:])
    stored = {r.id for r in (await provider.list(caller, ListQuery(limit=100))).items}
    # A queued add that was cancelled is dropped; every stored one has its audit row.
    assert stored == landed
    assert len(stored) == 10
    assert stored <= await audit_ids(provider, caller)
    schema = provider.statements.schema

    async def orphans(conn: Connection) -> int:
        return int(
            await conn.fetchval(
                f"SELECT count(*) FROM {schema}.audit a WHERE a.namespace = $1"
                f" AND a.action = 'add' AND NOT EXISTS (SELECT 1 FROM {schema}.memories m"
                " WHERE m.namespace = a.namespace AND m.id = a.memory_id)",
                caller.namespace,
            )
        )

    assert await provider.runner.run(orphans) == 0


async def test_a_group_lost_with_the_database_is_every_adds_error_and_never_retried(
    provider: PostgresProvider, caller: Caller, monkeypatch: pytest.MonkeyPatch
) -> None:
    original_fetch, original_fetchrow = provider.runner.fetch, provider.runner.fetchrow
    single_adds: list[str] = []

    async def lost(sql: str, *args: Any, **kw: Any) -> Any:
        if sql == provider.statements.add_group:
            raise ProviderUnavailableError("the database is unavailable", provider="postgres")
        return await original_fetch(sql, *args, **kw)

    async def counting(sql: str, *args: Any, **kw: Any) -> Any:
        single_adds.append(args[14])
        return await original_fetchrow(sql, *args)

    monkeypatch.setattr(provider.runner, "fetch", lost)
    monkeypatch.setattr(provider.runner, "fetchrow", counting)
    items = [MemoryInput(content=f"fact {i}", user_id="alice") for i in range(12)]
    outcomes = await asyncio.gather(
        *(provider.add(caller, item) for item in items), return_exceptions=True
    )
    limit = provider.store.add_groups.limit
    grouped = [o for o in outcomes if isinstance(o, ProviderUnavailableError)]
    assert len(grouped) >= 12 - 2 * limit
    # Only the adds that found a free slot ran alone; none of the lost group was retried.
    assert len(single_adds) == 12 - len(grouped)


@pytest.mark.parametrize(
    ("url", "cores", "expected"),
    [
        ("postgresql://u@localhost:5432/db", 2, (1, 1)),
        ("postgresql://u@127.0.0.1/db", 8, (4, 4)),
        ("postgresql://u@[::1]/db", 1, (1, 1)),
        ("postgresql:///db?host=/tmp/pg", 2, (1, 1)),
        ("postgresql://u@db.example.com/db", 2, (2, 2)),
        ("postgresql://u@10.0.0.5/db", 64, (2, 2)),
        ("postgresql://u@localhost,db.example.com/db", 2, (2, 2)),
    ],
)
def test_statements_in_flight_default_to_the_cores_a_local_database_leaves_the_loop(
    monkeypatch: pytest.MonkeyPatch, url: str, cores: int, expected: tuple[int, int]
) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: cores)
    assert PostgresOptions(url=url).statements_in_flight(url) == expected
    configured = PostgresOptions(url=url, add_statements_in_flight=3, search_statements_in_flight=5)
    assert configured.statements_in_flight(url) == (3, 5)
