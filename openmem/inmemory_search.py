"""How the in-process reference provider ranks a search: by meaning, by words, or both.

``semantic`` scores by the dot product of normalised embeddings (cosine), ``keyword`` by the
share of the query's words a memory contains, ``hybrid`` fuses the two rankings by reciprocal
rank. Plain Python over the candidates the provider hands in; obvious rather than fast.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from openmem.matching import matches_search
from openmem.models import MemoryRecord, SearchHit, SearchQuery

__all__ = ["StoredMemory", "rank", "terms_of"]

_WORD = re.compile(r"\w+", re.UNICODE)
_RRF_K = 60


@dataclass
class StoredMemory:
    """A memory as the in-memory provider keeps it: the record, its vector and its words."""

    record: MemoryRecord
    vector: list[float]
    terms: frozenset[str]


def terms_of(text: str) -> frozenset[str]:
    """The lower-cased words of ``text``: what keyword search matches."""
    return frozenset(w.lower() for w in _WORD.findall(text))


def rank(
    stored: Sequence[StoredMemory], vector: Sequence[float], query: SearchQuery, now: datetime
) -> list[SearchHit]:
    """The hits of ``query`` among ``stored`` (one user's memories), best first.

    ``vector`` is the query's embedding; ``now`` decides which memories are active.
    """
    candidates = [s for s in stored if matches_search(s.record, query)]
    if not query.include_inactive:
        # Every stored memory of the user retires what it supersedes (spec/omp.md 2.1), not
        # only those the filter keeps: a superseding memory in another scope still counts.
        superseded = {i for s in stored for i in s.record.supersedes}
        candidates = [
            s for s in candidates if s.record.is_active(now) and s.record.id not in superseded
        ]
    mode = query.mode or "hybrid"
    semantic = {s.record.id: max(0.0, _dot(vector, s.vector)) for s in candidates}
    words = terms_of(query.query)
    keyword = {s.record.id: len(words & s.terms) / len(words) if words else 0.0 for s in candidates}
    if mode == "semantic":
        scores = semantic
    elif mode == "keyword":
        scores = {i: v for i, v in keyword.items() if v > 0.0}
    else:
        scores = _fuse(semantic, {i: v for i, v in keyword.items() if v > 0.0})
    by_id = {s.record.id: s.record for s in candidates}
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
    hits = [
        SearchHit(memory=by_id[i], score=min(1.0, max(0.0, score)))
        for i, score in ranked
        if query.min_score is None or score >= query.min_score
    ]
    return hits[: query.limit]


def _dot(a: Sequence[float], b: Sequence[float]) -> float:
    return math.fsum(x * y for x, y in zip(a, b, strict=True))


def _fuse(*rankings: dict[str, float]) -> dict[str, float]:
    """Reciprocal-rank fusion, scaled so a first place in every ranking scores 1.0."""
    fused: dict[str, float] = {}
    for ranking in rankings:
        ordered = sorted(ranking.items(), key=lambda kv: (-kv[1], kv[0]))
        for place, (memory_id, _) in enumerate(ordered, start=1):
            fused[memory_id] = fused.get(memory_id, 0.0) + 1.0 / (_RRF_K + place)
    best = len(rankings) / (_RRF_K + 1)
    return {i: v / best for i, v in fused.items()}
