"""Webhooks and their delivery log in PostgreSQL (migration 41), and their SQL.

A delivery row is written in the same transaction that finishes an ingestion event (see
``ingest_queue``), once per webhook of the namespace that wants the event, so a finished
event is never left unannounced. Senders claim deliveries like workers claim jobs
(``FOR UPDATE SKIP LOCKED`` and a lease), from any process on the database.
"""

from __future__ import annotations

__all__ = ["WEBHOOKS_SQL", "WebhookStatements"]

WEBHOOKS_SQL = """
CREATE TABLE {schema}.webhooks (
    namespace   text NOT NULL,
    id          text NOT NULL,
    url         text NOT NULL,
    events      text[] NOT NULL,
    secret      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (namespace, id)
);
CREATE TABLE {schema}.webhook_deliveries (
    namespace    text NOT NULL,
    id           text NOT NULL,
    webhook_id   text NOT NULL,
    event        text NOT NULL,
    payload      jsonb NOT NULL,
    status       text NOT NULL DEFAULT 'PENDING'
                 CHECK (status IN ('PENDING', 'DELIVERED', 'FAILED')),
    attempts     integer NOT NULL DEFAULT 0,
    run_after    timestamptz NOT NULL DEFAULT clock_timestamp(),
    lease_until  timestamptz,
    last_status  integer,
    last_error   text,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    delivered_at timestamptz,
    PRIMARY KEY (namespace, id),
    FOREIGN KEY (namespace, webhook_id) REFERENCES {schema}.webhooks ON DELETE CASCADE
);
CREATE INDEX webhook_deliveries_ready ON {schema}.webhook_deliveries (run_after)
    WHERE status = 'PENDING';
CREATE INDEX webhook_deliveries_log
    ON {schema}.webhook_deliveries (namespace, webhook_id, created_at DESC);
"""
"""Migration 41 (``migrations.MIGRATIONS``)."""

_WEBHOOK_COLUMNS = "id, url, events, created_at"
_DELIVERY_COLUMNS = (
    "id, webhook_id, event, status, attempts, last_status, last_error, created_at, "
    "delivered_at, payload"
)


class WebhookStatements:
    """SQL of webhooks and deliveries for one schema."""

    def __init__(self, schema: str) -> None:
        s = schema
        self.add = f"""
INSERT INTO {s}.webhooks (namespace, id, url, events, secret) VALUES ($1, $2, $3, $4, $5)
RETURNING {_WEBHOOK_COLUMNS}"""
        self.list = f"""
SELECT {_WEBHOOK_COLUMNS} FROM {s}.webhooks WHERE namespace = $1 ORDER BY created_at, id"""
        self.remove = f"DELETE FROM {s}.webhooks WHERE namespace = $1 AND id = $2 RETURNING id"
        self.exists = f"SELECT 1 FROM {s}.webhooks WHERE namespace = $1 AND id = $2"
        self.deliveries = f"""
SELECT {_DELIVERY_COLUMNS} FROM {s}.webhook_deliveries
WHERE namespace = $1 AND webhook_id = $2 ORDER BY created_at DESC, id DESC LIMIT $3"""

        # One delivery per webhook of the namespace that wants the event; $4 is the payload.
        # Delivery ids: the event id and the webhook id, so a fan-out repeated is one row.
        self.fan_out = f"""
INSERT INTO {s}.webhook_deliveries (namespace, id, webhook_id, event, payload)
SELECT w.namespace, 'dlv_' || $2 || '_' || w.id, w.id, $3, $4::jsonb
FROM {s}.webhooks w WHERE w.namespace = $1 AND $3 = ANY(w.events)
ON CONFLICT DO NOTHING"""

        self.claim = f"""
WITH ready AS (
    SELECT namespace, id FROM {s}.webhook_deliveries
    WHERE status = 'PENDING' AND run_after <= clock_timestamp()
      AND (lease_until IS NULL OR lease_until <= clock_timestamp())
    ORDER BY run_after LIMIT $1
    FOR UPDATE SKIP LOCKED
)
UPDATE {s}.webhook_deliveries d SET attempts = d.attempts + 1,
    lease_until = clock_timestamp() + make_interval(secs => $2)
FROM ready, {s}.webhooks w
WHERE d.namespace = ready.namespace AND d.id = ready.id
  AND w.namespace = d.namespace AND w.id = d.webhook_id
RETURNING d.namespace, d.id, d.event, d.payload, d.attempts, w.url, w.secret"""

        self.delivered = f"""
UPDATE {s}.webhook_deliveries SET status = 'DELIVERED', delivered_at = clock_timestamp(),
    last_status = $4, last_error = NULL, lease_until = NULL
WHERE namespace = $1 AND id = $2 AND attempts = $3"""

        # A failed attempt: retried after $6 seconds, or FAILED when $6 is NULL.
        self.failed = f"""
UPDATE {s}.webhook_deliveries SET
    status = CASE WHEN $6::float8 IS NULL THEN 'FAILED' ELSE 'PENDING' END,
    run_after = clock_timestamp() + make_interval(secs => coalesce($6::float8, 0)),
    last_status = $4, last_error = $5, lease_until = NULL
WHERE namespace = $1 AND id = $2 AND attempts = $3"""
