"""A dependency-free lexical embedder: signed feature hashing of words and word pairs.

Deterministic across processes and machines (blake2b, not Python's salted ``hash``), so it
is the default for tests and the fallback when no model is configured. It captures word
overlap only, not meaning: "car" and "automobile" are unrelated to it.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
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
        self.model = f"openmem-hashing-v1-{dim}"

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
        vector = [0.0] * self.dim
        words = [w.lower() for w in _WORD.findall(text)]
        features = words + [f"{a} {b}" for a, b in itertools.pairwise(words)]
        for feature in features:
            digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
            bucket = int.from_bytes(digest[:4], "little") % self.dim
            sign = 1.0 if digest[4] & 1 else -1.0
            weight = 1.0 if " " not in feature else 0.5
            vector[bucket] += sign * weight
        norm = math.sqrt(sum(v * v for v in vector))
        if norm == 0.0:
            # An empty or symbol-only text still gets a valid unit vector, far from words.
            vector[0] = 1.0
            return vector
        return [v / norm for v in vector]
