"""Validation at the edge: each bad field is an InvalidRequestError naming the field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from openmem.errors import InvalidRequestError
from openmem.models import (
    MemoryInput,
    MemoryPatch,
    MemoryRecord,
    SearchQuery,
    invalid_request_from,
    new_memory_id,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def field_of(model: type[Any], **fields: Any) -> str | None:
    try:
        model.model_validate(fields)
    except ValidationError as exc:
        return invalid_request_from(exc).field
    except InvalidRequestError as exc:
        return exc.field
    raise AssertionError("no error")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"content": "", "user_id": "u"}, "content"),
        ({"content": "   ", "user_id": "u"}, "content"),
        ({"content": "a\x00b", "user_id": "u"}, "content"),
        ({"content": "x", "user_id": ""}, "user_id"),
        ({"content": "x", "user_id": "u\x00"}, "user_id"),
        ({"content": "x", "user_id": "u", "confidence": 1.5}, "confidence"),
        ({"content": "x", "user_id": "u", "confidence": -0.1}, "confidence"),
        ({"content": "x", "user_id": "u", "scope": "a//b"}, "scope"),
        ({"content": "x", "user_id": "u", "tags": [""]}, "tags.0"),
        ({"content": "x", "user_id": "u", "metadata": {"k": "v\x00"}}, "metadata"),
        (
            {"content": "x", "user_id": "u", "valid_from": NOW, "valid_to": NOW - timedelta(1)},
            "valid_to",
        ),
    ],
)
def test_bad_input_names_the_field(fields: dict[str, Any], field: str) -> None:
    assert field_of(MemoryInput, **fields) == field


def test_unknown_fields_are_refused_but_x_extensions_round_trip() -> None:
    with pytest.raises(ValidationError, match="x-<provider>"):
        MemoryInput.model_validate({"content": "x", "user_id": "u", "colour": "red"})
    item = MemoryInput.model_validate({"content": "x", "user_id": "u", "x-acme": {"k": 1}})
    assert item.extensions == {"x-acme": {"k": 1}}


def test_records_keep_unknown_fields_for_forward_compatibility() -> None:
    record = MemoryRecord.model_validate(
        {"id": "m", "content": "c", "user_id": "u", "created_at": NOW, "future": 1, "x-a": 2}
    )
    assert record.model_dump()["future"] == 1
    assert record.extensions == {"x-a": 2}


def test_naive_datetimes_are_taken_as_utc() -> None:
    item = MemoryInput(content="x", user_id="u", valid_from=datetime(2026, 1, 1))
    assert item.valid_from == NOW


def test_merge_patch_leaves_omitted_fields_and_clears_explicit_none() -> None:
    record = MemoryRecord(
        id="m",
        content="c",
        user_id="u",
        created_at=NOW,
        scope="a",
        tags=["t"],
        metadata={"keep": 1, "drop": 2},
    )
    patch = MemoryPatch.model_validate({"scope": None, "metadata": {"drop": None, "new": 3}})
    updated = patch.apply_to(record, now=NOW)
    assert updated.scope is None
    assert updated.tags == ["t"]
    assert updated.metadata == {"keep": 1, "new": 3}
    assert updated.updated_at == NOW


def test_patch_cannot_clear_content() -> None:
    with pytest.raises(ValidationError, match="content cannot be cleared"):
        MemoryPatch.model_validate({"content": None})


def test_patch_validates_the_merged_validity_window() -> None:
    record = MemoryRecord(id="m", content="c", user_id="u", created_at=NOW, valid_from=NOW)
    with pytest.raises(InvalidRequestError) as caught:
        MemoryPatch(valid_to=NOW - timedelta(days=1)).apply_to(record, now=NOW)
    assert caught.value.field == "valid_to"


def test_search_limit_is_bounded() -> None:
    assert field_of(SearchQuery, query="q", limit=0) == "limit"
    assert field_of(SearchQuery, query="q", limit=101) == "limit"


def test_memory_ids_are_prefixed_unique_and_time_ordered() -> None:
    ids = [new_memory_id() for _ in range(100)]
    assert all(i.startswith("mem_") for i in ids)
    assert len(set(ids)) == 100


@pytest.mark.parametrize(
    "fields",
    [
        {"content": "bad \ud800 text"},
        {"content": "ok", "tags": ["\udfff"]},
        {"content": "ok", "metadata": {"k": "\ud83d"}},
        {"content": "ok", "metadata": {"\ud83d": 1}},
        {"content": "ok", "valid_from": "0001-01-01T00:00:00+01:00"},
        {"content": "ok", "valid_to": "9999-12-31T23:59:59-01:00"},
    ],
    ids=["content", "tag", "metadata value", "metadata key", "year 1 +01", "year 9999 -01"],
)
def test_unencodable_text_and_calendar_edges_are_validation_errors(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        MemoryInput.model_validate({"user_id": "u1", **fields})
