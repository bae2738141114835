"""Concurrent semantic searches of any callers, answered by one statement per group.

At c=32 on two cores, a search statement per call kept up to a pool's worth of backends
runnable beside the event loop, each of them preempting it, and paid a round trip, an
executor start-up and a commit (of the read's audit row) per search
(benchmarks/results/profile.md). Grouped like adds (``group_commit.StatementGroups``): while
``search_statements_in_flight`` search statements run, further semantic searches wait, and
the waiting ones are answered together by ``group_statement``: for each search, the same
exact scan of the caller's own rows as the single statement (namespace and user taken from
that search's own input row, so one statement never mixes users' rows), and the audit rows
of all of them, in one transaction.

Only the exact branch is grouped: a large user (its newest row in the HNSW graph, see
migration 2; its search walks the graph, a plan a lateral join cannot be steered to) comes back
flagged and is answered by its own single statement, with its own audit row. Searches with
metadata filters, and keyword and hybrid searches, always run alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter
from typing import Any

import asyncpg

from openmem.errors import ProviderError
from openmem_postgres.group_commit import StatementGroups
from openmem_postgres.queries import Statements
from openmem_postgres.rows import RECORD_COLUMNS, encode_vector
from openmem_postgres.runner import PROVIDER, PooledRunner
from openmem_postgres.unnest_columns import column, json_column

__all__ = ["GROUP_MAX_SEARCHES", "SearchCall", "SearchGroups", "group_statement", "search_groups"]

GROUP_MAX_SEARCHES = 16
"""Searches per group statement at most. Their answers come back in one result, parsed on
the loop in one callback: at 32 searches of 10 hits that callback was the event loop's
longest (lag p99 3.2 ms at c=32), at 16 the lag p99 was 2.6 ms for the same throughput
(2,189 vs 2,089 searches/s, 4 interleaved runs); at 8 the throughput fell (1,885)."""

_COLUMNS = [c.strip() for c in RECORD_COLUMNS.split(",")]
_WIDTH = len(_COLUMNS)
_PLACE = itemgetter(_WIDTH + 1)
_USER = itemgetter(_COLUMNS.index("user_id"))


@dataclass(frozen=True, eq=False)
class SearchCall:
    """One semantic search: its single statement, and its row of a group statement."""

    single: Callable[[], tuple[str, Sequence[Any]]]
    """The search's own statement (``Statements.search``) and its arguments, assembled
    only when it runs alone."""
    namespace: str
    user_id: str
    vector: Sequence[float]
    limit: int
    min_score: float
    scope_regex: str | None
    tags: Sequence[str]
    active_only: bool
    audit_id: str
    action: str
    scope: str | None
    app: str | None
    request_id: str | None


SearchGroups = StatementGroups[SearchCall, list[asyncpg.Record]]
"""Semantic searches: the hit rows of each (``RECORD_COLUMNS``, then ``score``)."""


def group_statement(sql: Statements, *, audited: bool) -> str:
    """The statement answering a group of searches: per search, the exact branch of
    ``Statements.search`` (semantic mode) and its audit row, in the input's order.

    Each result row is ``RECORD_COLUMNS, score, ord, small``: ``ord`` the search's place in
    the group (from 1), ``small`` false for a user answered by nobody here (too many
    memories for the exact scan, or its newest row in the HNSW graph), and the record
    columns NULL for a search without hits.
    """
    s = sql.schema
    m_cols = ", ".join(f"m.{c}" for c in _COLUMNS)
    audit = ""
    if audited:
        audit = f"""
, aud AS (
    INSERT INTO {s}.audit (namespace, id, user_id, action, memory_id, scope, app, request_id,
        details)
    SELECT i.namespace, i.audit_id, i.user_id, i.action, NULL, i.scope, i.app, i.request_id,
        jsonb_build_object('mode', 'semantic'::text, 'results', coalesce(n.results, 0))
    -- Counted once for the group: a count per search over all the group's hits was
    -- quadratic (1.1 of 7 ms of a group of 31).
    FROM sized i LEFT JOIN (SELECT h.ord, count(*) AS results FROM hits h GROUP BY h.ord) n
        ON n.ord = i.ord{sql.read_commit}
    WHERE i.small
)"""
    return f"""
