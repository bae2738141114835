"""Versioned schema migrations, applied under an advisory lock.

Every migration runs once, in order, inside one transaction that holds a transaction-level
advisory lock, so two processes starting at once serialise instead of racing (the second
finds the work done). Applied versions are recorded in ``<schema>.migrations``.

Every table leads with ``namespace``, so the schema can be distributed by it (Citus).
The HNSW index is per embedding model: a partial expression index
``((embedding::vector(d)) vector_cosine_ops) WHERE embedding_model = '<model>'``, created
when a provider first opens with that model, so vectors of two models never share a graph
and the table itself can hold vectors of any size while ``openmem reembed`` migrates.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import asyncpg

from openmem_postgres.ingest_schema import INGEST_EVENTS_SQL
from openmem_postgres.key_table import API_KEYS_SQL
from openmem_postgres.webhook_schema import WEBHOOKS_SQL

__all__ = [
    "ANN_MIN_ROWS_SETTING",
    "MIGRATIONS",
    "Migration",
    "apply_migrations",
    "ensure_vector_index",
    "sql_literal",
]

# One lock for every openmem schema in the database: migrations are rare and CREATE EXTENSION
# is database-wide, so serialising them all costs nothing and rules out every race.
_LOCK_KEY = 0x6F70656E6D656D  # "openmem"


@dataclass(frozen=True)
class Migration:
    """One schema version: SQL with ``{schema}`` and ``{ts_config}`` placeholders."""

    version: int
    name: str
    sql: str


ANN_MIN_ROWS_SETTING = "openmem.ann_min_rows"
"""The session setting (``server_settings`` of the pool) holding the provider's
``exact_search_max_rows``: the user size from which new rows enter the HNSW graph."""

# An HNSW insert was most of an add's database work (about 1 ms of server CPU of 1.1 ms at
# dimension 64 with m = 16: each insert rewrites the neighbour lists of some 30 graph pages),
# yet a user of at most ``exact_search_max_rows`` memories is searched exactly and never reads
# the graph. So a row enters the graph (``in_ann``) only once its user is large: the trigger
# decides per row, from the user's newest row (already in the graph: large) or else a count
# bounded by the setting; the row that makes a user large moves that user's earlier rows into
# the graph in the same statement (once per user). A search of a large user reads the graph for
# ``in_ann`` rows and scans exactly the rows that are not (``memories_unindexed``: none after
# the move, only the few that concurrent first adds may leave), so results never depend on the
# flag, only the speed does. Rows written before this migration keep ``in_ann`` NULL: they stay
# in the graph (the index predicate is ``in_ann IS NOT FALSE``).
# The end of the trigger function (migrations 2 and 4): the row that makes a user large
# moves that user's earlier rows into the graph.
_MOVE_ON_CROSSING = """
    -- One transaction moves a user's rows; another one crossing at the same moment skips
    -- the move instead of waiting (two groups crossing two users in opposite orders would
    -- deadlock). Rows a move leaves out, or one rolled back, are read exactly beside the
    -- graph: slower, never wrong.
    IF NEW.in_ann AND pg_try_advisory_xact_lock(
            hashtextextended(NEW.namespace || '/' || NEW.user_id, 7)) THEN
        UPDATE {schema}.memories SET in_ann = true
        WHERE namespace = NEW.namespace AND user_id = NEW.user_id AND in_ann IS FALSE;
    END IF;
    RETURN NEW;
END;
$$;
"""

IN_ANN_SQL = f"""
ALTER TABLE {{schema}}.memories ADD COLUMN in_ann boolean;
CREATE INDEX memories_unindexed ON {{schema}}.memories (namespace, user_id) WHERE in_ann IS FALSE;
CREATE FUNCTION {{schema}}.memories_choose_ann() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bound integer := coalesce(
        nullif(current_setting('{ANN_MIN_ROWS_SETTING}', true), '')::integer, 1000);
    newest boolean;
    owned integer;
