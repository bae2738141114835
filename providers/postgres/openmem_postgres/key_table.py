"""API keys in PostgreSQL, shared by every ``openmem serve`` replica (migration 42).

``PostgresKeyStore`` keeps a local copy of the ``api_keys`` table so authentication
(``verify``) costs no round trip. The copy follows the table: every write ``NOTIFY``s the
channel in its transaction, each replica ``LISTEN``s on a connection of its own and reloads
the rows changed since its last look, and a refresh every ``KEY_REFRESH`` seconds catches up
whatever a lost notification missed. A key created or revoked through one replica is
therefore honoured by every replica within a second.

Only ``sha256(key)`` is stored, as in the JSON key file (``openmem.server.keys``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

import asyncpg

from openmem.api_keys import ApiKey, matching_record, new_api_key
from openmem.errors import NotFoundError
from openmem_postgres.runner import PROVIDER, PooledRunner

__all__ = ["API_KEYS_SQL", "KEY_REFRESH", "PostgresKeyStore"]

_log = logging.getLogger("openmem_postgres.keys")

KEY_REFRESH = 0.5
"""Seconds between catch-up reads when no notification arrives."""

API_KEYS_SQL = """
CREATE TABLE {schema}.api_keys (
    key_id      text PRIMARY KEY,
    namespace   text NOT NULL,
    record      jsonb NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX api_keys_changed ON {schema}.api_keys (changed_at);
"""
"""Migration 42 (``migrations.MIGRATIONS``): keyed by the public key id, which a request
names before its namespace is known."""


class PostgresKeyStore:
    """The API keys of every replica on one database; see the module docstring."""

    def __init__(self, runner: PooledRunner, schema: str, url: str) -> None:
        self._runner = runner
        self._url = url
        s = schema
        self._channel = f"openmem_keys_{schema}"
        self._changed_since = f"""
SELECT record::text AS record, changed_at FROM {s}.api_keys WHERE changed_at > $1
ORDER BY changed_at"""
        self._upsert = f"""
WITH up AS (
    INSERT INTO {s}.api_keys (key_id, namespace, record) VALUES ($1, $2, $3::jsonb)
    ON CONFLICT (key_id) DO {{conflict}}
    RETURNING key_id
)
SELECT key_id, pg_notify('{self._channel}', key_id) FROM up"""
        self._get = f"SELECT record::text AS record FROM {s}.api_keys WHERE key_id = $1"
        self._keys: dict[str, ApiKey] = {}
        self._seen: Any = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._listener: asyncpg.Connection | None = None

    @property
    def where(self) -> str:
        """Where the keys are, for messages."""
        return "the database (api_keys)"

    # -- the local copy ------------------------------------------------------------------

    async def start(self) -> None:
        """Load every key, listen for changes, keep the copy fresh."""
        await self._catch_up()
        try:
            conn = await asyncpg.connect(self._url, timeout=30)
            await conn.add_listener(self._channel, lambda *_: self._wake.set())
            self._listener = conn
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
            _log.warning("API keys refresh by polling only; LISTEN failed: %r", exc)
        self._task = asyncio.get_running_loop().create_task(self._follow(), name="openmem-keys")

    async def stop(self) -> None:
        """Stop following the table."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait([task], timeout=5)
        listener, self._listener = self._listener, None
        if listener is not None:
            try:
                await asyncio.wait_for(listener.close(), 5)
            except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                listener.terminate()

    async def _follow(self) -> None:
        while True:
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), KEY_REFRESH)
            try:
                await self._catch_up()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is away: keep the last keys read
                _log.warning("refreshing API keys failed: %r", exc)

    async def _catch_up(self) -> None:
        since = self._seen
        if since is None:
            rows = await self._runner.fetch(self._changed_since.replace("> $1", "> '-infinity'"))
        else:
            rows = await self._runner.fetch(self._changed_since, since)
        if not rows:
            return
        keys = dict(self._keys)
        for row in rows:
            record = ApiKey.model_validate_json(row["record"])
            keys[record.key_id] = record
        self._keys = keys  # replaced whole: verify() never sees a half-applied change
        self._seen = rows[-1]["changed_at"]

    # -- KeyVerifier ---------------------------------------------------------------------

    def verify(self, key: str) -> ApiKey | None:
        """The active record for ``key`` from the local copy, or None."""
        return matching_record(self._keys, key)

    def has_active_keys(self) -> bool:
        """Whether at least one key can authenticate."""
        return any(record.active for record in self._keys.values())

    def records(self) -> list[ApiKey]:
        """Every key, revoked ones included, oldest first."""
        return sorted(self._keys.values(), key=lambda k: k.created_at)

    # -- writes --------------------------------------------------------------------------

    async def create_key(
        self,
        *,
        namespace: str,
        label: str | None = None,
        users: Sequence[str] | None = None,
        scopes: Sequence[str] | None = None,
        verbs: Sequence[str] | None = None,
        app: str | None = None,
    ) -> tuple[str, ApiKey]:
        """Create a key in the table; the plaintext is returned once."""
        key, record = new_api_key(
            namespace=namespace, label=label, users=users, scopes=scopes, verbs=verbs, app=app
        )
        await self._write(record, replace=False)
        return key, record

    async def revoke_key(self, key_id: str, *, namespace: str | None = None) -> ApiKey:
        """Revoke a key (idempotent); ``NotFoundError`` if unknown (or of another namespace)."""
        row = await self._runner.fetchrow(self._get, key_id)
        record = ApiKey.model_validate_json(row["record"]) if row is not None else None
        if record is None or (namespace is not None and record.namespace != namespace):
            raise NotFoundError(f"no API key {key_id!r}", provider=PROVIDER)
        if record.active:
            from datetime import UTC, datetime

            record = record.model_copy(update={"revoked_at": datetime.now(UTC)})
            await self._write(record, replace=True)
        return record

    async def import_keys(self, records: Sequence[ApiKey]) -> int:
        """Store keys of a JSON key file (``openmem keys migrate``); existing ids are kept."""
        added = 0
        for record in records:
            added += await self._write(record, replace=False)
        return added

    async def _write(self, record: ApiKey, *, replace: bool) -> int:
        conflict = (
            "UPDATE SET record = EXCLUDED.record, changed_at = clock_timestamp()"
            if replace
            else "NOTHING"
        )
        rows = await self._runner.fetch(
            self._upsert.format(conflict=conflict),
            record.key_id,
            record.namespace,
            record.model_dump(mode="json"),
        )
        if rows:
            keys = dict(self._keys)
            keys[record.key_id] = record
            self._keys = keys
        return len(rows)
