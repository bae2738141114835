"""Deliberately broken providers that only adversarial data or a controlled embedder expose.

Like ``openmem_conformance.defects``: the in-memory reference with one behaviour bent, the
way an adapter author could plausibly bend it, so the checks of search modes and of data at
boundaries are proven able to fail. None of these is registered as a provider.
"""

from __future__ import annotations

import builtins

from openmem.cursors import decode_cursor, encode_cursor
from openmem.inmemory import InMemoryProvider
from openmem.models import ListQuery, MemoryPage, SearchHit, SearchQuery
from openmem.provider import Caller

__all__ = ["CursorIgnoresIdOnTies", "HybridIsKeywordOnly"]


class CursorIgnoresIdOnTies(InMemoryProvider):
    """list()'s keyset cursor compares the full timestamp but not the id: every memory that
    shares the instant of a page's last one (a batch, one transaction) is skipped."""

    async def list(self, caller: Caller, query: ListQuery) -> MemoryPage:
        if query.cursor is None:
            return await super().list(caller, query)
        cut, _ = decode_cursor(query.cursor)
        everything = await super().list(
            caller, query.model_copy(update={"cursor": None, "limit": 500})
        )
        rows = [r for r in everything.items if r.created_at < cut]
        page = rows[: query.limit]
        more = len(rows) > query.limit
        return MemoryPage(
            items=page,
            next_cursor=encode_cursor(page[-1].created_at, page[-1].id) if more else None,
        )


class HybridIsKeywordOnly(InMemoryProvider):
    """Declares hybrid_search, but mode="hybrid" runs the keyword search alone."""

    async def search(self, caller: Caller, query: SearchQuery) -> builtins.list[SearchHit]:
        if query.mode == "hybrid":
            query = query.model_copy(update={"mode": "keyword"})
        return await super().search(caller, query)
