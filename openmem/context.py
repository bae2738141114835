"""Token-budgeted context packing: ranked hits in, prompt-ready text with citations out.

Each memory becomes one line, ``[mem_...] content``, in rank order. A line that does not fit
the remaining budget is truncated (with ``…``) when a useful part of it fits, else skipped;
the whole text is measured with the token counter after every step, so ``token_count`` never
exceeds ``token_budget`` whatever the counter does.

The default counter, ``estimate_tokens``, is conservative: it over-counts against the common
BPE tokenizers (about 3 ASCII characters or 1 other character per token), so a block packed
with it fits the budget of a real model too. Pass ``token_counter=`` for an exact one, e.g.
``lambda s: len(enc.encode(s))`` with tiktoken.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from openmem.models import Citation, ContextBlock, SearchHit

__all__ = ["TokenCounter", "estimate_tokens", "pack_context"]

TokenCounter = Callable[[str], int]

_ELLIPSIS = "…"
_MIN_USEFUL_TOKENS = 8


def estimate_tokens(text: str) -> int:
    """A conservative token count: ceil(ASCII chars / 3) + 1 per other character."""
    if not text:
        return 0
    ascii_chars = sum(1 for c in text if ord(c) < 128)
    return math.ceil(ascii_chars / 3) + (len(text) - ascii_chars)


def pack_context(
    hits: Sequence[SearchHit],
    token_budget: int,
    *,
    token_counter: TokenCounter = estimate_tokens,
) -> ContextBlock:
    """Pack ``hits`` (best first) into a ``ContextBlock`` of at most ``token_budget`` tokens."""
    lines: list[str] = []
    citations: list[Citation] = []
    seen: set[str] = set()
    for hit in hits:
        memory = hit.memory
        if memory.id in seen:
            continue
        line = _fit(lines, f"[{memory.id}] ", memory.content, token_budget, token_counter)
        if line is None:
            continue
        lines.append(line)
        seen.add(memory.id)
        citations.append(Citation(memory_id=memory.id, score=hit.score))
    text = "\n".join(lines)
    count = token_counter(text)
    if count > token_budget:  # a counter that is not monotonic; never hand back an overflow
        return ContextBlock(text="", citations=[], token_count=0)
    return ContextBlock(text=text, citations=citations, token_count=count)


def _fit(
    lines: list[str], prefix: str, content: str, budget: int, count: TokenCounter
) -> str | None:
    def total(candidate: str) -> int:
        return count("\n".join([*lines, candidate]))

    content = " ".join(content.split())  # one memory, one line
    whole = prefix + content
    if total(whole) <= budget:
        return whole
    used = count("\n".join(lines)) if lines else 0
    if budget - used < _MIN_USEFUL_TOKENS + count(prefix):
        return None
    # The longest prefix of the content that still fits, by bisection on characters.
    low, high = 0, len(content)
    while low < high:
        mid = (low + high + 1) // 2
        if total(prefix + content[:mid].rstrip() + _ELLIPSIS) <= budget:
            low = mid
        else:
            high = mid - 1
    if low == 0:
        return None
    return prefix + content[:low].rstrip() + _ELLIPSIS
