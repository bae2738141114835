"""Search: modes, scores in [0, 1], filters, validity and supersession, iterative scans."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from openmem_postgres import PostgresProvider
from openmem_postgres.queries import GRAPH_WALKS, graph_walk
from openmem_postgres.runner import Connection

from openmem.models import ContextQuery, MemoryInput, SearchHit, SearchMode, SearchQuery
from openmem.provider import Caller
from openmem.scopes import scope_matches, scope_regex


def item(content: str, **fields: Any) -> MemoryInput:
    return MemoryInput(content=content, user_id="alice", **fields)


@pytest.mark.parametrize("mode", ["semantic", "keyword", "hybrid"])
async def test_each_mode_ranks_the_matching_memory_first(
    provider: PostgresProvider, caller: Caller, mode: SearchMode
) -> None:
    await provider.add_many(
        caller,
        [
            item("the user prefers dark mode in every editor"),
            item("the user lives in Lisbon"),
            item("the user plays the cello"),
        ],
    )
    hits = await provider.search(caller, SearchQuery(query="dark mode editor", mode=mode))
    assert hits[0].memory.content == "the user prefers dark mode in every editor"
    assert all(0.0 <= h.score <= 1.0 for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


async def test_keyword_mode_matches_any_word_with_stemming(
    provider: PostgresProvider, caller: Caller
) -> None:
    await provider.add_many(caller, [item("enjoys running marathons"), item("owns a cat")])
    hits = await provider.search(caller, SearchQuery(query="marathon dogs", mode="keyword"))
    assert [h.memory.content for h in hits] == ["enjoys running marathons"]


async def test_hybrid_gives_a_first_place_in_both_rankings_a_score_of_one(
    provider: PostgresProvider, caller: Caller
) -> None:
    await provider.add_many(caller, [item("green tea every morning"), item("owns a bicycle")])
    hits = await provider.search(caller, SearchQuery(query="green tea morning", mode="hybrid"))
    assert hits[0].score == pytest.approx(1.0)


async def test_min_score_drops_weak_hits(provider: PostgresProvider, caller: Caller) -> None:
    await provider.add_many(caller, [item("likes jazz music"), item("zzz qqq unrelated")])
    hits = await provider.search(
        caller, SearchQuery(query="likes jazz music", mode="semantic", min_score=0.9)
    )
    assert [h.memory.content for h in hits] == ["likes jazz music"]


async def test_limit_caps_the_number_of_hits(provider: PostgresProvider, caller: Caller) -> None:
    await provider.add_many(caller, [item(f"note number {i}") for i in range(12)])
    hits = await provider.search(caller, SearchQuery(query="note number", limit=5))
    assert len(hits) == 5


async def test_scope_filter_follows_the_scope_grammar(
    provider: PostgresProvider, caller: Caller
) -> None:
    await provider.add_many(
        caller,
        [
            item("a python tip", scope="coding/python"),
            item("a style tip", scope="codingstyle"),
            item("a root tip", scope="coding"),
            item("an unscoped tip"),
        ],
    )
    hits = await provider.search(caller, SearchQuery(query="tip", scope="coding"))
    assert {h.memory.scope for h in hits} == {"coding/python", "coding"}
    starred = await provider.search(caller, SearchQuery(query="tip", scope="coding/*"))
    assert {h.memory.scope for h in starred} == {"coding/python"}


SCOPES = [
    "coding",
    "coding/python",
    "coding/python/style",
    "codingstyle",
    "writing/style",
    "writing/style/short",
    "a.b/c",
    "a+b",
    "x(y)/z",
    "coding/py",
    "[x]/y",
    "ü/ß",
]
PATTERNS = ["coding", "coding/*", "*/style", "*", "a.b", "a+b", "x(y)", "coding/py", "[x]", "ü"]


async def test_sql_scope_regex_agrees_with_scope_matches(provider: PostgresProvider) -> None:
    async def matches(conn: Connection) -> dict[str, list[bool]]:
        out = {}
        for pattern in PATTERNS:
            rows = await conn.fetch(
                "SELECT s ~ $1 AS m FROM unnest($2::text[]) WITH ORDINALITY AS t(s, o) ORDER BY o",
                scope_regex(pattern),
                SCOPES,
            )
            out[pattern] = [r["m"] for r in rows]
        return out

    in_sql = await provider.runner.run(matches)
    for pattern in PATTERNS:
        assert in_sql[pattern] == [scope_matches(pattern, s) for s in SCOPES], pattern


async def test_tags_must_all_match(provider: PostgresProvider, caller: Caller) -> None:
    await provider.add_many(
        caller, [item("both", tags=["a", "b"]), item("one", tags=["a"]), item("none")]
    )
    hits = await provider.search(caller, SearchQuery(query="both one none", tags=["a", "b"]))
    assert [h.memory.content for h in hits] == ["both"]


async def test_metadata_filters_match_by_equality(
    provider: PostgresProvider, caller: Caller
) -> None:
    await provider.add_many(
        caller,
        [
            item("red car", metadata={"color": "red", "wheels": 4}),
            item("red bike", metadata={"color": "red", "wheels": 2}),
        ],
    )
    hits = await provider.search(
        caller, SearchQuery(query="red", filters={"color": "red", "wheels": 2})
    )
    assert [h.memory.content for h in hits] == ["red bike"]


async def test_expired_and_future_memories_are_left_out_unless_asked(
    provider: PostgresProvider, caller: Caller
) -> None:
    now = datetime.now(UTC)
    await provider.add_many(
        caller,
        [
            item("coffee current"),
            item("coffee expired", valid_to=now - timedelta(days=1)),
            item("coffee future", valid_from=now + timedelta(days=1)),
        ],
    )
    active = await provider.search(caller, SearchQuery(query="coffee"))
    assert [h.memory.content for h in active] == ["coffee current"]
    every = await provider.search(caller, SearchQuery(query="coffee", include_inactive=True))
    assert len(every) == 3


async def test_superseded_memories_are_left_out_unless_asked(
    provider: PostgresProvider, caller: Caller
) -> None:
    old = await provider.add(caller, item("lives in Paris"))
    new = await provider.add(caller, item("lives in Lisbon", supersedes=[old.id]))
    active = await provider.search(caller, SearchQuery(query="lives in"))
    assert [h.memory.id for h in active] == [new.id]
    every = await provider.search(caller, SearchQuery(query="lives in", include_inactive=True))
    assert {h.memory.id for h in every} == {old.id, new.id}


async def test_context_fits_the_budget_and_cites_memories(
    provider: PostgresProvider, caller: Caller
) -> None:
    records = await provider.add_many(
        caller, [item(f"fact {i}: the user likes topic {i} very much") for i in range(10)]
    )
    block = await provider.context(caller, ContextQuery(query="user likes topic", token_budget=40))
    assert 0 < block.token_count <= 40
    assert block.citations
    assert {c.memory_id for c in block.citations} <= {r.id for r in records}
    assert f"[{block.citations[0].memory_id}]" in block.text


@pytest.fixture
async def ann_provider(postgres_url: str) -> AsyncIterator[PostgresProvider]:
    """A provider that searches every user holding more than 5 memories through HNSW. No
    queue workers: their polls go through the same runner, and a test capturing the
    statement a search ran would otherwise sometimes capture a poll instead."""
    prov = PostgresProvider(
        embedder="hashing",
        url=postgres_url,
        pool_max_size=2,
        exact_search_max_rows=5,
        ingest_workers=0,
    )
    await prov.open()
    try:
        yield prov
    finally:
        await prov.close()


async def test_a_small_user_is_searched_exactly_and_a_large_one_through_the_index(
    provider: PostgresProvider, ann_provider: PostgresProvider, caller: Caller
) -> None:
    """Every branch of the search statement ranks the same memories the same way.

    ``provider`` (bound 1,000) writes rows outside the HNSW graph: the user is small for
    every provider (the ``exact`` branch). ``ann_provider`` (bound 5) then adds one and
    moves them all in: from then on the user's newest row is in the graph, and every
    provider reads the graph (``ann``). Rows a race left outside are read exactly
    (``rest``) beside the graph, and rank as before.
    """
    await provider.add_many(
        caller, [item(f"note {i} about {'gardens' if i % 3 else 'boats'} {i}") for i in range(12)]
    )

    async def branches(prov: PostgresProvider) -> set[str]:
        sql, args = await _captured_search(prov, caller, "gardens")
        nodes = _ctes_run(await _explain_analyzed(prov, sql, args))
        return {name for name in ("exact", "ann", "rest") if nodes[f"cand_{name}"]}

    async def exact_scores(conn: Connection) -> list[float]:
        (vector,) = await provider.store.embed(["gardens note"])
        rows = await conn.fetch(
            "SELECT 1 - (embedding <=> $3) AS score FROM openmem.memories"
            " WHERE namespace = $1 AND user_id = $2 ORDER BY score DESC LIMIT 8",
            caller.namespace,
            caller.user_id,
            vector,
        )
        return [r["score"] for r in rows]

    async def rankings() -> dict[str, list[tuple[str, float]]]:
        found: dict[str, list[tuple[str, float]]] = {}
        for mode in ("semantic", "hybrid"):
            query = SearchQuery(query="gardens note", mode=mode, limit=8)
            hits = await ann_provider.search(caller, query)
            found[mode] = [(h.memory.id, h.score) for h in hits]
        semantic = [score for _, score in found["semantic"]]
        assert semantic == pytest.approx(await provider.runner.run(exact_scores), abs=1e-6)
        return found

    def same(one: list[tuple[str, float]], other: list[tuple[str, float]]) -> None:
        assert [s for _, s in one] == pytest.approx([s for _, s in other], abs=1e-6)
        # Memories tied with the last hit may be cut either way; the rest must agree.
        cut = one[-1][1] + 1e-6
        assert [i for i, s in one if s > cut] == [i for i, s in other if s > cut]

    assert await _in_graph(provider, caller) == [False] * 12
    assert await branches(provider) == {"exact"}
    assert await branches(ann_provider) == {"exact"}
    await rankings()

    await ann_provider.add(caller, item("note 12 about gardens 12"))
    assert await _in_graph(provider, caller) == [True] * 13
    assert await branches(provider) == {"ann"}
    assert await branches(ann_provider) == {"ann"}
    through_graph = await rankings()

    async def leave_out(conn: Connection) -> None:
        await conn.execute(
            "UPDATE openmem.memories SET in_ann = false WHERE namespace = $1 AND user_id = $2"
            " AND content IN ('note 1 about gardens 1', 'note 2 about gardens 2')",
            caller.namespace,
            caller.user_id,
        )

    await provider.runner.run(leave_out)
    assert await branches(ann_provider) == {"ann", "rest"}
    beside_graph = await rankings()
    for mode in ("semantic", "hybrid"):
        same(beside_graph[mode], through_graph[mode])


@pytest.mark.parametrize("analyzed", [False, True])
@pytest.mark.parametrize("plans", ["force_generic_plan", "force_custom_plan"])
async def test_a_large_users_search_walks_the_graph_whatever_the_statistics(
    ann_provider: PostgresProvider, pg_namespace: str, plans: str, analyzed: bool
) -> None:
    """With fresh statistics the planner knows the user's share of the table; the graph
    branch must still never read the user's rows through its B-tree and sort them all (a
    small table like this one may be scanned whole; at 10,000 rows every plan walks the
    graph: benchmarks/peers.py's one-user search, and benchmarks/results/profile.md)."""
    big = Caller(pg_namespace, "big")
    for batch in range(BATCHES):
        await ann_provider.add_many(
            big, [item(f"big note {batch} {i} about kites {pg_namespace}") for i in range(100)]
        )
    for other in range(5):
        small = Caller(pg_namespace, f"small-{other}")
        await ann_provider.add_many(small, [item(f"small note {i}") for i in range(4)])
    if analyzed:
        await ann_provider.runner.run(lambda conn: conn.execute("ANALYZE openmem.memories"))
    # Not about gardens (the graph is shared, other tests look for gardens in it), and
    # nearest to this test's own rows, not to the other parameters' near-identical ones.
    sql, args = await _captured_search(ann_provider, big, f"kites {pg_namespace}")

    tree = await _explain_analyzed(ann_provider, sql, args, plan_cache_mode=plans)
    assert {n for n, ran in _ctes_run(tree).items() if ran and n.startswith("cand")} == {"cand_ann"}
    graph = json.dumps(_cte(tree, "cand_ann"))
    assert "memories_user_created" not in graph
    assert "memories_unindexed" not in graph


