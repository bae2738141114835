"""Waiting for asynchronously ingested memories (``AsyncMemory.wait_for_ingest``).

Some providers (mem0 platform, an OMP server with a queue) accept an add before the memory
is readable; its ``status`` is ``queued`` or ``indexing`` until then. This polls with a
doubling delay, capped at one second, until every memory is ready or the timeout passes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from openmem.errors import IngestionTimeoutError, ProviderError
from openmem.models import MemoryRecord
from openmem.provider import Caller, Provider

__all__ = ["wait_until_ingested"]

_INGESTING = ("queued", "indexing")


async def wait_until_ingested(
    provider: Provider[Any],
    caller: Caller,
    memory_ids: Sequence[str],
    timeout: float,  # noqa: ASYNC109 - the OMP SDK's wait_for_ingest signature
) -> list[MemoryRecord]:
    """The records of ``memory_ids`` once none is still ingesting, in the order asked.

    Raises ``ProviderError`` when a memory's ingestion failed, ``IngestionTimeoutError``
    (listing the pending ids) when ``timeout`` seconds pass first.
    """
    deadline = time.monotonic() + timeout
    delay = 0.05
    pending = list(memory_ids)
    done: dict[str, MemoryRecord] = {}
    while pending:
        for memory_id in list(pending):
            record = await provider.get(caller, memory_id)
            if record.status == "failed":
                raise ProviderError(f"ingestion of {memory_id} failed")
            if record.status not in _INGESTING:
                done[memory_id] = record
                pending.remove(memory_id)
        if not pending:
            break
        if time.monotonic() + delay > deadline:
            raise IngestionTimeoutError(
                f"{len(pending)} memories still ingesting after {timeout} s",
                details={"pending": pending},
            )
        await asyncio.sleep(delay)
        delay = min(delay * 2, 1.0)
    return [done[i] for i in memory_ids]
