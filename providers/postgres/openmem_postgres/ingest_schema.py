"""The durable ingestion queue's table (migration 40) and its SQL.

One row of ``ingest_events`` is one queued ``add``/``add_many`` call: the event the caller
gets back (``event_id``) and the job a worker runs. The row is written by one statement
that also ``NOTIFY``s idle workers; the acknowledgement is sent only after it commits, so
an acknowledged add is never lost. Workers claim rows with ``FOR UPDATE SKIP LOCKED`` and
hold them for a lease: a row whose worker died (SIGKILL, lost machine) is claimed again
once its lease has passed. ``attempts`` is the claim token: a worker finishes a job only if
the row still carries the attempt it claimed.
"""

from __future__ import annotations

from openmem_postgres.webhook_schema import WebhookStatements

__all__ = ["INGEST_EVENTS_SQL", "IngestStatements", "notify_channel"]

INGEST_EVENTS_SQL = """
CREATE TABLE {schema}.ingest_events (
    namespace      text NOT NULL,
    id             text NOT NULL,
    user_id        text NOT NULL,
    status         text NOT NULL DEFAULT 'PENDING'
                   CHECK (status IN ('PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED')),
    items          jsonb NOT NULL,
    queued_ids     text[] NOT NULL,
    memory_ids     text[] NOT NULL DEFAULT '{{}}',
    app            text,
    request_id     text,
    attempts       integer NOT NULL DEFAULT 0,
    max_attempts   integer NOT NULL,
    run_after      timestamptz NOT NULL DEFAULT clock_timestamp(),
    lease_until    timestamptz,
    created_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    started_at     timestamptz,
    finished_at    timestamptz,
    error_code     text,
    error_message  text,
    PRIMARY KEY (namespace, id)
);
CREATE INDEX ingest_events_pending ON {schema}.ingest_events (run_after)
    WHERE status = 'PENDING';
CREATE INDEX ingest_events_running ON {schema}.ingest_events (lease_until)
    WHERE status = 'RUNNING';
CREATE INDEX ingest_events_queued_ids ON {schema}.ingest_events USING gin (queued_ids)
    WHERE status <> 'SUCCEEDED';
"""
"""Migration 40 (``migrations.MIGRATIONS``): ``{schema}`` is filled in, braces doubled."""

_EVENT_COLUMNS = (
    "id, user_id, status, created_at, started_at, finished_at, attempts, memory_ids, "
    "error_code, error_message"
)


def notify_channel(schema: str) -> str:
    """The ``LISTEN``/``NOTIFY`` channel that wakes the workers of ``schema``."""
    return f"openmem_ingest_{schema}"


class IngestStatements:
    """SQL of the queue for one schema."""

    def __init__(self, schema: str) -> None:
        s = schema
        self.channel = notify_channel(schema)
        self.webhooks = WebhookStatements(schema)
        """Finishing an event announces it to the namespace's webhooks (``fan_out``)."""
        # One statement: the row and the wake-up commit together (NOTIFY is sent at commit).
        self.enqueue = f"""
WITH ev AS (
    INSERT INTO {s}.ingest_events (namespace, id, user_id, items, queued_ids, app, request_id,
        max_attempts)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
    RETURNING created_at
)
SELECT created_at, pg_notify('{self.channel}', '') AS woke FROM ev"""

        self.get_event = f"""
SELECT {_EVENT_COLUMNS} FROM {s}.ingest_events
WHERE namespace = $1 AND user_id = $2 AND id = $3"""

        # The event of a memory id handed out by a queued add that has not landed yet.
        self.event_of_queued = f"""
SELECT {_EVENT_COLUMNS}, items, queued_ids FROM {s}.ingest_events
WHERE namespace = $1 AND user_id = $2 AND queued_ids @> ARRAY[$3::text]
    AND status <> 'SUCCEEDED'"""

        # Ready jobs, oldest first: pending ones whose retry time has come, and running ones
        # whose worker let the lease pass (it died, or hung).
        self.claim = f"""
WITH ready AS (
    SELECT namespace, id FROM {s}.ingest_events
    WHERE (status = 'PENDING' AND run_after <= clock_timestamp())
       OR (status = 'RUNNING' AND lease_until <= clock_timestamp())
    ORDER BY run_after LIMIT $1
    FOR UPDATE SKIP LOCKED
)
UPDATE {s}.ingest_events e SET
    status = 'RUNNING',
    attempts = e.attempts + 1,
    lease_until = clock_timestamp() + make_interval(secs => $2),
    started_at = coalesce(e.started_at, clock_timestamp())
FROM ready WHERE e.namespace = ready.namespace AND e.id = ready.id
RETURNING e.namespace, e.id, e.user_id, e.items, e.queued_ids, e.app, e.request_id,
    e.attempts, e.max_attempts"""

        # Taken inside the transaction that writes the memories: only the holder of the
        # claim (same attempt, still running) may finish the job, and the lock keeps a
        # second worker that reclaimed it from writing at the same time.
        self.lock_claim = f"""
SELECT 1 FROM {s}.ingest_events
WHERE namespace = $1 AND id = $2 AND attempts = $3 AND status = 'RUNNING'
FOR UPDATE"""

        self.existing_ids = f"""
SELECT id FROM {s}.memories WHERE namespace = $1 AND id = ANY($2::text[])"""

        self.replayed_ids = f"""
SELECT idempotency_key, id FROM {s}.memories
WHERE namespace = $1 AND user_id = $2 AND idempotency_key = ANY($3::text[])"""

        self.succeed = f"""
UPDATE {s}.ingest_events SET status = 'SUCCEEDED', memory_ids = $4,
    finished_at = clock_timestamp(), lease_until = NULL, error_code = NULL,
    error_message = NULL
WHERE namespace = $1 AND id = $2 AND attempts = $3"""

        # A failed attempt: retried after $4 seconds, or dead-lettered (FAILED) when $4 is
        # NULL. Only the holder of the claim records it.
        self.fail = f"""
UPDATE {s}.ingest_events SET
    status = CASE WHEN $4::float8 IS NULL THEN 'FAILED' ELSE 'PENDING' END,
    run_after = clock_timestamp() + make_interval(secs => coalesce($4::float8, 0)),
    finished_at = CASE WHEN $4::float8 IS NULL THEN clock_timestamp() END,
    lease_until = NULL, error_code = $5, error_message = $6
WHERE namespace = $1 AND id = $2 AND attempts = $3 AND status = 'RUNNING'"""

        # A worker stopping cleanly hands its job back at once, the attempt not counted.
        self.release = f"""
UPDATE {s}.ingest_events SET status = 'PENDING', attempts = attempts - 1,
    lease_until = NULL, run_after = clock_timestamp()
WHERE namespace = $1 AND id = $2 AND attempts = $3 AND status = 'RUNNING'"""

        self.counts = f"""
SELECT status, count(*) AS n FROM {s}.ingest_events GROUP BY status"""