BATCHES = 10


def _cte(plan: Any, name: str) -> dict[str, Any]:
    """The plan node of CTE ``name`` in an EXPLAIN (JSON) plan."""

    def walk(node: dict[str, Any]) -> dict[str, Any] | None:
        if node.get("Subplan Name") == f"CTE {name}":
            return node
        for child in node.get("Plans", []):
            found = walk(child)
            if found is not None:
                return found
        return None

    found = walk(plan[0]["Plan"])
    assert found is not None, name
    return found


async def test_a_graph_walk_that_ends_short_is_answered_exactly(
    ann_provider: PostgresProvider, caller: Caller
) -> None:
    """A graph walk that yields fewer rows than asked for (here: 30 memories, a limit of
    100) falls back to the exact scan of the user's rows, so a large user always gets all
    the hits it has, however short a bounded walk ends."""
    await ann_provider.add_many(caller, [item(f"short note {i} about wells") for i in range(30)])
    hits, sql, args = await _search_capturing(
        ann_provider, caller, SearchQuery(query="wells", mode="semantic", limit=100)
    )
    assert len(hits) == 30
    plan = await _explain_analyzed(ann_provider, sql, args)
    ran = {n for n, r in _ctes_run(plan).items() if r}
    assert "cand_short" in ran
    assert "cand_ann" in ran  # walked first, found fewer than asked


