"""openmem's async ``Embedder`` behind an SDK's blocking embedding calls.

The SDK calls its embedder on the adapter's worker threads. An embedder with ``embed_sync``
(hashing) is called right there; any other runs on the provider's event loop and the worker
thread waits for it, so one embedder instance (and its HTTP client) serves both sides.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from openmem.embedders import Embedder

__all__ = ["EMBED_TIMEOUT", "embed_blocking"]

EMBED_TIMEOUT = 120.0
"""Seconds a worker thread waits for vectors computed on the event loop."""


def embed_blocking(
    embedder: Embedder, loop: asyncio.AbstractEventLoop, texts: Sequence[str]
) -> list[list[float]]:
    """One vector per text, in order; call from a worker thread, never from ``loop``."""
    embed_sync = getattr(embedder, "embed_sync", None)
    if callable(embed_sync):
        vectors: list[list[float]] = embed_sync(list(texts))
        return vectors
    future = asyncio.run_coroutine_threadsafe(embedder.embed(list(texts)), loop)
    return future.result(timeout=EMBED_TIMEOUT)
