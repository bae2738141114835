"""The SQL of every verb, built once per provider (schema, model and dimension are fixed).

Each write and its audit row are one statement (data-modifying CTEs), so they commit
together or not at all, and a cancelled statement leaves nothing behind. A read and its
audit row are one statement too: one round trip per verb.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from openmem.models import SearchMode
from openmem.scopes import scope_regex
from openmem_postgres.migrations import sql_literal
from openmem_postgres.rows import RECORD_COLUMNS

__all__ = ["GRAPH_WALKS", "Params", "Statements", "graph_walk"]

_AUDIT_INSERT = (
    "INSERT INTO {s}.audit (namespace, id, user_id, action, memory_id, scope, app, request_id,"
    " details)"
)
# The idempotency keys' unique index is partial (migration 5), so the conflict target names it
# by its columns and predicate.
_ON_KEY_CONFLICT = (
    "ON CONFLICT (namespace, user_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING"
)
RRF_K = 60
"""Reciprocal-rank fusion constant (the usual 60); scores are divided by the best possible."""


@dataclass
class Params:
    """Positional parameters collected while a statement is assembled."""

    values: list[Any] = field(default_factory=list)

    def __call__(self, value: Any) -> str:
        """Bind ``value`` and return its placeholder (``$n``)."""
        self.values.append(value)
        return f"${len(self.values)}"


GRAPH_WALKS = (10, 30, 100, 300)
"""The literal bounds of a graph walk (``Statements.nearest_ctes``): a few statements, not
one per search limit."""


def graph_walk(depth: int) -> int:
    """The smallest of ``GRAPH_WALKS`` that holds ``depth`` rows (``depth`` past the last)."""
    return next((walk for walk in GRAPH_WALKS if walk >= depth), depth)


class Statements:
    """SQL text for one schema, embedding model and dimension."""

    def __init__(
        self,
        *,
        schema: str,
        model: str,
        dim: int,
        index_type: str,
        ts_config: str,
        durable_read_audit: bool = False,
    ) -> None:
        self.schema = schema
        # The audit row of a read commits without waiting for the WAL flush (set_config
        # with is_local = true lasts only for this statement's transaction): a read must
        # not cost an fsync. Writes, and their audit rows, stay fully durable.
        self.read_commit = (
            ""
            if durable_read_audit
            else ", (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit"
        )
        self.model_literal = sql_literal(model)
        self.ts_config = sql_literal(ts_config)
        # The same expression as the partial HNSW index, so the planner can use it.
        self.vector_expr = f"embedding::{index_type}({dim})"
        # The parameter is bound as ``vector`` (the binary codec is registered for it only).
        self.query_cast = f"::vector::{index_type}({dim})"
        # Exact distance on the stored column: an expression no vector index matches, so even
        # a cached generic plan reads the user's rows through the B-tree.
        self.exact_expr = "embedding"
        s = schema
        audit = _AUDIT_INSERT.format(s=s)
        record_cols = RECORD_COLUMNS

        self.add = f"""
WITH ins AS (
    INSERT INTO {s}.memories (namespace, id, user_id, agent_id, session_id, scope, tags, source,
        metadata, extensions, confidence, valid_from, valid_to, supersedes, content, embedding,
        embedding_model, idempotency_key)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
        {self.model_literal}, $17)
    {_ON_KEY_CONFLICT}
    RETURNING {record_cols}
), aud AS (
    {audit} SELECT $1, $18, $3, 'add', ins.id, ins.scope, $19, $20, '{{}}'::jsonb FROM ins
)
SELECT {record_cols} FROM ins"""

        self.by_idempotency_keys = f"""
SELECT {record_cols}, idempotency_key, content AS stored_content FROM {s}.memories
WHERE namespace = $1 AND user_id = $2 AND idempotency_key = ANY($3::text[])"""

        # Multi-row statements read their arguments as columns (``unnest_columns``): a column
        # no row sets comes as NULL, JSON as text (an empty one as NULL, read as empty).
        self.add_many = f"""