async def test_the_newest_rows_count_decides_and_older_rows_are_counted_once(
    provider: PostgresProvider, ann_provider: PostgresProvider, caller: Caller
) -> None:
    """Each row carries its user's row count (migration 4): an add reads the newest row's
    and adds one, instead of counting the user's rows. A user whose newest row has none
    (written before migration 4) is counted once."""
    await provider.add_many(caller, [item(f"counted note {i}") for i in range(3)])
    assert await _user_rows(provider, caller) == [(1, False), (2, False), (3, False)]

    async def set_user_rows(value: int | None) -> None:
        async def write(conn: Connection) -> None:
            await conn.execute(
                "UPDATE openmem.memories SET user_rows = $3 WHERE namespace = $1 AND user_id = $2",
                caller.namespace,
                caller.user_id,
                value,
            )

        await provider.runner.run(write)

    await set_user_rows(None)  # as if written before migration 4
    await provider.add(caller, item("counted note 3"))
    assert [n for n, _ in await _user_rows(provider, caller)] == [None, None, None, 4]

    # The newest row says 5: with a bound of 5 the next add makes the user large, though it
    # holds 4 rows (a count would keep it small): the number, not a count, decides.
    await set_user_rows(5)
    await ann_provider.add(caller, item("counted note 4"))
    assert await _user_rows(provider, caller) == [(5, True)] * 4 + [(6, True)]