BEGIN
    SELECT m.in_ann INTO newest FROM {{schema}}.memories m
    WHERE m.namespace = NEW.namespace AND m.user_id = NEW.user_id
    ORDER BY m.created_at DESC, m.id DESC LIMIT 1;
    IF newest IS TRUE THEN
        NEW.in_ann := true;
        RETURN NEW;
    END IF;
    SELECT count(*) INTO owned FROM (SELECT 1 FROM {{schema}}.memories m
        WHERE m.namespace = NEW.namespace AND m.user_id = NEW.user_id LIMIT bound) n;
    NEW.in_ann := owned >= bound;{_MOVE_ON_CROSSING}\
CREATE TRIGGER memories_choose_ann BEFORE INSERT ON {{schema}}.memories
    FOR EACH ROW EXECUTE FUNCTION {{schema}}.memories_choose_ann();
"""

# Migration 4: the trigger above counted up to ``bound`` of the user's rows on every add of a
# small user (0.14 ms of server CPU per add at 100 rows a user, growing to ~1 ms near the bound:
# more than the rest of the insert). Each row now carries ``user_rows``, the user's row count
# when it was added (the newest row's plus one), so a row's decision is one probe of the newest
# row. It counts adds, not deletes, and two concurrent statements may give a user the same
# number: either way a user only crosses a little early or late, which changes the speed of
# its searches, never their hits. A user whose newest row predates this migration (NULL) is
# counted once, as before.
USER_ROWS_SQL = f"""
ALTER TABLE {{schema}}.memories ADD COLUMN user_rows integer;
CREATE OR REPLACE FUNCTION {{schema}}.memories_choose_ann() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bound integer := coalesce(
        nullif(current_setting('{ANN_MIN_ROWS_SETTING}', true), '')::integer, 1000);
    newest_in boolean;
    newest_rows integer;
    earlier integer := 0;