WITH input AS (
    SELECT * FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
        $8::text[], $9::text[], $10::text[], $11::float8[], $12::timestamptz[],
        $13::timestamptz[], $14::text[], $15::text[], $16::vector[], $17::text[], $18::text[])
    WITH ORDINALITY AS i(id, agent_id, session_id, scope, tags, source, metadata, extensions,
        confidence, valid_from, valid_to, supersedes, content, embedding, idempotency_key,
        audit_id, ord)
), ins AS (
    INSERT INTO {s}.memories (namespace, id, user_id, agent_id, session_id, scope, tags, source,
        metadata, extensions, confidence, valid_from, valid_to, supersedes, content, embedding,
        embedding_model, idempotency_key)
    SELECT $1, i.id, $2, i.agent_id, i.session_id, i.scope,
        ARRAY(SELECT jsonb_array_elements_text(i.tags::jsonb)), i.source::jsonb,
        coalesce(i.metadata::jsonb, '{{}}'), coalesce(i.extensions::jsonb, '{{}}'),
        i.confidence, i.valid_from, i.valid_to,
        ARRAY(SELECT jsonb_array_elements_text(i.supersedes::jsonb)), i.content, i.embedding,
        {self.model_literal}, i.idempotency_key
    FROM input i ORDER BY i.ord
    {_ON_KEY_CONFLICT}
    RETURNING {record_cols}
), aud AS (
    {audit} SELECT $1, i.audit_id, $2, 'add', ins.id, ins.scope, $19, $20, '{{}}'::jsonb
    FROM ins JOIN input i ON i.id = ins.id
)
SELECT {record_cols} FROM ins"""

        # Concurrent adds of any callers, coalesced into one statement (``group_commit``):
        # the add_many statement with namespace, user, app and request id per row.
        self.add_group = f"""
WITH input AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
        $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::float8[],
        $12::timestamptz[], $13::timestamptz[], $14::text[], $15::text[], $16::vector[],
        $17::text[], $18::text[], $19::text[], $20::text[])
    WITH ORDINALITY AS i(namespace, user_id, id, agent_id, session_id, scope, tags, source,
        metadata, extensions, confidence, valid_from, valid_to, supersedes, content, embedding,
        idempotency_key, audit_id, app, request_id, ord)
), ins AS (
    INSERT INTO {s}.memories (namespace, id, user_id, agent_id, session_id, scope, tags, source,
        metadata, extensions, confidence, valid_from, valid_to, supersedes, content, embedding,
        embedding_model, idempotency_key)
    SELECT i.namespace, i.id, i.user_id, i.agent_id, i.session_id, i.scope,
        ARRAY(SELECT jsonb_array_elements_text(i.tags::jsonb)), i.source::jsonb,
        coalesce(i.metadata::jsonb, '{{}}'), coalesce(i.extensions::jsonb, '{{}}'),
        i.confidence, i.valid_from, i.valid_to,
        ARRAY(SELECT jsonb_array_elements_text(i.supersedes::jsonb)), i.content, i.embedding,
        {self.model_literal}, i.idempotency_key
    FROM input i ORDER BY i.ord
    {_ON_KEY_CONFLICT}
    RETURNING {record_cols}
), aud AS (
    {audit} SELECT i.namespace, i.audit_id, i.user_id, 'add', ins.id, ins.scope, i.app,
        i.request_id, '{{}}'::jsonb
    FROM ins JOIN input i ON i.id = ins.id
)
SELECT {record_cols} FROM ins"""

        self.get_for_update = f"""
SELECT {record_cols}, version FROM {s}.memories
WHERE namespace = $1 AND user_id = $2 AND id = $3"""

        self.update = f"""
WITH upd AS (
    UPDATE {s}.memories SET
        content = $4,
        embedding = coalesce($5::vector, embedding),
        embedding_model = CASE WHEN $5::vector IS NULL THEN embedding_model
                               ELSE {self.model_literal} END,
        scope = $6, tags = $7, source = $8, metadata = $9, extensions = $10,
        confidence = $11, valid_from = $12, valid_to = $13, supersedes = $14,
        agent_id = $15, session_id = $16,
        version = version + 1, updated_at = clock_timestamp()
    WHERE namespace = $1 AND user_id = $2 AND id = $3 AND version = $17
    RETURNING {record_cols}
), aud AS (
    {audit} SELECT $1, $18, $2, 'update', upd.id, upd.scope, $19, $20, $21::jsonb FROM upd
)
SELECT {record_cols} FROM upd"""

        self.delete = f"""
WITH del AS (
    DELETE FROM {s}.memories WHERE namespace = $1 AND user_id = $2 AND id = $3
    RETURNING id, scope
), aud AS (
    {audit} SELECT $1, $4, $2, 'delete', del.id, del.scope, $5, $6, '{{}}'::jsonb FROM del
)
SELECT id FROM del"""

        self.forget_user = f"""
