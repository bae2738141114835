"""Context packing: never over budget, citations match the text."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from openmem.context import estimate_tokens, pack_context
from openmem.models import MemoryRecord, SearchHit

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def hit(i: int, content: str, score: float = 0.5) -> SearchHit:
    record = MemoryRecord(id=f"mem_{i:04d}", content=content, user_id="u", created_at=NOW)
    return SearchHit(memory=record, score=score)


texts = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    min_size=1,
    max_size=400,
).filter(lambda s: s.strip())


@settings(max_examples=300, deadline=None)
@given(st.lists(texts, max_size=25), st.integers(min_value=0, max_value=2000))
def test_token_count_never_exceeds_the_budget(contents: list[str], budget: int) -> None:
    block = pack_context([hit(i, c) for i, c in enumerate(contents)], budget)
    assert block.token_count <= budget
    assert block.token_count == estimate_tokens(block.text)


@settings(max_examples=100, deadline=None)
@given(st.lists(texts, min_size=1, max_size=10), st.integers(min_value=0, max_value=500))
def test_every_citation_appears_inline_in_the_text(contents: list[str], budget: int) -> None:
    block = pack_context([hit(i, c) for i, c in enumerate(contents)], budget)
    for citation in block.citations:
        assert f"[{citation.memory_id}]" in block.text
    assert len(block.text.splitlines()) == len(block.citations)


def test_a_zero_budget_gives_an_empty_block() -> None:
    block = pack_context([hit(1, "anything at all")], 0)
    assert (block.text, block.citations, block.token_count) == ("", [], 0)


def test_a_long_first_item_is_truncated_not_overflowing() -> None:
    block = pack_context([hit(1, "word " * 1000)], 50)
    assert 0 < block.token_count <= 50
    assert block.text.endswith("…")
    assert [c.memory_id for c in block.citations] == ["mem_0001"]


def test_items_keep_rank_order_and_duplicates_are_dropped() -> None:
    hits = [hit(2, "second", 0.9), hit(1, "first", 0.8), hit(2, "second", 0.9)]
    block = pack_context(hits, 500)
    assert [c.memory_id for c in block.citations] == ["mem_0002", "mem_0001"]


def test_a_custom_counter_is_respected() -> None:
    words = lambda s: len(s.split())  # noqa: E731
    block = pack_context([hit(i, "one two three") for i in range(10)], 12, token_counter=words)
    assert words(block.text) <= 12
    assert block.token_count == words(block.text)


def test_the_default_counter_overestimates_typical_english() -> None:
    # about 4 characters per token for English with BPE tokenizers; we count 3
    text = "The quick brown fox jumps over the lazy dog near the river bank."
    assert estimate_tokens(text) >= len(text) / 4
