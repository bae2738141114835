"""An embedder whose geometry the suite knows, and the seam that gives it to a provider.

A search mode can only be judged against vectors the judge understands. With the provider's
own embedder the suite cannot tell a semantic match from a lexical one (the hashing embedder
is lexical itself; a real model's neighbourhoods are unknown), so a "hybrid" mode that runs
only one of its halves passes. ``ConceptEmbedder`` fixes the geometry instead:

- designated concept words map to given directions in the first ``CONCEPT_DIMS`` dimensions
  ("automobile" and "car" to the same one, so they match with no word in common);
- a text without any concept word maps to a direction of its own, drawn from a hash of the
  whole text in the remaining dimensions: exactly orthogonal to every concept, and near
  orthogonal to every other text, whatever words the two share.

``with_embedder`` builds a sibling of the provider under test from its own options with
``embedder=`` set to the suite's instance (any provider whose options are ``EmbedderOptions``
accepts it). Whether the sibling really used it is measured, never assumed: the embedder
counts the texts it was given.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from collections.abc import Mapping, Sequence
from typing import Any

from openmem.embedders import Embedder, EmbedderOptions
from openmem.provider import Provider

__all__ = ["CONCEPT_DIMS", "ConceptEmbedder", "with_embedder"]

CONCEPT_DIMS = 8
"""Dimensions reserved for concept directions; the rest hold the per-text directions."""

_WORD = re.compile(r"\w+", re.UNICODE)


class ConceptEmbedder(Embedder):
    """Deterministic vectors: concept words share directions, every other text is its own.

    >>> embedder = ConceptEmbedder({"car": [1.0], "automobile": [1.0]})
    """

    def __init__(self, concepts: Mapping[str, Sequence[float]], dim: int = 64) -> None:
        if dim <= CONCEPT_DIMS:
            raise ValueError(f"dim must exceed the {CONCEPT_DIMS} concept dimensions")
        for word, direction in concepts.items():
            if len(direction) > CONCEPT_DIMS:
                raise ValueError(f"the direction of {word!r} has more than {CONCEPT_DIMS} numbers")
        self._concepts = {word.lower(): list(direction) for word, direction in concepts.items()}
        self.dim = dim
        self.model = f"openmem-conformance-concepts-{dim}"
        self.texts_embedded = 0
        """How many texts the provider asked this embedder for (proof that it is in use)."""

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.texts_embedded += len(texts)
        return [self.vector(text) for text in texts]

    def vector(self, text: str) -> list[float]:
        """The unit vector of ``text`` (the same on every call and machine)."""
        vector = [0.0] * self.dim
        concept_words = [w for w in _WORD.findall(text.lower()) if w in self._concepts]
        for word in concept_words:
            for i, value in enumerate(self._concepts[word]):
                vector[i] += value
        if not concept_words:
            seed = int.from_bytes(hashlib.sha256(text.encode("utf-8", "replace")).digest()[:8])
            draw = random.Random(seed)
            for i in range(CONCEPT_DIMS, self.dim):
                vector[i] = draw.gauss(0.0, 1.0)
        norm = math.sqrt(math.fsum(v * v for v in vector))
        if norm == 0.0:  # concept directions that cancel out: any fixed unit vector will do
            vector[0] = norm = 1.0
        return [v / norm for v in vector]


def with_embedder(provider: Provider[Any], embedder: Embedder) -> Provider[Any] | str:
    """A fresh sibling of ``provider`` that embeds with ``embedder``, or why there is none.

    The sibling is built the way every provider is (``type(provider)(options)``) from the
    provider's own options with ``embedder`` replaced, so it talks to the same backend.
    """
    options = provider.options
    if not isinstance(options, EmbedderOptions):
        return (
            f"{type(provider).__name__} takes no embedder option (its options are "
            f"{type(options).__name__}): the backend embeds by itself"
        )
    try:
        return type(provider)(options.model_copy(update={"embedder": embedder}))
    except (TypeError, ValueError) as exc:
        return f"{type(provider).__name__} cannot be built from its options: {exc}"
