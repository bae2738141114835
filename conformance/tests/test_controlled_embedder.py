"""The embedder the suite controls: its geometry, the seam, and what the report says without it."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from openmem_conformance import CHECKS, Outcome
from openmem_conformance.checks.hybrid import CONCEPTS, LEXICAL_ONLY, QUERY, SEMANTIC_ONLY
from openmem_conformance.concept_embedder import ConceptEmbedder, with_embedder
from openmem_conformance.runner import run_one

from openmem.embedders import HashingEmbedder
from openmem.inmemory import InMemoryProvider
from openmem.passthrough import PassthroughProvider

HYBRID = CHECKS["hybrid_search_finds_what_either_half_finds"]


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    return math.fsum(x * y for x, y in zip(a, b, strict=True))


def test_concept_words_share_a_direction_and_other_texts_are_orthogonal_to_it() -> None:
    embedder = ConceptEmbedder(CONCEPTS)
    query = embedder.vector(QUERY)
    assert _cosine(query, embedder.vector(SEMANTIC_ONLY)) == 1.0
    assert _cosine(query, embedder.vector(LEXICAL_ONLY)) == 0.0
    assert math.isclose(_cosine(query, embedder.vector("a bicycle")), 0.2, abs_tol=0.01)
    # Two texts without a concept word: near orthogonal, whatever words they share.
    assert abs(_cosine(embedder.vector(LEXICAL_ONLY), embedder.vector(f"{LEXICAL_ONLY}!"))) < 0.5


async def test_the_embedder_counts_what_it_was_asked_to_embed() -> None:
    embedder = ConceptEmbedder(CONCEPTS)
    vectors = await embedder.embed(["car", "anything else"])
    assert embedder.texts_embedded == 2
    assert [len(v) for v in vectors] == [embedder.dim, embedder.dim]
    assert all(math.isclose(_cosine(v, v), 1.0) for v in vectors)


def test_a_sibling_is_built_from_the_options_with_the_embedder_replaced(
    lexical: Mapping[str, str],
) -> None:
    embedder = ConceptEmbedder(CONCEPTS)
    sibling = with_embedder(InMemoryProvider(**lexical), embedder)
    assert isinstance(sibling, InMemoryProvider)
    assert sibling.options.embedder is embedder


def test_an_omp_server_cannot_be_given_an_embedder_and_says_why() -> None:
    server = PassthroughProvider(base_url="http://127.0.0.1:9")  # never contacted
    reason = with_embedder(server, ConceptEmbedder(CONCEPTS))
    assert isinstance(reason, str)
    assert "embeds by itself" in reason


async def test_the_reference_is_rated_with_the_controlled_embedder() -> None:
    result = await run_one(HYBRID, InMemoryProvider)
    assert result.outcome is Outcome.PASSED, result.message
    assert result.details["embedder_controlled"] is True
    roles = {entry.split()[0] for entry in result.details["hybrid_top"]}
    assert {"keyword-only", "vector-only"} <= roles


class IgnoresTheGivenEmbedder(InMemoryProvider):
    """Accepts ``embedder=`` and embeds with hashing anyway."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._embedder = HashingEmbedder()


async def test_an_ignored_embedder_is_noticed_and_said_in_the_report() -> None:
    result = await run_one(HYBRID, IgnoresTheGivenEmbedder)
    assert result.outcome is Outcome.PASSED, result.message
    assert result.details["embedder_controlled"] is False
    assert "never called it" in result.details["rated_on"]
    assert "only the keyword half" in result.details["rated_on"]
