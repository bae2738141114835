"""Grouped searches: concurrent semantic searches answered by one statement, nothing traded."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from openmem_postgres import PostgresProvider
from openmem_postgres.rows import RECORD_COLUMNS
from openmem_postgres.search_groups import SearchCall, search_groups

from openmem.errors import ProviderError
from openmem.models import AuditQuery, ListQuery, MemoryInput, SearchHit, SearchQuery
from openmem.provider import Caller


@pytest.fixture
async def grouping(postgres_url: str) -> AsyncIterator[PostgresProvider]:
    """One search statement in flight, so every search arriving meanwhile joins a group;
    users above 5 memories go through the index (and so leave the group)."""
    prov = PostgresProvider(
        embedder="hashing",
        url=postgres_url,
        pool_max_size=3,
        ingest_workers=0,
        search_statements_in_flight=1,
        exact_search_max_rows=5,
    )
    await prov.open()
    try:
        yield prov
    finally:
        await prov.close()


def count_groups(provider: PostgresProvider, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Searches per group statement the provider sends from now on."""
    groups: list[int] = []
    original = provider.runner.fetch

    async def counting(sql: str, *args: Any, **kw: Any) -> Any:
        if sql.lstrip().startswith("WITH input AS") and "unnest($1::text[], $2::text[]," in sql:
            groups.append(len(args[0]))
        return await original(sql, *args, **kw)

    monkeypatch.setattr(provider.runner, "fetch", counting)
    return groups


def ids(hits: list[SearchHit]) -> list[str]:
    return [hit.memory.id for hit in hits]


async def fill(provider: PostgresProvider, caller: Caller, topics: list[str]) -> None:
    await provider.add_many(
        caller,
        [MemoryInput(content=f"{caller.user_id} {t}", user_id=caller.user_id) for t in topics],
    )