async def _user_rows(prov: PostgresProvider, caller: Caller) -> list[tuple[int | None, bool]]:
    """``(user_rows, in_ann)`` of the caller's rows, oldest first."""

    async def read(conn: Connection) -> list[tuple[int | None, bool]]:
        rows = await conn.fetch(
            "SELECT user_rows, in_ann FROM openmem.memories WHERE namespace = $1"
            " AND user_id = $2 ORDER BY created_at, id",
            caller.namespace,
            caller.user_id,
        )
        return [(r["user_rows"], r["in_ann"]) for r in rows]

    return await prov.runner.run(read)


async def test_searches_reuse_one_generic_plan(postgres_url: str, caller: Caller) -> None:
    """The server plans a search statement once per connection, whoever searches: with
    ``plan_cache_mode`` at its default (auto) the first five runs, and any that look cheaper
    planned for their own values, are planned anew (1-2 ms of server CPU for a group). One
    connection, so that the searches and the look at its plans share it."""
    provider = PostgresProvider(
        embedder="hashing", url=postgres_url, pool_min_size=1, pool_max_size=1, ingest_workers=0
    )
    await provider.open()
    try:
        await provider.add_many(caller, [item(f"plan note {i}") for i in range(3)])
        _, sql, _ = await _search_capturing(
            provider, caller, SearchQuery(query="note", mode="semantic", limit=5)
        )
        for n in range(12):
            other = Caller(caller.namespace, f"{caller.user_id}-{n}")
            # Limits of one graph-walk bound (``queries.GRAPH_WALKS``): one statement text.
            query = SearchQuery(query=f"note {n}", mode="semantic", limit=n % 10 + 1)
            await provider.search(other, query)

        async def plans(conn: Connection) -> list[tuple[int, int]]:
            rows = await conn.fetch(
                "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
                " WHERE statement = $1",
                sql,
            )
            return [(r["generic_plans"], r["custom_plans"]) for r in rows]

        assert await provider.runner.run(plans) == [(13, 0)]
    finally:
        await provider.close()


