"""A check's verdict never rests on how fast the provider embeds.

A check that races writers against reads catches a defect only while enough writes land
inside the race; a slower embedder (the semantic default instead of hashing) lets fewer in,
and the defect slips through. These tests run the race-prone checks against the reference
and its defect with an embedder of no delay and one that takes 20 ms a call (slower than the
semantic default's single text on a quiet machine): same verdict both ways.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from openmem_conformance import CHECKS, Outcome
from openmem_conformance.defects import OffsetCursor
from openmem_conformance.runner import run_one

from openmem.embedders import Embedder, HashingEmbedder
from openmem.inmemory import InMemoryProvider

CONCURRENT_INSERTS = CHECKS["list_pagination_is_stable_under_concurrent_inserts"]


class DelayedEmbedder(Embedder):
    """The hashing embedder, answering each call only after ``delay`` seconds."""

    def __init__(self, delay: float) -> None:
        self._inner = HashingEmbedder()
        self.model, self.dim = self._inner.model, self._inner.dim
        self._delay = delay

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        await asyncio.sleep(self._delay)
        return await self._inner.embed(texts)


@pytest.mark.parametrize("delay", [0.0, 0.02], ids=["instant", "20ms"])
async def test_an_offset_cursor_is_caught_however_slowly_the_provider_embeds(
    delay: float,
) -> None:
    result = await run_one(
        CONCURRENT_INSERTS, lambda: OffsetCursor(embedder=DelayedEmbedder(delay))
    )
    assert result.outcome is Outcome.FAILED, "OffsetCursor passed"
    assert "appeared twice" in result.message


@pytest.mark.parametrize("delay", [0.0, 0.02], ids=["instant", "20ms"])
async def test_a_keyset_cursor_passes_however_slowly_the_provider_embeds(delay: float) -> None:
    result = await run_one(
        CONCURRENT_INSERTS, lambda: InMemoryProvider(embedder=DelayedEmbedder(delay))
    )
    assert result.outcome is Outcome.PASSED, result.message
    assert result.details["concurrent_inserts"] >= 3