async def test_grouped_searches_answer_each_user_from_its_own_rows_only(
    grouping: PostgresProvider, pg_namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Users of two namespaces with the same words: a group never mixes their rows."""
    callers = [
        Caller(namespace=ns, user_id=f"user-{u}", app="tests")
        for ns in (pg_namespace, f"{pg_namespace}-b")
        for u in range(3)
    ]
    for caller in callers:
        await fill(grouping, caller, ["garden roses", "sailing boats", "jazz piano"])
    query = SearchQuery(query="garden roses boats", mode="semantic", limit=10)
    alone = [await grouping.search(c, query) for c in callers]
    groups = count_groups(grouping, monkeypatch)
    together = await asyncio.gather(*(grouping.search(c, query) for c in callers * 4))
    assert groups
    assert all(size >= 2 for size in groups), groups
    for n, hits in enumerate(together):
        caller = callers[n % len(callers)]
        assert ids(hits) == ids(alone[n % len(callers)])
        assert [h.score for h in hits] == pytest.approx([h.score for h in alone[n % len(callers)]])
        assert {h.memory.user_id for h in hits} == {caller.user_id}
        own = {r.id for r in (await grouping.list(caller, ListQuery(limit=100))).items}
        assert set(ids(hits)) <= own


async def test_every_grouped_search_writes_its_own_audit_row(
    grouping: PostgresProvider, pg_namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    callers = [Caller(namespace=pg_namespace, user_id=f"aud-{u}", app="tests") for u in range(4)]
    for caller in callers:
        await fill(grouping, caller, ["one note", "two notes"])
    groups = count_groups(grouping, monkeypatch)
    await asyncio.gather(
        *(grouping.search(c, SearchQuery(query="note", mode="semantic")) for c in callers * 5)
    )
    assert groups
    for caller in callers:
        entries = await grouping.audit(caller, AuditQuery(action="search", limit=100))
        assert len(entries) == 5
        assert {e.details["results"] for e in entries} == {2}
        assert {e.details["mode"] for e in entries} == {"semantic"}


async def test_filters_validity_and_supersession_hold_inside_a_group(
    grouping: PostgresProvider, caller: Caller, monkeypatch: pytest.MonkeyPatch
) -> None:
    past = datetime.now(UTC) - timedelta(days=2)
    old = await grouping.add(caller, _item("rose garden old", scope="home/garden"))
    await grouping.add(caller, _item("rose garden new", scope="home/garden", supersedes=[old.id]))
    await grouping.add(caller, _item("rose garden expired", valid_to=past, tags=["x"]))
    await grouping.add(caller, _item("rose garden work", scope="work", tags=["x"]))
    queries = [
        SearchQuery(query="rose garden", mode="semantic"),
        SearchQuery(query="rose garden", mode="semantic", scope="home"),
        SearchQuery(query="rose garden", mode="semantic", tags=["x"]),
        SearchQuery(query="rose garden", mode="semantic", include_inactive=True),
        SearchQuery(query="rose garden", mode="semantic", min_score=0.99),
        SearchQuery(query="rose garden", mode="semantic", limit=1),
    ]
    alone = [await grouping.search(caller, q) for q in queries]
    groups = count_groups(grouping, monkeypatch)
    together = await asyncio.gather(*(grouping.search(caller, q) for q in queries * 3))
    assert groups
    for n, hits in enumerate(together):
        assert ids(hits) == ids(alone[n % len(queries)]), queries[n % len(queries)]
    contents = [{h.memory.content for h in hits} for hits in alone]
    assert "rose garden old" not in contents[0]
    assert "rose garden expired" not in contents[0]
    assert contents[1] == {"rose garden new"}
    assert contents[2] == {"rose garden work"}
    assert "rose garden old" in contents[3]


async def test_a_user_too_large_for_the_exact_scan_leaves_the_group_for_the_index(
    grouping: PostgresProvider, pg_namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    small = Caller(namespace=pg_namespace, user_id="small", app="tests")
    large = Caller(namespace=pg_namespace, user_id="large", app="tests")
    await fill(grouping, small, ["boat trip", "tea"])
    await fill(grouping, large, [f"boat trip {i}" for i in range(12)])  # > 5: HNSW
    query = SearchQuery(query="boat trip", mode="semantic", limit=4)
    alone = {c.user_id: ids(await grouping.search(c, query)) for c in (small, large)}
    groups = count_groups(grouping, monkeypatch)
    together = await asyncio.gather(*(grouping.search(c, query) for c in [small, large] * 4))
    assert groups
    for n, hits in enumerate(together):
        assert ids(hits) == alone[("small", "large")[n % 2]]
    entries = await grouping.audit(large, AuditQuery(action="search", limit=100))
    assert len(entries) == 5  # one each: the grouped statement wrote none for this user


async def test_a_cancelled_search_in_a_group_gives_up_alone(
    grouping: PostgresProvider, pg_namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    callers = [Caller(namespace=pg_namespace, user_id=f"c-{u}", app="tests") for u in range(3)]
    for caller in callers:
        await fill(grouping, caller, ["coffee beans", "tea leaves"])
    sent = asyncio.Event()
    release = asyncio.Event()
    original = grouping.runner.fetch

    async def held(sql: str, *args: Any, **kw: Any) -> Any:
        rows = await original(sql, *args, **kw)
        sent.set()
        await release.wait()  # the group statement has run; its answer is held back
        return rows

    monkeypatch.setattr(grouping.runner, "fetch", held)
    query = SearchQuery(query="coffee", mode="semantic")
    first = asyncio.ensure_future(grouping.search(callers[0], query))
    await asyncio.wait_for(sent.wait(), 10)  # the first search's own statement ran
    sent.clear()
    queued = [asyncio.ensure_future(grouping.search(c, query)) for c in callers]
    await asyncio.sleep(0)
    queued[1].cancel()  # while queued: never sent
    release.set()
    await asyncio.wait_for(first, 10)
    release.clear()
    await asyncio.wait_for(sent.wait(), 10)  # the group of the two others has run
    queued[0].cancel()  # after its group was sent: gives up at once
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(queued[0], 1)
    with pytest.raises(asyncio.CancelledError):
        await queued[1]
    release.set()
    hits = await asyncio.wait_for(queued[2], 10)
    assert {h.memory.user_id for h in hits} == {"c-2"}
    entries = await grouping.audit(callers[1], AuditQuery(action="search", limit=10))
    assert entries == []  # the search cancelled in the queue never ran


def _item(content: str, **fields: Any) -> MemoryInput:
    return MemoryInput(content=content, user_id="alice", **fields)


async def test_groups_without_read_audit_write_no_audit_rows(
    postgres_url: str, pg_namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    prov = PostgresProvider(
        embedder="hashing",
        url=postgres_url,
        pool_max_size=2,
        ingest_workers=0,
        search_statements_in_flight=1,
        audit_reads=False,
    )
    await prov.open()
    try:
        callers = [Caller(namespace=pg_namespace, user_id=f"na-{u}", app="tests") for u in range(3)]
        for caller in callers:
            await fill(prov, caller, ["river stones", "mountain air"])
        groups = count_groups(prov, monkeypatch)
        together = await asyncio.gather(
            *(prov.search(c, SearchQuery(query="river", mode="semantic")) for c in callers * 3)
        )
        assert groups
        for n, hits in enumerate(together):
            assert {h.memory.user_id for h in hits} == {callers[n % 3].user_id}
            assert len(hits) == 2
        for caller in callers:
            assert await prov.audit(caller, AuditQuery(action="search", limit=10)) == []
    finally:
        await prov.close()


class _AnsweringRunner:
    """A runner whose group statement answers with the given rows; a search run alone
    answers with a marker row of its own."""

    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self.rows = rows
        self.alone: list[str] = []

    async def fetch(self, statement: str, *args: Any, **kw: Any) -> list[Any]:
        if statement == "single":
            self.alone.append(args[0])
            return [("alone", args[0])]
        return self.rows


def _call(user: str) -> SearchCall:
    return SearchCall(
        single=lambda: ("single", [user]),
        namespace="ns",
        user_id=user,
        vector=[0.0],
        limit=10,
        min_score=0.0,
        scope_regex=None,
        tags=[],
        active_only=True,
        audit_id="aud",
        action="search",
        scope=None,
        app=None,
        request_id=None,
    )


def _row(place: int, user: str | None, *, small: bool = True, memory: str | None = None) -> Any:
    record: list[Any] = [None] * len(RECORD_COLUMNS.split(","))
    if user is not None:
        record[0], record[1] = memory or f"mem-{user}", user
    return (*record, 0.5, place, small)


async def test_a_group_answer_is_split_by_search_and_never_hands_out_another_users_row(
    grouping: PostgresProvider,
) -> None:
    """Each search gets exactly its own rows: hits, none (one row of NULLs), or, for a user
    the group could not answer, its own single statement; a row of another user in a
    search's answer is an error, never an answer."""
    calls = [_call(u) for u in ("a", "b", "c", "d")]
    rows = [
        _row(1, "a", memory="a1"),
        _row(1, "a", memory="a2"),
        _row(2, None),  # no hits
        _row(3, None, small=False),  # too large for the group: answered alone
        _row(4, "d", memory="d1"),
    ]
    runner = _AnsweringRunner(rows)
    groups = search_groups(runner, grouping.statements, audited=True, limit=1)  # type: ignore[arg-type]
    answers = await groups._write_group(calls)
    assert [[r[0] for r in hits] for hits in answers] == [["a1", "a2"], [], ["alone"], ["d1"]]
    assert runner.alone == ["c"]
    runner.rows = [*rows[:4], _row(4, "d", memory="d1"), _row(4, "a", memory="a1")]
    with pytest.raises(ProviderError, match="another user's row"):
        await groups._write_group(calls)