WITH input AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::vector[], $4::int[], $5::float8[],
        $6::text[], $7::text[], $8::bool[], $9::text[], $10::text[], $11::text[], $12::text[],
        $13::text[])
    WITH ORDINALITY AS i(namespace, user_id, q, lim, min_score, scope_re, tags, active_only,
        audit_id, action, scope, app, request_id, ord)
), sized AS MATERIALIZED (
    SELECT i.*,
        coalesce((SELECT m.in_ann IS FALSE FROM {s}.memories m
            WHERE m.namespace = i.namespace AND m.user_id = i.user_id
            ORDER BY m.created_at DESC, m.id DESC LIMIT 1), true) AS small,
        ARRAY(SELECT jsonb_array_elements_text(i.tags::jsonb)) AS tag_list
    FROM input i
), hits AS MATERIALIZED (
    -- Each search's nearest rows by their place in the table and distance only; the rows
    -- are read whole once, by that place, for the answer: carried whole through this
    -- materialised result, a hash join and the final sort, they cost the server a tenth of
    -- the group's CPU (benchmarks/results/profile.md).
    SELECT i.ord, c.tid, c.dist FROM sized i
    CROSS JOIN LATERAL (
        SELECT coalesce(array_agg(x), '{{}}') AS ids FROM {s}.memories s, unnest(s.supersedes) x
        WHERE i.active_only AND s.namespace = i.namespace AND s.user_id = i.user_id
            AND s.supersedes <> '{{}}'
    ) sup
    CROSS JOIN LATERAL (
        SELECT m.ctid AS tid, ({sql.exact_expr} <=> i.q) AS dist FROM {s}.memories m
        WHERE i.small AND m.namespace = i.namespace AND m.user_id = i.user_id
            AND m.embedding_model OPERATOR({s}.===) {sql.model_literal}
            AND (i.scope_re IS NULL OR m.scope ~ i.scope_re)
            AND (cardinality(i.tag_list) = 0 OR m.tags @> i.tag_list)
            AND (NOT i.active_only OR ((m.valid_from IS NULL OR m.valid_from <= now())
                AND (m.valid_to IS NULL OR m.valid_to > now()) AND m.id <> ALL (sup.ids)))
        ORDER BY dist LIMIT i.lim
    ) c
    WHERE greatest(0.0, least(1.0, 1.0 - c.dist)) >= i.min_score
){audit}
SELECT {m_cols}, greatest(0.0, least(1.0, 1.0 - h.dist))::float8 AS score, i.ord, i.small
FROM sized i LEFT JOIN hits h ON h.ord = i.ord
-- Each hit's row by its place, whatever the table's size when the plan was made: as a plain
-- join, a plan made on a small table read the whole table into a hash instead.
LEFT JOIN LATERAL (SELECT * FROM {s}.memories r WHERE r.ctid = h.tid LIMIT 1) m ON true
ORDER BY i.ord, score DESC, m.id"""


def search_groups(
    runner: PooledRunner, sql: Statements, *, audited: bool, limit: int
) -> SearchGroups:
    """Grouped semantic searches over ``Statements.search`` (one) and ``group_statement``."""
    statement = group_statement(sql, audited=audited)

    async def search_one(call: SearchCall) -> list[asyncpg.Record]:
        statement, args = call.single()
        return await runner.fetch(statement, *args)

    async def search_group(calls: Sequence[SearchCall]) -> list[list[asyncpg.Record]]:
        rows = await runner.fetch(
            statement,
            [c.namespace for c in calls],
            [c.user_id for c in calls],
            [encode_vector(c.vector) for c in calls],
            [c.limit for c in calls],
            [c.min_score for c in calls],
            column(c.scope_regex for c in calls),
            json_column((list(c.tags) for c in calls), empty_is_null=True),
            [c.active_only for c in calls],
            [c.audit_id for c in calls],
            [c.action for c in calls],
            column(c.scope for c in calls),
            column(c.app for c in calls),
            column(c.request_id for c in calls),
            owned=True,  # awaited by the group's flush task, never by a caller
        )
        hits: list[list[asyncpg.Record]] = [[] for _ in calls]
        alone: list[int] = []
        # One search's rows at a time (they come ordered by its place), taken apart by the
        # driver's own iteration: a loop in Python over every row was the group's longest
        # step on the event loop (benchmarks/results/profile.md).
        for place, rows_of_search in groupby(rows, key=_PLACE):
            found = list(rows_of_search)
            if not found[0][_WIDTH + 2]:
                alone.append(place - 1)
            elif found[0][0] is not None:  # a search without hits has one row of NULLs
                # The statement takes each search's user from its own input row; a row of
                # anyone else would be a defect of the statement, never an answer to give.
                if set(map(_USER, found)) != {calls[place - 1].user_id}:
                    raise ProviderError(
                        "a grouped search read another user's row", provider=PROVIDER
                    )
                hits[place - 1] = found
        if alone:
            answers = await asyncio.gather(*(search_one(calls[i]) for i in alone))
            for index, answer in zip(alone, answers, strict=True):
                hits[index] = answer
        return hits

    return StatementGroups(
        limit=limit, max_rows=GROUP_MAX_SEARCHES, write_one=search_one, write_group=search_group
    )