async def test_hybrid_hits_are_read_by_their_place(postgres_database_url: str) -> None:
    """Each fused id of a hybrid search is read by its place in the table (one page), not
    through a walk of the user's B-tree range per id (42 ids x 46 rows at 100 memories a
    user). A fresh store, never analyzed, as every store starts."""
    provider = PostgresProvider(embedder="hashing", url=postgres_database_url, ingest_workers=0)
    await provider.open()
    try:
        caller = Caller("ns", "user-0")
        for user in range(20):
            await provider.add_many(
                Caller("ns", f"user-{user}"),
                [item(f"hybrid note {i} about ferns and {user}") for i in range(100)],
            )
        _, sql, args = await _search_capturing(
            provider, caller, SearchQuery(query="ferns note", mode="hybrid", limit=10)
        )
        plan = await _explain_analyzed(provider, sql, args)
        lookups: list[tuple[str, int]] = []

        def walk(node: dict[str, Any]) -> None:
            if node.get("Relation Name") == "memories" and node.get("Actual Loops", 1) > 1:
                lookups.append((node.get("Index Name", node["Node Type"]), node["Actual Loops"]))
            for child in node.get("Plans", []):
                walk(child)

        walk(plan[0]["Plan"])
        assert lookups, "no per-id lookup of the fused ids"
        assert {name for name, _ in lookups} == {"Tid Scan"}
    finally:
        await provider.close()


async def _in_graph(prov: PostgresProvider, caller: Caller) -> list[bool]:
    """``in_ann`` of the caller's rows, oldest first."""

    async def read(conn: Connection) -> list[bool]:
        rows = await conn.fetch(
            "SELECT in_ann FROM openmem.memories WHERE namespace = $1 AND user_id = $2"
            " ORDER BY created_at, id",
            caller.namespace,
            caller.user_id,
        )
        return [r["in_ann"] for r in rows]

    return await prov.runner.run(read)


class _RolledBack(Exception):
    """Carries an EXPLAIN ANALYZE out of a transaction that must not commit its audit row."""


async def _explain_analyzed(
    prov: PostgresProvider,
    sql: str,
    args: Sequence[Any],
    *,
    plan_cache_mode: str | None = None,
) -> Any:
    """``EXPLAIN (ANALYZE, FORMAT JSON)`` of a captured statement, parsed, run in a
    transaction that is rolled back, so its audit row never commits; audit ids get a fresh
    suffix (the captured ones are taken by the search that was made)."""
    fresh = [f"{a}_explained" if str(a).startswith("aud_") else a for a in args]

    async def plan(conn: Connection) -> None:
        async with conn.transaction():
            if plan_cache_mode is not None:
                await conn.execute(f"SET LOCAL plan_cache_mode = {plan_cache_mode}")
            text = await conn.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", *fresh)
            raise _RolledBack(str(text))

    with pytest.raises(_RolledBack) as done:
        await prov.runner.run(plan)
    return json.loads(done.value.args[0])


async def _search_capturing(
    prov: PostgresProvider, caller: Caller, query: SearchQuery
) -> tuple[list[SearchHit], str, tuple[Any, ...]]:
    """The hits of ``query`` and the statement and arguments that answered it."""
    captured: list[tuple[str, tuple[Any, ...]]] = []
    original = prov.runner.fetch

    async def capture(sql: str, *args: Any, **kw: Any) -> Any:
        captured.append((sql, args))
        return await original(sql, *args, **kw)

    prov.runner.fetch = capture  # type: ignore[method-assign]
    try:
        hits = await prov.search(caller, query)
    finally:
        del prov.runner.fetch
    sql, args = captured[-1]
    return hits, sql, args


