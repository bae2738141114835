"""A dependency-free lexical embedder: signed feature hashing of words and word pairs.

Deterministic across processes and machines (CRC-32, not Python's salted ``hash``), so it
is the default for tests and the fallback when no model is configured. It captures word
overlap only, not meaning: "car" and "automobile" are unrelated to it.
"""

from __future__ import annotations

import itertools
import math
import re
import zlib
from collections.abc import Sequence

import anyio.to_thread

from openmem.embedders.base import Embedder

__all__ = ["HashingEmbedder"]

_WORD = re.compile(r"\w+", re.UNICODE)
_OFFLOAD_ABOVE_CHARS = 20_000  # below this, hashing costs less than a thread hop


class HashingEmbedder(Embedder):
    """Feature-hashing embedder; ``dim`` buckets, L2-normalised."""

    def __init__(self, dim: int = 256) -> None:
        if dim < 8:
            raise ValueError("dim must be at least 8")
        self.dim = dim
        self.model = f"openmem-hashing-v2-{dim}"

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if sum(len(t) for t in texts) > _OFFLOAD_ABOVE_CHARS:
            return await anyio.to_thread.run_sync(
                self.embed_sync, list(texts), abandon_on_cancel=True
            )
        return self.embed_sync(texts)

    def embed_sync(self, texts: Sequence[str]) -> list[list[float]]:
        """The same vectors, computed on the calling thread."""
        return [self._vector(text) for text in texts]

    def _vector(self, text: str) -> list[float]:
        # Accumulate sparsely: a text touches a few dozen buckets, not all ``dim`` of them.
        buckets: dict[int, float] = {}
        words = [w.lower() for w in _WORD.findall(text)]
        for feature, weight in itertools.chain(
            ((w, 1.0) for w in words),
            ((f"{a} {b}", 0.5) for a, b in itertools.pairwise(words)),
        ):
            code = zlib.crc32(feature.encode())
            bucket = code % self.dim
            signed = weight if code & 0x80000000 else -weight
            buckets[bucket] = buckets.get(bucket, 0.0) + signed
        vector = [0.0] * self.dim
        norm = math.sqrt(math.fsum(v * v for v in buckets.values()))
        if norm == 0.0:
            # An empty or symbol-only text still gets a valid unit vector, far from words.
            vector[0] = 1.0
            return vector
        for bucket, value in buckets.items():
            vector[bucket] = value / norm
        return vector
