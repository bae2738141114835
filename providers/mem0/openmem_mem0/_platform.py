"""The mem0 platform (hosted API) as a blocking backend, through mem0's own ``MemoryClient``.

``MemoryClient`` pings the API in its constructor (blocking I/O), so ``open`` runs on a
worker thread like every other call. Adds are queued by default (``async_mode``): the API
answers ``{"status": "PENDING", "event_id": ...}`` and the provider maps that to a record with
``status="queued"``, resolved later by polling ``/v1/event/{id}/``.
"""

from __future__ import annotations

import os
from typing import Any

import httpx
from mem0.client.main import MemoryClient

from openmem.translation.backend import AddInput
from openmem_mem0._backend import RawMemory
from openmem_mem0._options import Mem0Options

__all__ = ["Mem0PlatformBackend"]

_PAGE_SIZE = 100


class Mem0PlatformBackend:
    """``mem0.client.main.MemoryClient`` behind the provider's worker threads."""

    thread_safe = True  # httpx.Client is thread-safe
    async_ingestion = True

    def __init__(self, options: Mem0Options, transport: httpx.BaseTransport | None) -> None:
        self.options = options
        self._transport = transport
        self._client: Any = None

    def open(self) -> None:
        key = self.options.api_key.get_secret_value() if self.options.api_key else None
        key = key or os.environ.get("MEM0_API_KEY")
        if not key:
            raise ValueError("mode='platform' needs api_key (or MEM0_API_KEY)")
        http = httpx.Client(transport=self._transport, timeout=30.0) if self._transport else None
        self._client = MemoryClient(api_key=key, host=self.options.host, client=http)

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.client.close()

    @property
    def client(self) -> Any:
        """The ``MemoryClient``."""
        if self._client is None:
            raise RuntimeError("the mem0 platform backend is not open")
        return self._client

    def create(
        self, user: str, content: AddInput, metadata: dict[str, Any], infer: bool
    ) -> list[RawMemory]:
        response = self.client.add(
            content,
            user_id=user,
            metadata=metadata,
            infer=infer,
            async_mode=self.options.async_mode,
        )
        return _results(response)

    def get(self, memory_id: str) -> RawMemory | None:
        try:
            raw: RawMemory = self.client.get(memory_id)
        except Exception as exc:
            if type(exc).__name__ == "MemoryNotFoundError":
                return None
            raise
        return raw

    def list_all(self, user: str) -> list[RawMemory]:
        rows: list[RawMemory] = []
        page = 1
        while True:
            response = self.client.get_all(
                filters={"user_id": user}, page=page, page_size=_PAGE_SIZE
            )
            rows.extend(_results(response))
            if not isinstance(response, dict) or not response.get("next"):
                return rows
            page += 1

    def find(self, user: str, key: str, value: str) -> RawMemory | None:
        # Metadata filter operators differ between platform API generations; match here.
        for raw in self.list_all(user):
            if (raw.get("metadata") or {}).get(key) == value:
                return raw
        return None

    def search(self, user: str, query: str, top_k: int, threshold: float) -> list[RawMemory]:
        response = self.client.search(
            query, filters={"user_id": user}, top_k=top_k, threshold=threshold
        )
        return _results(response)

    def update(self, memory_id: str, content: str | None, metadata: dict[str, Any]) -> None:
        self.client.update(memory_id, text=content, metadata=metadata)

    def delete(self, memory_id: str) -> None:
        self.client.delete(memory_id)

    def history(self, memory_id: str) -> list[RawMemory]:
        return list(self.client.history(memory_id))

    def event(self, event_id: str) -> RawMemory | None:
        """``GET /v1/event/{id}/``: the state of a queued add, or None when unknown."""
        response = self.client.client.get(f"/v1/event/{event_id}/")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        event: RawMemory = response.json()
        payload = event.get("payload") or {}
        metadata = payload.get("metadata") if isinstance(payload, dict) else None
        if isinstance(metadata, dict):
            event["ref"] = metadata.get("om_ref")
        return event


def _results(response: Any) -> list[RawMemory]:
    if isinstance(response, dict):
        return list(response.get("results") or [])
    if isinstance(response, list):
        return list(response)
    return []