async def _captured_search(
    prov: PostgresProvider, caller: Caller, text: str
) -> tuple[str, tuple[Any, ...]]:
    """The statement and arguments of a semantic search for ``text`` (limit 5)."""
    _, sql, args = await _search_capturing(
        prov, caller, SearchQuery(query=text, mode="semantic", limit=5)
    )
    return sql, args


def _ctes_run(plan: Any) -> dict[str, bool]:
    """Whether each CTE of an EXPLAIN ANALYZE (JSON) plan produced any row."""
    found: dict[str, bool] = {}

    def walk(node: dict[str, Any]) -> None:
        if node.get("Parent Relationship") == "InitPlan" and "Subplan Name" in node:
            name = node["Subplan Name"].removeprefix("CTE ")
            found[name] = node.get("Actual Rows", 0) > 0
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return found


async def test_a_selective_user_filter_still_fills_the_ann_result(
    ann_provider: PostgresProvider, pg_namespace: str
) -> None:
    """With iterative index scans, a user owning 0.5% of the rows still gets ``limit`` hits."""
    provider = ann_provider  # the needle's 10 memories are past its exact-search bound
    for batch in range(20):
        crowd = Caller(pg_namespace, f"crowd-{batch}")
        await provider.add_many(
            crowd,
            [
                MemoryInput(content=f"crowd note {batch} {i} about gardens", user_id=crowd.user_id)
                for i in range(100)
            ],
        )
    me = Caller(pg_namespace, "needle")
    await provider.add_many(
        me,
        [
            MemoryInput(content=f"my own note {i} about gardens", user_id="needle")
            for i in range(10)
        ],
    )

    hits, sql, args = await _search_capturing(
        provider, me, SearchQuery(query="gardens", mode="semantic", limit=10)
    )
    assert len(hits) == 10
    assert {h.memory.user_id for h in hits} == {"needle"}
    # The planner may still read the index branch of a user this small through the B-tree
    # (and sort); force the HNSW index to prove that the iterative scan fills the result.
    fresh = tuple(f"aud_forced_{i}" if str(a).startswith("aud_") else a for i, a in enumerate(args))

    async def through_hnsw(conn: Connection) -> tuple[str, list[str]]:
        async with conn.transaction():
            await conn.execute("SET LOCAL enable_sort = off")
            plan = await conn.fetchval(f"EXPLAIN (FORMAT JSON) {sql}", *fresh)
            rows = await conn.fetch(sql, *fresh)
        return str(plan), [r["user_id"] for r in rows]

    plan, users = await provider.runner.run(through_hnsw)
    assert "memories_hnsw_" in plan
    assert users == ["needle"] * 10


async def test_users_crossing_the_bound_together_lose_no_add(
    ann_provider: PostgresProvider, pg_namespace: str
) -> None:
    """Many users crossing the bound at once, in four concurrent group statements and in
    mixed orders: every add lands and every row ends in the graph. (Whether an HNSW walk
    then finds each of them is the index's recall, measured in benchmarks/: with this
    embedder's near-duplicate vectors pgvector misses one or two of twenty, with or without
    the move.)"""
    users = [Caller(pg_namespace, f"crossing-{u}") for u in range(6)]
    order = [users[(i * 7 + i // 6) % 6] for i in range(120)]
    outcomes = await asyncio.gather(
        *(
            ann_provider.add(c, item(f"crossing note {i} about lanterns"))
            for i, c in enumerate(order)
        ),
        return_exceptions=True,
    )
    assert [o for o in outcomes if isinstance(o, BaseException)] == []
    for caller in users:
        assert await _in_graph(ann_provider, caller) == [True] * 20


def test_a_graph_walk_is_bounded_by_a_literal_of_a_few() -> None:
    """The walk's bound is a literal so a generic plan knows it is short (a parameter is
    costed as a tenth of the table), and one of a few, so limits share statements."""
    assert [graph_walk(d) for d in (1, 10, 11, 30, 31, 100, 101, 300)] == [
        10,
        10,
        30,
        30,
        100,
        100,
        300,
        300,
    ]
    assert graph_walk(301) == 301
    assert set(map(graph_walk, range(1, 301))) == set(GRAPH_WALKS)
