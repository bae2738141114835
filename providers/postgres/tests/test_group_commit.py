"""Group commit: concurrent adds beyond the in-flight limit go to the database together."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from openmem_postgres import PostgresProvider
from openmem_postgres.group_commit import SETTLED_PER_ITERATION, StatementGroups
from openmem_postgres.options import PostgresOptions
from openmem_postgres.runner import Connection

from openmem.errors import InvalidRequestError, ProviderUnavailableError
from openmem.models import AuditQuery, ListQuery, MemoryInput, MemoryRecord, MemorySource
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


@pytest.mark.parametrize(
    "bad_fields",
    [{"content": "a\x00b"}, {"content": "fine", "metadata": {"k": object()}}],
    ids=["refused by the server", "refused before the driver"],
)
async def test_a_bad_add_in_a_group_fails_alone_and_the_others_land(
    provider: PostgresProvider,
    caller: Caller,
    monkeypatch: pytest.MonkeyPatch,
    bad_fields: dict[str, Any],
) -> None:
    groups: list[int] = []  # groups formed, whether or not their statement was sent
    forming = provider.store.add_groups._write_group

    async def formed(group: Sequence[Any]) -> Any:
        groups.append(len(group))
        return await forming(group)

    monkeypatch.setattr(provider.store.add_groups, "_write_group", formed)
    bad = MemoryInput.model_construct(
        **{"user_id": "alice", "tags": [], "metadata": {}, **bad_fields}
    )
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


def _varied_items(user: str) -> list[MemoryInput]:
    """Adds setting every optional field, some, or none: bound together in one statement,
    a column one row sets and the others leave empty must still reach each row as its own."""
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    full = MemoryInput.model_validate(
        {
            "content": "full",
            "user_id": user,
            "scope": "home/garden",
            "tags": ["a", "b"],
            "source": {"app": "notes", "type": "explicit", "ref": "r1", "page": 3},
            "confidence": 0.25,
            "valid_from": when,
            "valid_to": when + timedelta(days=1),
            "supersedes": ["mem_x", "mem_y"],
            "agent_id": "agent-1",
            "session_id": "session-1",
            "metadata": {"nested": {"list": [1, 2.5, None, "é"]}, "empty": {}},
            "idempotency_key": f"key-{user}",
            "x-test": {"k": [1]},
        }
    )
    return [
        MemoryInput(content="bare", user_id=user),
        full,
        MemoryInput(content="empty source", user_id=user, source=MemorySource(), tags=[]),
        MemoryInput(content="tags only", user_id=user, tags=["solo"], metadata={}),
        MemoryInput(content="metadata only", user_id=user, metadata={"k": "v"}),
        MemoryInput(content="scope only", user_id=user, scope="work"),
    ]


def _stored_fields(record: MemoryRecord) -> dict[str, Any]:
    return record.model_dump(exclude={"id", "created_at", "updated_at"})


async def test_a_group_stores_each_add_as_it_would_alone_whatever_fields_it_sets(
    provider: PostgresProvider, pg_namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every field of every add, in a group beside adds that leave it unset, is stored as a
    lone add stores it; the group statement itself succeeds (no row retried alone), and each
    audit row carries its own caller's app and request id."""
    alone_caller = Caller(namespace=pg_namespace, user_id="alone", app="tests")
    alone = [await provider.add(alone_caller, item) for item in _varied_items("alone")]
    failed: list[BaseException] = []
    groups: list[int] = []
    original = provider.runner.fetch

    async def watching(sql: str, *args: Any, **kw: Any) -> Any:
        if sql != provider.statements.add_group:
            return await original(sql, *args, **kw)
        groups.append(len(args[0]))
        try:
            return await original(sql, *args, **kw)
        except BaseException as exc:
            failed.append(exc)
            raise

    monkeypatch.setattr(provider.runner, "fetch", watching)
    callers = [
        Caller(namespace=pg_namespace, user_id=f"grouped-{n}", app=app, request_id=request)
        for n, (app, request) in enumerate([("tests", None), (None, "req-1"), (None, None)])
    ]
    items = [(c, item) for c in callers for item in _varied_items(c.user_id)]
    grouped = await asyncio.gather(*(provider.add(c, item) for c, item in items * 3))
    assert not failed, failed
    assert groups
    assert max(groups) >= 6, groups
    for (caller, _item), record in zip(items * 3, grouped, strict=True):
        contents = [i.content for i in _varied_items("x")]
        expected = _stored_fields(alone[contents.index(record.content)])
        expected.update(user_id=caller.user_id)
        assert _stored_fields(record) == expected, record.content
        (stored,) = [
            r
            for r in (await provider.list(caller, ListQuery(limit=100))).items
            if r.id == record.id
        ]
        assert _stored_fields(stored) == _stored_fields(record)
    for caller in callers:
        entries = await provider.audit(caller, AuditQuery(action="add", limit=100))
        assert entries
        assert {(e.app, e.request_id) for e in entries} == {(caller.app, caller.request_id)}


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


async def test_add_many_stores_each_item_as_a_lone_add_whatever_fields_it_sets(
    provider: PostgresProvider, pg_namespace: str
) -> None:
    """``add_many`` binds its items as columns the same way: each stored as alone."""
    alone_caller = Caller(namespace=pg_namespace, user_id="one-by-one", app="tests")
    alone = [await provider.add(alone_caller, item) for item in _varied_items("one-by-one")]
    caller = Caller(namespace=pg_namespace, user_id="batch", app="tests")
    batch = await provider.add_many(caller, _varied_items("batch"))
    assert [r.content for r in batch] == [r.content for r in alone]
    for record, lone in zip(batch, alone, strict=True):
        assert _stored_fields(record) == {**_stored_fields(lone), "user_id": "batch"}
    stored = {r.id: r for r in (await provider.list(caller, ListQuery(limit=100))).items}
    assert [_stored_fields(stored[r.id]) for r in batch] == [_stored_fields(r) for r in batch]


async def test_callers_of_groups_finishing_together_are_resumed_a_few_per_loop_iteration() -> None:
    """Two groups answered at once resume their callers ``SETTLED_PER_ITERATION`` per loop
    iteration in all, not that many per group: each resumed caller runs on the loop, and an
    iteration runs every one made ready before it began (the loop lag)."""
    release_lone, release_groups = asyncio.Event(), asyncio.Event()

    async def write_one(args: int) -> int:
        await release_lone.wait()
        return args

    async def write_group(group: Sequence[int]) -> list[int]:
        await release_groups.wait()
        return list(group)

    groups: StatementGroups[int, int] = StatementGroups(
        limit=2, max_rows=6, write_one=write_one, write_group=write_group
    )
    iteration = 0

    async def count_iterations() -> None:
        nonlocal iteration
        while True:
            iteration += 1
            await asyncio.sleep(0)

    resumed_in: dict[int, int] = {}

    async def call(n: int) -> None:
        assert await groups.submit(n) == n
        resumed_in[n] = iteration

    counter = asyncio.ensure_future(count_iterations())
    calls = [asyncio.ensure_future(call(n)) for n in range(14)]
    await asyncio.sleep(0.01)
    release_lone.set()  # the two lone calls finish; the twelve queued go as two groups
    await asyncio.sleep(0.01)
    release_groups.set()  # both groups are answered in the same iteration
    await asyncio.wait_for(asyncio.gather(*calls), 5)
    counter.cancel()
    grouped = [resumed_in[n] for n in range(2, 14)]
    per_iteration = Counter(grouped)
    assert max(per_iteration.values()) <= SETTLED_PER_ITERATION, per_iteration
    await groups.aclose(1)