BEGIN
    SELECT m.in_ann, m.user_rows INTO newest_in, newest_rows FROM {{schema}}.memories m
    WHERE m.namespace = NEW.namespace AND m.user_id = NEW.user_id
    ORDER BY m.created_at DESC, m.id DESC LIMIT 1;
    IF newest_rows IS NOT NULL THEN
        earlier := newest_rows;
    ELSIF FOUND THEN
        SELECT count(*) INTO earlier FROM (SELECT 1 FROM {{schema}}.memories m
            WHERE m.namespace = NEW.namespace AND m.user_id = NEW.user_id LIMIT bound) n;
    END IF;
    NEW.user_rows := earlier + 1;
    IF newest_in IS TRUE THEN
        NEW.in_ann := true;
        RETURN NEW;
    END IF;
    NEW.in_ann := earlier >= bound;{_MOVE_ON_CROSSING}"""

# Migration 5: the unique index of idempotency keys was a full index led by (namespace,
# user_id), like memories_user_created. Before the table's first ANALYZE (a fresh store, a
# first large user) the planner estimates one row per user, and for a user's newest row
# (``ORDER BY created_at DESC, id DESC LIMIT 1``: the search's size probe, the insert
# trigger's, a list's first page) it chose the keys' index and a sort: all 10,000 rows of a
# user read for each (11-15 ms a search, and every add of that user as slow). Partial, the
# keys' index holds only the rows that have a key, and no query without a key can use it;
# the newest row is read from memories_user_created under every plan (0.06 ms).
IDEMPOTENCY_INDEX_SQL = """
CREATE UNIQUE INDEX memories_idempotency_key ON {schema}.memories
    (namespace, user_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
ALTER TABLE {schema}.memories DROP CONSTRAINT memories_idempotency;
"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "memories and audit",
        """
CREATE TABLE {schema}.memories (
    namespace        text NOT NULL,
    id               text NOT NULL,
    user_id          text NOT NULL,
    agent_id         text,
    session_id       text,
    scope            text,
    tags             text[] NOT NULL DEFAULT '{{}}',
    source           jsonb,
    metadata         jsonb NOT NULL DEFAULT '{{}}',
    extensions       jsonb NOT NULL DEFAULT '{{}}',
    confidence       double precision,
    valid_from       timestamptz,
    valid_to         timestamptz,
    supersedes       text[] NOT NULL DEFAULT '{{}}',
    status           text NOT NULL DEFAULT 'done',
    content          text NOT NULL,
    content_tsv      tsvector GENERATED ALWAYS AS (to_tsvector('{ts_config}', content)) STORED,
    embedding        vector NOT NULL,
    embedding_model  text NOT NULL,
    idempotency_key  text,
    version          integer NOT NULL DEFAULT 1,
    created_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at       timestamptz,
    PRIMARY KEY (namespace, id),
    CONSTRAINT memories_idempotency UNIQUE (namespace, user_id, idempotency_key)
);
CREATE INDEX memories_user_created
    ON {schema}.memories (namespace, user_id, created_at DESC, id DESC);
CREATE INDEX memories_tsv ON {schema}.memories USING gin (content_tsv);
CREATE INDEX memories_tags ON {schema}.memories USING gin (tags);
CREATE INDEX memories_metadata ON {schema}.memories USING gin (metadata jsonb_path_ops);
CREATE INDEX memories_superseding
    ON {schema}.memories (namespace, user_id) WHERE supersedes <> '{{}}';
CREATE INDEX memories_embedding_model ON {schema}.memories (embedding_model);

CREATE TABLE {schema}.audit (
    namespace   text NOT NULL,
    id          text NOT NULL,
    user_id     text NOT NULL,
    ts          timestamptz NOT NULL DEFAULT clock_timestamp(),
    action      text NOT NULL,
    memory_id   text,
    scope       text,
    app         text,
    request_id  text,
    details     jsonb NOT NULL DEFAULT '{{}}',
    PRIMARY KEY (namespace, id)
);
CREATE INDEX audit_user_ts ON {schema}.audit (namespace, user_id, ts DESC, id DESC);

CREATE FUNCTION {schema}.audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the openmem audit log is append-only';
END;
$$;
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON {schema}.audit
    FOR EACH ROW EXECUTE FUNCTION {schema}.audit_append_only();
""",
    ),
    # 2: the HNSW graph holds only the rows of large users (see ANN_MIN_ROWS_SETTING).
    Migration(2, "rows enter the vector index once their user is large", IN_ANN_SQL),
    # 3: text equality that the planner estimates as unselective (texteq, costed like >=).
    # A large user's search tests its owner with it in the graph branch: with a LIMIT, the
    # planner costs an HNSW walk by the share of rows it expects to pass the filter, and
    # with the estimate of a plain equality (one user among many, or stale statistics) it
    # chose a sequential scan and a sort of all the user's rows (10.5 ms at 10,000 rows,
    # against 2-3 ms through the graph) or the user's B-tree and a sort.
    Migration(
        3,
        "owner test for the vector index branch",
        "CREATE OPERATOR {schema}.=== (LEFTARG = text, RIGHTARG = text, FUNCTION = texteq,"
        " RESTRICT = scalargesel);",
    ),
    # 4: a row's user size from the newest row's, not a count (see USER_ROWS_SQL).
    Migration(4, "each row carries its user's row count", USER_ROWS_SQL),
    # 5: only rows with an idempotency key in its unique index (see IDEMPOTENCY_INDEX_SQL).
    Migration(5, "a partial unique index of idempotency keys", IDEMPOTENCY_INDEX_SQL),
    # 30-39: client-chosen keys (``openmem_postgres.keys``). A scope is never empty, so ''
    # stands for "no scope" in the unique index.
    Migration(
        30,
        "client-chosen keys",
        """
ALTER TABLE {schema}.memories ADD COLUMN client_key text;
CREATE UNIQUE INDEX memories_client_key
    ON {schema}.memories (namespace, user_id, (coalesce(scope, '')), client_key)
    WHERE client_key IS NOT NULL;
""",
    ),
    Migration(40, "ingest events (durable queue of async adds)", INGEST_EVENTS_SQL),
    Migration(41, "webhooks and their delivery log", WEBHOOKS_SQL),
    Migration(42, "API keys shared by every server replica", API_KEYS_SQL),
)


