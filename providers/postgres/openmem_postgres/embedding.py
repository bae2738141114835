"""Embedding for the provider: vectors checked against the model's size, CPU work sliced."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from openmem.embedders import Embedder
from openmem.errors import InvalidRequestError

__all__ = ["embed_checked"]

_SLICE_CHARS = 1_000  # about 0.3 ms of hashing-embedder work between two loop iterations


async def embed_checked(embedder: Embedder, texts: Sequence[str]) -> list[list[float]]:
    """One vector per text, each of ``embedder.dim`` numbers (else ``InvalidRequestError``).

    Text no embedder can encode (a lone surrogate) is refused before any embedder sees it.

    An embedder with an ``embed_sync`` method (CPU-bound, pure Python) embeds a large batch
    in slices, yielding to the event loop between them.
    """
    for text in texts:
        if not text.isascii():
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                raise InvalidRequestError(
                    "text must be valid Unicode (no lone surrogates)",
                    provider="postgres",
                    field="content",
                ) from None
    embed_sync = getattr(embedder, "embed_sync", None)
    if callable(embed_sync) and len(texts) > 1 and sum(map(len, texts)) > _SLICE_CHARS:
        vectors = await _embed_in_slices(embed_sync, texts)
    else:
        vectors = await embedder.embed(texts)
    for vector in vectors:
        if len(vector) != embedder.dim:
            raise InvalidRequestError(
                f"the embedder returned a vector of {len(vector)} dimensions, not {embedder.dim}",
                provider="postgres",
                field="embedding",
            )
    return vectors


async def _embed_in_slices(
    embed_sync: Callable[[Sequence[str]], list[list[float]]],
    texts: Sequence[str],
) -> list[list[float]]:
    """Embed a batch with a CPU-bound, pure-Python embedder a slice at a time, yielding to
    the loop between slices.

    A worker thread would not help: it holds the GIL while it computes, so the loop would
    still stall for up to a switch interval (5 ms) at a time. A hundred short texts cost the
    hashing embedder about 4 ms; in slices the loop never waits more than a fraction of one.
    """
    vectors: list[list[float]] = []
    start = size = 0
    for index, text in enumerate(texts):
        size += len(text)
        if size >= _SLICE_CHARS:
            vectors += embed_sync(texts[start : index + 1])
            start, size = index + 1, 0
            await asyncio.sleep(0)
    if start < len(texts):
        vectors += embed_sync(texts[start:])
    return vectors
