"""Queued adds over the wire: ``?async_mode=true`` (202) and ``GET /events/{id}``.

Offered when the server names the ``async-mode`` extension and its provider declares
``features.async_ingest`` (spec §6.11).
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from urllib.parse import quote

from openmem.errors import ProviderError
from openmem.models import IngestEvent, MemoryInput, MemoryRecord
from openmem.passthrough.compat import read
from openmem.passthrough.exchange import Exchange, read_json
from openmem.provider import Caller

__all__ = ["enqueue", "fetch_event"]

_ASYNC = {"async_mode": "true"}


async def enqueue(
    exchange: Exchange, caller: Caller, items: Sequence[MemoryInput], *, provider: str
) -> builtins.list[MemoryRecord]:
    """``POST /memories?async_mode=true`` (one item) or ``/memories:batch?async_mode=true``."""
    bodies = [item.model_dump(mode="json", exclude_none=True, by_alias=True) for item in items]
    keyed = all(item.idempotency_key is not None for item in items)
    if len(items) == 1:
        body = bodies[0]
        key = body.pop("idempotency_key", None)
        response = await exchange.send(
            "POST", "/memories", verb="add", caller=caller, params=_ASYNC, json=body,
            headers={"idempotency-key": key} if key is not None else None, idempotent=keyed,
        )  # fmt: skip
        return [read(MemoryRecord, read_json(response))]
    response = await exchange.send(
        "POST", "/memories:batch", verb="add_many", caller=caller, params=_ASYNC,
        json={"user_id": caller.user_id, "items": bodies}, idempotent=keyed,
    )  # fmt: skip
    payload = read_json(response)
    raw = payload.get("items") if isinstance(payload, Mapping) else None
    if not isinstance(raw, builtins.list):
        raise ProviderError("malformed batch answer from the OMP server", provider=provider)
    return [read(MemoryRecord, record) for record in raw]


async def fetch_event(exchange: Exchange, caller: Caller, event_id: str) -> IngestEvent:
    """``GET /events/{id}`` with ``X-User-Id``."""
    response = await exchange.send(
        "GET", f"/events/{quote(event_id, safe='')}", verb="get", caller=caller, idempotent=True
    )
    return read(IngestEvent, read_json(response))
