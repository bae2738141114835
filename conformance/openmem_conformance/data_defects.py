"""Deliberately broken providers that only adversarial data or a controlled embedder expose.

Like ``openmem_conformance.defects``: the in-memory reference with one behaviour bent, the
way an adapter author could plausibly bend it, so the checks of search modes and of data at
boundaries are proven able to fail. None of these is registered as a provider.
"""

from __future__ import annotations

import builtins
from typing import Any

from openmem.cursors import decode_cursor, encode_cursor
from openmem.inmemory import InMemoryProvider
from openmem.matching import json_equal
from openmem.models import ListQuery, MemoryPage, SearchHit, SearchQuery
from openmem.provider import Caller

__all__ = [
    "CursorIgnoresIdOnTies",
    "FilterKeysIgnoreCase",
    "FiltersCompareAsFloats",
    "FiltersMatchSubstrings",
    "HybridIsKeywordOnly",
]


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


class _FiltersInPython(InMemoryProvider):
    """search(filters=...) applied after the search, with the comparison of ``matches``."""

    def matches(self, metadata: dict[str, Any], key: str, wanted: Any) -> bool:
        raise NotImplementedError

    async def search(self, caller: Caller, query: SearchQuery) -> builtins.list[SearchHit]:
        if not query.filters:
            return await super().search(caller, query)
        hits = await super().search(caller, query.model_copy(update={"filters": {}, "limit": 100}))
        return [
            h
            for h in hits
            if all(self.matches(h.memory.metadata, k, v) for k, v in query.filters.items())
        ][: query.limit]


class FiltersCompareAsFloats(_FiltersInPython):
    """Numbers in filters go through a double (a JavaScript or float8 backend): 2**53 + 1
    is 2**53, so a large id or counter matches its neighbour."""

    def matches(self, metadata: dict[str, Any], key: str, wanted: Any) -> bool:
        stored = metadata.get(key)
        numbers = (int, float)
        if isinstance(stored, bool) or isinstance(wanted, bool):
            return stored is wanted
        if isinstance(stored, numbers) and isinstance(wanted, numbers):
            return float(stored) == float(wanted)
        return type(stored) is type(wanted) and stored == wanted


class FilterKeysIgnoreCase(_FiltersInPython):
    """Metadata keys are case-folded on the way in (a backend that lower-cases its field
    names): a filter on "Ключ" finds the memories of "ключ"."""

    def matches(self, metadata: dict[str, Any], key: str, wanted: Any) -> bool:
        folded = {k.casefold(): v for k, v in metadata.items()}
        return key.casefold() in folded and json_equal(folded[key.casefold()], wanted)


class FiltersMatchSubstrings(_FiltersInPython):
    """String filters match any stored string containing them (``LIKE '%' || $1 || '%'``)."""

    def matches(self, metadata: dict[str, Any], key: str, wanted: Any) -> bool:
        stored = metadata.get(key)
        if isinstance(stored, str) and isinstance(wanted, str):
            return wanted in stored
        return key in metadata and json_equal(stored, wanted)
