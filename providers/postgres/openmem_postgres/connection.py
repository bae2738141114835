"""Reaching the database: migrate the schema, create the per-model index, open the pool."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from openmem.embedders import Embedder
from openmem_postgres.migrations import (
    ANN_MIN_ROWS_SETTING,
    apply_migrations,
    ensure_vector_index,
)
from openmem_postgres.options import PostgresOptions
from openmem_postgres.rows import init_connection
from openmem_postgres.runner import map_driver_errors

__all__ = ["CLOSE_TIMEOUT", "Connected", "connect"]

CLOSE_TIMEOUT = 10.0


@dataclass(frozen=True)
class Connected:
    """An open pool, and the embedding models of stored rows other than the embedder's."""

    pool: asyncpg.Pool
    foreign_models: list[str]
    table_rows: float
    """The memories table's size as last analysed (``pg_class.reltuples``; below 0: never)."""
    table_stale: bool
    """Rows are stored but the table was never analysed."""


async def _no_reset(conn: asyncpg.Connection) -> None:
    """Pool reset hook: nothing to undo.

    The provider never changes session state (no ``SET``, ``LISTEN`` or session advisory
    locks on pooled connections; settings come from ``server_settings``); asyncpg still
    rolls back an open transaction itself. Skipping ``RESET ALL`` saves a round trip on
    every release.
    """


async def connect(
    url: str, opts: PostgresOptions, embedder: Embedder, *, embedded: bool
) -> Connected:
    """Migrate (under the advisory lock), ensure the model's HNSW index, create the pool."""
    schema = opts.db_schema
    with map_driver_errors():
        conn = await asyncpg.connect(url, timeout=opts.connect_timeout)
        try:
            await apply_migrations(conn, schema, opts.text_search_config)
            vector_schema = await conn.fetchval(
                "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'vector'"
            )
            await ensure_vector_index(
                conn,
                schema,
                model=embedder.model,
                dim=embedder.dim,
                index_type=opts.vector_index,
                m=opts.hnsw_m,
                ef_construction=opts.hnsw_ef_construction,
            )
            foreign = await _foreign_models(conn, schema, embedder.model)
            size = await conn.fetchrow(
                f"SELECT c.reltuples, c.reltuples < 0 AND EXISTS (SELECT 1 FROM {schema}.memories)"
                f" AS stale FROM pg_class c WHERE c.oid = '{schema}.memories'::regclass"
            )
            assert size is not None  # migrated: the table exists
        finally:
            await conn.close(timeout=CLOSE_TIMEOUT)

        min_size, max_size = opts.pool_size(embedded=embedded)

        async def init(c: asyncpg.Connection) -> None:
            await init_connection(c, vector_schema)

        pool = await asyncpg.create_pool(
            url,
            min_size=min_size,
            max_size=max_size,
            command_timeout=opts.command_timeout,
            timeout=opts.connect_timeout,
            init=init,
            reset=_no_reset,
            server_settings={
                **planner_costs(opts),
                "application_name": "openmem",
                "statement_timeout": str(int(opts.statement_timeout * 1000)),
                "idle_in_transaction_session_timeout": str(int(opts.statement_timeout * 2000)),
                # Every statement is written so that one plan fits every caller: a search picks
                # exact scan or HNSW inside the statement (Statements.nearest_ctes), a group
                # statement takes its rows from arrays. Under "auto" the server still planned a
                # search group anew on 259 of 375 runs (custom plans of small early groups
                # looked cheaper than the generic one), 1-2 ms of server CPU each; with the
                # generic plan always, c=8 searches ran 1,128 -> 1,502/s (4 interleaved runs).
                "plan_cache_mode": "force_generic_plan",
                "hnsw.iterative_scan": opts.iterative_scan,
                "hnsw.ef_search": str(opts.hnsw_ef_search),
                # New rows of a user above this size enter the HNSW graph (migration 2).
                ANN_MIN_ROWS_SETTING: str(opts.exact_search_max_rows),
            },
        )
    return Connected(
        pool=pool,
        foreign_models=foreign,
        table_rows=float(size["reltuples"]),
        table_stale=bool(size["stale"]),
    )


async def _foreign_models(conn: asyncpg.Connection, schema: str, model: str) -> list[str]:
    """Embedding models of stored rows other than ``model`` (via the model index)."""
    row = await conn.fetchrow(
        f"SELECT min(embedding_model) AS lo, max(embedding_model) AS hi FROM {schema}.memories"
    )
    if row is None or row["lo"] is None or (row["lo"] == model and row["hi"] == model):
        return []
    rows = await conn.fetch(
        f"SELECT DISTINCT embedding_model FROM {schema}.memories WHERE embedding_model <> $1"
        " LIMIT 10",
        model,
    )
    return sorted(r["embedding_model"] for r in rows)


def planner_costs(opts: PostgresOptions) -> dict[str, str]:
    """Planner cost settings of the pool's connections (``PostgresOptions.random_page_cost``)."""
    if opts.random_page_cost is None:
        return {}
    return {"random_page_cost": str(opts.random_page_cost)}
