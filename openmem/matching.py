"""Queries answered in Python: filter matching and keyset cursors over ``MemoryRecord``s.

Providers that cannot push a filter into their backend (the in-memory provider, and
translation adapters over SDKs whose stores lack our fields) filter and paginate here, so
they agree with each other and with ``openmem.scopes`` to the letter.

Cursors come from the one codec in ``openmem.cursors``. Pages run newest first; the next
page holds what sorts strictly before the cursor.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from openmem.cursors import decode_cursor, encode_cursor
from openmem.models import ListQuery, MemoryPage, MemoryRecord, SearchQuery
from openmem.scopes import scope_matches

__all__ = [
    "has_tags",
    "json_equal",
    "matches_listing",
    "matches_search",
    "page_of",
]


def has_tags(record: MemoryRecord, tags: Sequence[str]) -> bool:
    """Whether ``record`` carries every one of ``tags``."""
    return set(tags).issubset(record.tags)


def matches_listing(record: MemoryRecord, query: ListQuery) -> bool:
    """Whether ``record`` belongs in a ``list`` answer (scope, tags, time window)."""
    return (
        scope_matches(query.scope, record.scope)
        and has_tags(record, query.tags)
        and (query.since is None or record.created_at >= query.since)
        and (query.until is None or record.created_at < query.until)
    )


def matches_search(record: MemoryRecord, query: SearchQuery) -> bool:
    """Whether ``record`` passes a search's scope, tag and metadata filters."""
    return (
        scope_matches(query.scope, record.scope)
        and has_tags(record, query.tags)
        and all(
            k in record.metadata and json_equal(record.metadata[k], v)
            for k, v in query.filters.items()
        )
    )


def json_equal(stored: Any, wanted: Any) -> bool:
    """Equality of two JSON values as PostgreSQL's ``jsonb`` sees it, not as Python's ``==``.

    ``True == 1`` in Python, but a JSON boolean is never a number; ``1`` and ``1.0`` are the
    same JSON number; ``"1"`` is a string, never the number 1.
    """
    if isinstance(stored, bool) or isinstance(wanted, bool):
        return isinstance(stored, bool) and isinstance(wanted, bool) and stored is wanted
    return (type(stored) is type(wanted) and stored == wanted) or (
        isinstance(stored, int | float) and isinstance(wanted, int | float) and stored == wanted
    )


def page_of(records: Iterable[MemoryRecord], query: ListQuery) -> MemoryPage:
    """The page of ``records`` that ``query`` asks for: filtered, newest first, keyset-cut.

    ``next_cursor`` is set only when more items follow, so there is never an empty last page.
    """
    after = decode_cursor(query.cursor) if query.cursor else None
    rows = sorted(
        (
            r
            for r in records
            if matches_listing(r, query) and (after is None or (r.created_at, r.id) < after)
        ),
        key=lambda r: (r.created_at, r.id),
        reverse=True,
    )
    page = rows[: query.limit]
    if len(rows) <= query.limit:
        return MemoryPage(items=page, next_cursor=None)
    return MemoryPage(items=page, next_cursor=encode_cursor(page[-1].created_at, page[-1].id))
