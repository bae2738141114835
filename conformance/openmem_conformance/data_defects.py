"""Deliberately broken providers that only adversarial data or a controlled embedder expose.

Like ``openmem_conformance.defects``: the in-memory reference with one behaviour bent, the
way an adapter author could plausibly bend it, so the checks of search modes and of data at
boundaries are proven able to fail. None of these is registered as a provider.
"""

from __future__ import annotations

import builtins

from openmem.inmemory import InMemoryProvider
from openmem.models import SearchHit, SearchQuery
from openmem.provider import Caller

__all__ = ["HybridIsKeywordOnly"]


class HybridIsKeywordOnly(InMemoryProvider):
    """Declares hybrid_search, but mode="hybrid" runs the keyword search alone."""

    async def search(self, caller: Caller, query: SearchQuery) -> builtins.list[SearchHit]:
        if query.mode == "hybrid":
            query = query.model_copy(update={"mode": "keyword"})
        return await super().search(caller, query)