def sql_literal(value: str) -> str:
    """A SQL string literal (standard_conforming_strings: only quotes need doubling)."""
    if "\x00" in value:
        raise ValueError("SQL literals cannot hold NUL")
    return "'" + value.replace("'", "''") + "'"


async def apply_migrations(conn: asyncpg.Connection, schema: str, ts_config: str) -> list[int]:
    """Bring ``schema`` up to the newest version; returns the versions applied now."""
    applied: list[int] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
        await conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        await conn.execute(
            f"CREATE TABLE IF NOT EXISTS {schema}.migrations ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["version"] for r in await conn.fetch(f"SELECT version FROM {schema}.migrations")}
        for migration in MIGRATIONS:
            if migration.version in done:
                continue
            await conn.execute(migration.sql.format(schema=schema, ts_config=ts_config))
            await conn.execute(
                f"INSERT INTO {schema}.migrations (version, name) VALUES ($1, $2)",
                migration.version,
                migration.name,
            )
            applied.append(migration.version)
    return applied


def vector_index_name(
    model: str, dim: int, index_type: str, *, large_users_only: bool = True
) -> str:
    """The name of the HNSW index of one embedding model (stable, at most 63 bytes).

    ``large_users_only=False`` names the index of schema versions before migration 2 (every
    row in the graph), which ``ensure_vector_index`` replaces.
    """
    key = f"{model}|{dim}|{index_type}" + ("|in_ann" if large_users_only else "")
    digest = hashlib.sha1(key.encode()).hexdigest()[:16]
    return f"memories_hnsw_{digest}"


async def ensure_vector_index(
    conn: asyncpg.Connection,
    schema: str,
    *,
    model: str,
    dim: int,
    index_type: str,
    m: int,
    ef_construction: int,
) -> None:
    """Create the partial HNSW index of ``model`` and its dimension check unless they exist.

    The index holds the rows of ``model`` that are in the graph (``in_ann IS NOT FALSE``,
    migration 2); an index of the same model from before that migration is dropped once its
    replacement exists. Rows outside the graph never meet the index's cast to
    ``vector(dim)``, so a check constraint applies the same cast to every row of ``model``:
    a vector of another size is refused with the cast's own error, as before.
    """
    name = vector_index_name(model, dim, index_type)
    check = name.replace("memories_hnsw_", "memories_dim_")
    present = await conn.fetchrow(
        "SELECT to_regclass($1) IS NOT NULL AS indexed, EXISTS (SELECT 1 FROM pg_constraint"
        " WHERE conname = $2 AND conrelid = to_regclass($3)) AS checked",
        f"{schema}.{name}",
        check,
        f"{schema}.memories",
    )
    if present is not None and present["indexed"] and present["checked"]:
        return
    earlier = vector_index_name(model, dim, index_type, large_users_only=False)
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
        await conn.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {schema}.memories USING hnsw "
            f"((embedding::{index_type}({dim})) {index_type}_cosine_ops) "
            f"WITH (m = {int(m)}, ef_construction = {int(ef_construction)}) "
            f"WHERE embedding_model = {sql_literal(model)} AND in_ann IS NOT FALSE"
        )
        await conn.execute(f"DROP INDEX IF EXISTS {schema}.{earlier}")
        # NOT VALID: stored rows were checked by the earlier index's cast; new ones are now.
        await conn.execute(
            f"ALTER TABLE {schema}.memories DROP CONSTRAINT IF EXISTS {check},"
            f" ADD CONSTRAINT {check} CHECK (embedding_model <> {sql_literal(model)}"
            f" OR (embedding::{index_type}({dim})) IS NOT NULL) NOT VALID"
        )