WITH del AS (
    DELETE FROM {s}.memories WHERE namespace = $1 AND user_id = $2 RETURNING 1
), aud AS (
    {audit} SELECT $1, $3, $2, 'forget_user', NULL, NULL, $4, $5,
        jsonb_build_object('deleted', (SELECT count(*) FROM del))
)
SELECT count(*) FROM del"""

        self.get = self._read_one(audited=True)
        self.get_unaudited = self._read_one(audited=False)

    def _read_one(self, *, audited: bool) -> str:
        s = self.schema
        select = (
            f"SELECT {RECORD_COLUMNS} FROM {s}.memories"
            " WHERE namespace = $1 AND user_id = $2 AND id = $3"
        )
        if not audited:
            return select
        audit = _AUDIT_INSERT.format(s=s)
        return f"""
WITH m AS ({select}), aud AS (
    {audit} SELECT $1, $4, $2, 'get', m.id, m.scope, $5, $6, '{{}}'::jsonb
    FROM m{self.read_commit}
)
SELECT {RECORD_COLUMNS} FROM m"""

    # -- dynamic statements ------------------------------------------------------------

    def filters(
        self,
        p: Params,
        *,
        scope: str | None,
        tags: list[str],
        metadata: dict[str, Any] | None = None,
        active_only: bool = False,
        alias: str = "",
    ) -> str:
        """``AND ...`` conditions for the scope, tag, metadata and validity filters."""
        a = f"{alias}." if alias else ""
        parts: list[str] = []
        if scope is not None:
            parts.append(f"{a}scope ~ {p(scope_regex(scope))}")
        if tags:
            parts.append(f"{a}tags @> {p(list(tags))}::text[]")
        if metadata:
            parts.append(f"{a}metadata @> {p(metadata)}::jsonb")
        if active_only:
            parts.append(
                f"({a}valid_from IS NULL OR {a}valid_from <= now())"
                f" AND ({a}valid_to IS NULL OR {a}valid_to > now())"
                f" AND {a}id NOT IN (SELECT id FROM sup)"
            )
        return "".join(f" AND {part}" for part in parts)

    def superseded_cte(self) -> str:
        """``sup``: ids the caller's memories supersede (``$1`` namespace, ``$2`` user)."""
        return (
            f"sup AS (SELECT DISTINCT unnest(supersedes) AS id FROM {self.schema}.memories"
            " WHERE namespace = $1 AND user_id = $2 AND supersedes <> '{}')"
        )

    def user_size_cte(self) -> str:
        """``size``: whether the caller is small (searched exactly, not through the graph).

        Rows enter the HNSW graph only once their user owns more than
        ``exact_search_max_rows`` memories (migration 2), so the newest row tells: outside
        the graph, the user is small; in it (or from before migration 2, ``in_ann`` NULL),
        large. One index probe, where counting the user's rows read each of them. The answer
        only chooses the way, never the hits (``nearest_ctes``): a user left small by a race
        at its crossing, or by a larger bound in the writing process, is scanned exactly.
        """
        return (
            "size AS MATERIALIZED (SELECT coalesce((SELECT in_ann IS FALSE FROM"
            f" {self.schema}.memories WHERE namespace = $1 AND user_id = $2"
            " ORDER BY created_at DESC, id DESC LIMIT 1), true) AS small)"
        )

    def nearest_ctes(
        self, name: str, columns: str, filters: str, vector_param: str, depth: str, walk: int
    ) -> list[str]:
        """CTEs ending in ``name``: the ``depth`` nearest rows (``columns`` and ``dist``).

        A small user (``size``) is answered exactly from its own rows, a large one through the
        model's HNSW index for its rows in the graph, plus an exact scan of its rows that are
        not (``in_ann IS FALSE``: none once the user's first rows have moved into the graph,
        see migration 2), so the answer never depends on which rows the graph holds. The
        branches not taken are cut by a one-time filter before they read anything. The choice
        is made in the statement, so its plan is the same for every user and the server can
        reuse a generic plan instead of planning every search. In the graph branch the owner
        is compared with ``===`` (migration 3: text equality that no B-tree serves and the
        planner estimates as unselective), so every plan, generic or custom, with fresh
        statistics or stale, walks the graph instead of reading all of a large user's rows
        and sorting them (10 ms for 10,000 rows, where the graph takes 2-3 ms). The walk is
        bounded by a literal, ``walk`` (``graph_walk``: at least ``depth``), as well: under a
        parameter the generic plan assumes a tenth of the table is wanted, and once the
        statistics showed one user holding every row it chose a scan and a sort of them all
        (18-20 ms for 10,000 rows, against 8 ms through the graph).
        """
        s = self.schema
        # The graph branch names the model with ``=``: the partial HNSW index is the model's,
        # and only that form proves its predicate. The exact branches name it with ``===``:
        # with ``=`` the B-tree of models could lead them, and a plan made before the table
        # had statistics (every row one model, but estimated as selective) read every row of
        # the table through it for each search, long after the table had grown.
        of_model = f"embedding_model = {self.model_literal}{filters}"
        of_model_exactly = f"embedding_model OPERATOR({s}.===) {self.model_literal}{filters}"
        owner = "namespace = $1 AND user_id = $2"
        graph_owner = f"namespace OPERATOR({s}.===) $1 AND user_id OPERATOR({s}.===) $2"
        exact = f"{self.exact_expr} <=> {vector_param}::vector"
        ann = f"{self.vector_expr} <=> {vector_param}{self.query_cast}"
        large = "NOT (SELECT small FROM size)"
        return [
            f"{name}_exact AS MATERIALIZED (SELECT {columns}, ({exact}) AS dist"
            f" FROM {s}.memories WHERE {owner} AND {of_model_exactly} AND (SELECT small FROM size)"
            f" ORDER BY dist LIMIT {depth})",
            f"{name}_ann AS MATERIALIZED (SELECT * FROM (SELECT {columns}, ({ann}) AS dist"
            f" FROM {s}.memories WHERE {graph_owner} AND {of_model} AND in_ann IS NOT FALSE"
            f" AND {large} ORDER BY {ann} LIMIT {walk}) walked ORDER BY dist LIMIT {depth})",
            f"{name}_rest AS MATERIALIZED (SELECT {columns}, ({exact}) AS dist"
            f" FROM {s}.memories WHERE {owner} AND {of_model_exactly} AND in_ann IS FALSE"
            f" AND {large} ORDER BY dist LIMIT {depth})",
            # The graph walk is bounded (hnsw.max_scan_tuples, the scan's memory): among many
            # near-identical vectors of other users it can end before reaching enough of this
            # user's. Then, and only then, the user's rows are scanned exactly instead.
            f"{name}_short AS MATERIALIZED (SELECT {columns}, ({exact}) AS dist"
            f" FROM {s}.memories WHERE {owner} AND {of_model_exactly} AND {large}"
            f" AND (SELECT count(*) FROM {name}_ann) + (SELECT count(*) FROM {name}_rest)"
            f" < {depth} ORDER BY dist LIMIT {depth})",
            f"{name} AS (SELECT * FROM {name}_exact UNION ALL SELECT * FROM {name}_short"
            f" UNION ALL SELECT * FROM {name}_ann WHERE NOT EXISTS (SELECT 1 FROM {name}_short)"
            f" UNION ALL SELECT * FROM {name}_rest WHERE NOT EXISTS (SELECT 1 FROM {name}_short))",
        ]

    def matching_ctes(
        self, name: str, columns: str, where: str, text_param: str | None, depth: str
    ) -> list[str]:
        """CTEs ending in ``name``: the ``depth`` rows of ``where`` (the caller's) that best
        match the words of ``text_param`` (any of them), with ``columns`` and ``rank``.

        Like ``nearest_ctes``, the way is chosen in the statement by the user's size. A small
        user's rows are read through the B-tree on the user and each is matched by
        ``ts_match_vq``, the function behind ``@@``, which no index serves: under a generic
        plan the tsquery is a parameter whose selectivity the planner cannot know, so it
        priced the text index at a default of 10 rows and intersected it with the user's
        rows, reading the index entries of every user's matching rows for each search (2,000
        entries, 2 ms of a 3 ms keyword search at 2,000 rows; growing with the whole table,
        not with the user). A large user is matched with ``@@``, so the planner may use the
        text index where the user's rows are many. The query's words become a tsquery once
        (``{name}_words``, read through a subquery the executor evaluates once): written as
        an expression of the parameter, a generic plan parsed it again for every row, twice
        (the match and the rank), which had doubled a small user's keyword search.
        """
        s = self.schema
        tsq = f"(SELECT tsq FROM {name}_words)"
        rank = f"ts_rank_cd(content_tsv, {tsq}, 32)::float8 AS rank"
        return [
            f"{name}_words AS MATERIALIZED (SELECT replace(plainto_tsquery({self.ts_config},"
            f" {text_param})::text, ' & ', ' | ')::tsquery AS tsq)",
            f"{name}_own AS MATERIALIZED (SELECT {columns}, {rank} FROM {s}.memories"
            f" WHERE {where} AND ts_match_vq(content_tsv, {tsq}) AND (SELECT small FROM size)"
            f" ORDER BY rank DESC, id LIMIT {depth})",
            f"{name}_indexed AS MATERIALIZED (SELECT {columns}, {rank} FROM {s}.memories"
            f" WHERE {where} AND content_tsv @@ {tsq} AND NOT (SELECT small FROM size)"
            f" ORDER BY rank DESC, id LIMIT {depth})",
            f"{name} AS (SELECT * FROM {name}_own UNION ALL SELECT * FROM {name}_indexed)",
        ]

    def search(
        self,
        p: Params,
        *,
        mode: SearchMode,
        vector_param: str | None,
        text_param: str | None,
        filters: str,
        active_only: bool,
        limit: str,
        depth: str,
        walk: int,
        min_score: str,
        audit: str | None,
    ) -> str:
        """One statement: candidates, scores in [0, 1], ``min_score``, and the audit row.

        ``walk`` bounds a graph walk as a literal (``graph_walk`` of the depth).

        ``audit`` is the ``INSERT ... SELECT`` of the audit row (it may read ``hits``), or
        None when reads are not audited.
        """
        s = self.schema
        ctes: list[str] = []
        if active_only:
            ctes.append(self.superseded_cte())
        base = f"namespace = $1 AND user_id = $2{filters}"
        ctes.append(self.user_size_cte())
        if mode == "semantic":
            assert vector_param is not None
            ctes += self.nearest_ctes("cand", RECORD_COLUMNS, filters, vector_param, depth, walk)
            ctes.append(
                "hits AS (SELECT * FROM (SELECT cand.*,"
                " greatest(0.0, least(1.0, 1.0 - dist))::float8 AS score FROM cand) c"
                f" WHERE score >= {min_score} ORDER BY dist + 0, id LIMIT {limit})"
            )
        elif mode == "keyword":
            ctes += self.matching_ctes("cand", RECORD_COLUMNS, base, text_param, depth)
            ctes.append(
                f"hits AS (SELECT *, rank AS score FROM cand WHERE rank >= {min_score}"
                f" ORDER BY rank DESC, id LIMIT {limit})"
            )
        else:
            assert vector_param is not None
            # Each candidate carries its place in the table (``tid``), by which its row is read
            # at the end: a read by id (a join, or a lateral lookup) was planned, before the
            # table had statistics (every estimate one row), as a walk of the namespace's
            # whole range of an index for each id, kept with the cached plan long after the
            # table had grown (70-190 ms at 5,000 rows, benchmarks/results/profile.md).
            ctes += self.nearest_ctes("near", "id, ctid AS tid", filters, vector_param, depth, walk)
            ctes.append(
                "sem AS MATERIALIZED (SELECT id, tid,"
                " row_number() OVER (ORDER BY dist + 0, id) AS r FROM near)"
            )
            ctes += self.matching_ctes("matched", "id, ctid AS tid", base, text_param, depth)
            ctes.append(
                "kw AS MATERIALIZED (SELECT id, tid,"
                " row_number() OVER (ORDER BY rank DESC, id) AS r FROM matched)"
            )
            best = 2.0 / (RRF_K + 1)
            ctes.append(
                "fused AS (SELECT id, coalesce(sem.tid, kw.tid) AS tid, least(1.0, (coalesce("
                f"1.0 / ({RRF_K} + sem.r), 0) + coalesce(1.0 / ({RRF_K} + kw.r), 0)) / {best!r})"
                "::float8 AS score FROM sem FULL JOIN kw USING (id))"
            )
            # The owner is tested again, with ``===`` (migration 3, no B-tree serves it), so the
            # place is the only way in: one page per hit whatever the plan's estimates.
            ctes.append(
                f"hits AS (SELECT m.*, f.score FROM fused f CROSS JOIN LATERAL"
                f" (SELECT {RECORD_COLUMNS} FROM {s}.memories m WHERE m.ctid = f.tid"
                f" AND m.namespace OPERATOR({s}.===) $1 AND m.user_id OPERATOR({s}.===) $2"
                f" LIMIT 1) m"
                f" WHERE f.score >= {min_score} ORDER BY f.score DESC, m.id LIMIT {limit})"
            )
        if audit is not None:
            ctes.append(f"aud AS ({audit})")
        return (
            "WITH "
            + ",\n".join(ctes)
            + f"\nSELECT {RECORD_COLUMNS}, score FROM hits ORDER BY score DESC, id"
        )

    def audit_row(self, p: Params, *, action: str, details: str, **values: Any) -> str:
        """``INSERT INTO audit ... SELECT`` for one read (``details`` is a SQL expression)."""
        audit = _AUDIT_INSERT.format(s=self.schema)
        return (
            f"{audit} SELECT $1, {p(values['audit_id'])}, $2, {p(action)}, NULL,"
            f" {p(values['scope'])}, {p(values['app'])}, {p(values['request_id'])}, {details}"
            + (f" FROM{self.read_commit.removeprefix(',')}" if self.read_commit else "")
        )
