"""Rows into records and hits without validation (``rows.py``): every field set, and the
field-name set the instances share never changed through one of them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

import asyncpg
from openmem_postgres.rows import hit_from_row, record_from_row

from openmem.models import MemoryRecord, SearchHit

_NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _row(memory_id: str, score: float) -> asyncpg.Record:
    # A tuple reads like a Record by position and slice, which is all the decoders use.
    return cast(asyncpg.Record, (
        memory_id, "alice", None, None, "ui", ["pref"], None, {"k": 1}, {"x-app": {"a": 1}},
        None, None, None, [], "done", "prefers dark mode", "hashing-256", _NOW, None, None,
        score,
    ))  # fmt: skip


def test_a_hit_holds_every_field_as_a_validated_model_would() -> None:
    hit = hit_from_row(_row("mem_1", 0.5))
    validated = SearchHit.model_validate(hit.model_dump())
    assert hit == validated
    assert hit.model_fields_set == set(SearchHit.model_fields)
    assert hit.memory.model_fields_set == set(MemoryRecord.model_fields)
    assert hit.memory.model_dump(exclude_unset=True) == validated.memory.model_dump()


def test_copying_one_record_with_changes_leaves_the_others_alone() -> None:
    first, second = record_from_row(_row("mem_1", 0.5)), record_from_row(_row("mem_2", 0.4))
    changed = first.model_copy(update={"x-note": "copied", "content": "changed"})
    assert "x-note" in changed.model_fields_set
    assert "x-note" not in first.model_fields_set
    assert "x-note" not in second.model_fields_set
    assert second.model_dump(exclude_unset=True) == record_from_row(_row("mem_2", 0.4)).model_dump(
        exclude_unset=True
    )
    assert (first.content, second.content) == ("prefers dark mode", "prefers dark mode")
