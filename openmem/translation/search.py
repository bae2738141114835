"""Search hits of a translation adapter: the SDK ranks, openmem filters and scores.

SDKs rank by their own similarity but know nothing of openmem's scopes, tags, validity or
supersession, so their rows are filtered here, in Python, against the same rules as every
other provider (``openmem.matching``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from openmem.matching import matches_search
from openmem.models import MemoryRecord, SearchHit, SearchQuery
from openmem.translation.records import superseded_marker

__all__ = ["filter_hits"]


def filter_hits(
    candidates: Iterable[tuple[dict[str, Any], MemoryRecord]], query: SearchQuery
) -> list[SearchHit]:
    """The hits of ``(raw SDK row, record)`` pairs that ``query`` keeps, best first.

    Scores are clamped to [0, 1]; ties break by id so pages are stable.
    """
    now = datetime.now(UTC)
    kept = [(r, rec) for r, rec in candidates if matches_search(rec, query)]
    if not query.include_inactive:
        superseded = {i for _, rec in kept for i in rec.supersedes}
        kept = [
            (r, rec)
            for r, rec in kept
            if rec.is_active(now) and rec.id not in superseded and not superseded_marker(r)
        ]
    hits = []
    for raw, record in kept:
        score = min(1.0, max(0.0, float(raw.get("score") or 0.0)))
        if query.min_score is None or score >= query.min_score:
            hits.append(SearchHit(memory=record, score=score))
    hits.sort(key=lambda h: (-h.score, h.memory.id))
    return hits
