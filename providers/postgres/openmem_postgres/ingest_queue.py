"""Queued adds: enqueue (the acknowledgement), events, and running one job exactly once.

``enqueue`` writes the job row (``ingest_schema``) and returns the queued records: their
ids are assigned now, so the memory a job writes has the id the caller was given. ``run``
is what a worker does with a claimed job: embed, then in one transaction lock the claim,
insert the memories (with their audit rows) and mark the event ``SUCCEEDED``. A job run
twice (a worker died after committing, or its lease passed) writes its memories once: the
claim check under the row lock lets only one run commit.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from ulid import ULID

from openmem.errors import InvalidRequestError, NotFoundError, OMPError
from openmem.ingest import EVENT_ID_PREFIX
from openmem.models import (
    EventError,
    IngestEvent,
    MemoryInput,
    MemoryRecord,
    check_content_length,
)
from openmem.provider import Caller
from openmem_postgres.ingest_schema import IngestStatements
from openmem_postgres.runner import PROVIDER, Connection
from openmem_postgres.store import OpenStore, memory_id
from openmem_postgres.writes import many_values

__all__ = [
    "ClaimedJob",
    "announcement",
    "enqueue",
    "get_event",
    "queued_record",
    "retry_delay",
    "run_job",
]


def event_id() -> str:
    """A fresh event id (``evt_`` + ULID)."""
    return f"{EVENT_ID_PREFIX}{ULID()}"


async def enqueue(
    store: OpenStore, sql: IngestStatements, caller: Caller, items: Sequence[MemoryInput]
) -> list[MemoryRecord]:
    """Write the job durably and return the queued records (one event for the call)."""
    options = store.options
    if len(items) > options.max_batch_size:
        raise InvalidRequestError(
            f"a batch holds at most {options.max_batch_size} items", field="items"
        )
    for index, item in enumerate(items):
        field = "content" if len(items) == 1 else f"items.{index}.content"
        check_content_length(item.content, options.max_content_length, field=field)
    new_event = event_id()
    ids = [memory_id() for _ in items]
    payload = [item.model_dump(mode="json", exclude_none=True) for item in items]
    row = await store.runner.fetchrow(
        sql.enqueue,
        caller.namespace,
        new_event,
        caller.user_id,
        json.dumps(payload),
        ids,
        caller.app,
        caller.request_id,
        options.ingest_max_attempts,
    )
    assert row is not None
    return [
        _queued(caller.user_id, item, new_id, new_event, row["created_at"], "queued")
        for item, new_id in zip(items, ids, strict=True)
    ]


async def get_event(
    store: OpenStore, sql: IngestStatements, caller: Caller, an_event_id: str
) -> IngestEvent:
    """The caller's event, or ``NotFoundError`` (also for another user's event)."""
    row = await store.runner.fetchrow(sql.get_event, caller.namespace, caller.user_id, an_event_id)
    if row is None:
        raise NotFoundError(f"no event {an_event_id!r} for this user", provider=PROVIDER)
    return event_from_row(row)


async def queued_record(
    store: OpenStore, sql: IngestStatements, caller: Caller, queued_id: str
) -> MemoryRecord | None:
    """The queued (or failed) record of a memory id a queued add handed out, if any."""
    row = await store.runner.fetchrow(
        sql.event_of_queued, caller.namespace, caller.user_id, queued_id
    )
    if row is None:
        return None
    position = list(row["queued_ids"]).index(queued_id)
    item = MemoryInput.model_validate(json.loads(row["items"])[position])
    status = "failed" if row["status"] == "FAILED" else "queued"
    return _queued(caller.user_id, item, queued_id, row["id"], row["created_at"], status)


def event_from_row(row: asyncpg.Record) -> IngestEvent:
    """An ``IngestEvent`` from a row of ``ingest_events``."""
    error = None
    if row["error_code"] is not None:
        error = EventError(code=row["error_code"], message=row["error_message"] or "")
    return IngestEvent(
        id=row["id"],
        user_id=row["user_id"],
        status=row["status"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        attempts=row["attempts"],
        memory_ids=list(row["memory_ids"]),
        error=error,
    )


def _queued(
    user_id: str, item: MemoryInput, new_id: str, an_event_id: str, created_at: Any, status: str
) -> MemoryRecord:
    data = item.model_dump(mode="python", exclude={"idempotency_key", "user_id"})
    data.update(
        id=new_id,
        user_id=user_id,
        created_at=created_at,
        status=status,
        event_id=an_event_id,
    )
    return MemoryRecord.model_validate(data)


@dataclass(frozen=True)
class ClaimedJob:
    """A job a worker holds: the event row as claimed (``attempts`` is the claim token)."""

    namespace: str
    event_id: str
    user_id: str
    items: list[MemoryInput]
    queued_ids: list[str]
    app: str | None
    request_id: str | None
    attempts: int
    max_attempts: int

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> ClaimedJob:
        """The job of a row returned by the claim statement."""
        return cls(
            namespace=row["namespace"],
            event_id=row["id"],
            user_id=row["user_id"],
            items=[MemoryInput.model_validate(i) for i in json.loads(row["items"])],
            queued_ids=list(row["queued_ids"]),
            app=row["app"],
            request_id=row["request_id"],
            attempts=row["attempts"],
            max_attempts=row["max_attempts"],
        )

    @property
    def key(self) -> tuple[str, str, int]:
        """The claim: namespace, event id, attempt."""
        return (self.namespace, self.event_id, self.attempts)


async def run_job(store: OpenStore, sql: IngestStatements, job: ClaimedJob) -> bool:
    """Write the job's memories and mark its event ``SUCCEEDED``, in one transaction.

    Returns False when the claim was lost (another worker holds the job now): nothing is
    written then.
    """
    vectors = await store.embed([item.content for item in job.items])

    async def op(conn: Connection) -> bool:
        async with conn.transaction():
            if await conn.fetchval(sql.lock_claim, *job.key) is None:
                return False
            landed = {
                r["id"] for r in await conn.fetch(sql.existing_ids, job.namespace, job.queued_ids)
            }
            todo = [i for i, new_id in enumerate(job.queued_ids) if new_id not in landed]
            written = await _insert(conn, store, job, todo, vectors)
            final = await _final_ids(conn, sql, job, written)
            await conn.execute(sql.succeed, *job.key, final)
            await conn.execute(
                sql.webhooks.fan_out,
                job.namespace,
                job.event_id,
                "memory.added",
                json.dumps(announcement(job, "memory.added", "SUCCEEDED", final)),
            )
            return True

    return await store.runner.run(op)


async def _insert(
    conn: Connection,
    store: OpenStore,
    job: ClaimedJob,
    todo: Sequence[int],
    vectors: Sequence[Sequence[float]],
) -> set[str]:
    if not todo:
        return set()
    items = [job.items[i] for i in todo]
    rows = await conn.fetch(
        store.statements.add_many,
        *many_values(
            job.namespace,
            job.user_id,
            [job.queued_ids[i] for i in todo],
            items,
            [vectors[i] for i in todo],
        ),
        job.app,
        job.request_id,
    )
    return {row["id"] for row in rows}


async def _final_ids(
    conn: Connection, sql: IngestStatements, job: ClaimedJob, written: set[str]
) -> list[str]:
    """The memory of each item: its queued id, or the earlier memory its idempotency key
    names (the insert skipped it)."""
    keys = [
        item.idempotency_key
        for item, new_id in zip(job.items, job.queued_ids, strict=True)
        if new_id not in written and item.idempotency_key is not None
    ]
    replayed: dict[str, str] = {}
    if keys:
        rows = await conn.fetch(sql.replayed_ids, job.namespace, job.user_id, keys)
        replayed = {r["idempotency_key"]: r["id"] for r in rows}
    final: list[str] = []
    for item, new_id in zip(job.items, job.queued_ids, strict=True):
        key = item.idempotency_key
        final.append(replayed.get(key, new_id) if key is not None else new_id)
    return final


def announcement(
    job: ClaimedJob, event: str, status: str, memory_ids: Sequence[str]
) -> dict[str, Any]:
    """The webhook payload of a finished job."""
    return {
        "event": event,
        "event_id": job.event_id,
        "namespace": job.namespace,
        "user_id": job.user_id,
        "status": status,
        "memory_ids": list(memory_ids),
    }


def retry_delay(attempt: int, base: float) -> float:
    """Exponential backoff with full jitter: uniform in [base/2, base * 2**(attempt-1)]."""
    ceiling = base * 2 ** min(attempt - 1, 16)
    return random.uniform(base / 2, max(ceiling, base / 2))


def failure_of(exc: BaseException) -> tuple[str, str, bool]:
    """(error code, message, retry?) of a failed attempt; invalid input is never retried."""
    if isinstance(exc, OMPError):
        return exc.error_code, exc.message, exc.type != "invalid"
    return "internal_error", type(exc).__name__, True
