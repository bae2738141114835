"""Waiting for asynchronously ingested memories (``AsyncMemory.wait_for_ingest``).

Some providers (mem0 platform, an OMP server with a queue) accept an add before the memory
is readable; its ``status`` is ``queued`` or ``indexing`` until then. Providers declaring
``features.async_ingest`` also answer ``get_event`` for the event id of a queued add. This
polls with a doubling delay, capped at one second, until every memory or event is done or
the timeout passes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from openmem.errors import ERROR_TABLE, IngestionTimeoutError, ProviderError
from openmem.models import IngestEvent, MemoryRecord
from openmem.provider import Caller, Provider

__all__ = ["EVENT_ID_PREFIX", "wait_until_ingested"]

EVENT_ID_PREFIX = "evt_"
"""Event ids start with it, so ``wait_for_ingest`` tells them from memory ids."""

_INGESTING = ("queued", "indexing")


async def wait_until_ingested(
    provider: Provider[Any],
    caller: Caller,
    ids: Sequence[str],
    timeout: float,  # noqa: ASYNC109 - the OMP SDK's wait_for_ingest signature
    *,
    events: bool = False,
) -> list[MemoryRecord]:
    """The records of ``ids`` once none is still ingesting, in the order asked.

    With ``events``, an id starting with ``evt_`` is an ingestion event: it stands for the
    memories it wrote, in their order. Raises ``ProviderError`` when an ingestion failed
    (the event's error code kept), ``IngestionTimeoutError`` (listing the pending ids) when
    ``timeout`` seconds pass first.
    """
    deadline = time.monotonic() + timeout
    delay = 0.05
    pending = list(dict.fromkeys(ids))
    done: dict[str, list[MemoryRecord]] = {}
    while pending:
        for an_id in list(pending):
            if events and an_id.startswith(EVENT_ID_PREFIX):
                event = await provider.get_event(caller, an_id)
                if not event.done:
                    continue
                _raise_if_failed(event)
                done[an_id] = [await provider.get(caller, m) for m in event.memory_ids]
            else:
                record = await provider.get(caller, an_id)
                if record.status == "failed":
                    raise ProviderError(f"ingestion of {an_id} failed")
                if record.status in _INGESTING:
                    continue
                done[an_id] = [record]
            pending.remove(an_id)
        if not pending:
            break
        if time.monotonic() + delay > deadline:
            raise IngestionTimeoutError(
                f"{len(pending)} memories still ingesting after {timeout} s",
                details={"pending": pending},
            )
        await asyncio.sleep(delay)
        delay = min(delay * 2, 1.0)
    return [record for an_id in ids for record in done[an_id]]


def _raise_if_failed(event: IngestEvent) -> None:
    if event.status != "FAILED":
        return
    code = event.error.code if event.error is not None else "provider_error"
    message = event.error.message if event.error is not None else "ingestion failed"
    spec = ERROR_TABLE.get(code)
    error_class = spec.error_class if spec is not None else ProviderError
    raise error_class(
        f"ingestion event {event.id} failed: {message}", code=code, details={"event_id": event.id}
    )
