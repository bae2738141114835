"""The committed schemas (spec/schemas) and the validators refuse the same values.

schemathesis' ``positive_data_acceptance`` holds the server to "schema-valid data is
accepted"; these tests hold the schemas to "what the schema accepts the models accept, and
what it refuses they refuse", on generated values, for the rules a schema states: the
whitespace spelled out in the patterns, and the JSON values of ``metadata``, ``source`` and
``x-`` extensions (keys, NUL, number range). The one rule JSON Schema has no keyword for, the
nesting depth, is checked to be the only difference.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from openmem.errors import InvalidRequestError
from openmem.fields import MAX_JSON_DEPTH, check_json
from openmem.models import MemoryInput, MemoryPatch, SearchQuery
from openmem.server.spec import SPEC_DIR


def _validator(name: str) -> Draft202012Validator:
    schema = json.loads((SPEC_DIR / "schemas" / f"{name}.json").read_text(encoding="utf-8"))
    return Draft202012Validator(schema)


MEMORY_INPUT = _validator("MemoryInput")
MEMORY_PATCH = _validator("MemoryPatch")
SEARCH_QUERY = _validator("SearchQuery")

# Text where the rules bite: NUL, whitespace only, empty, ordinary.
_TEXT = st.sampled_from(["", " ", "\x00", "a\x00b", "\u3000", "é", "a"]) | st.text(max_size=4)
_NUMBERS = st.sampled_from([sys.float_info.max, -sys.float_info.max, 10**308 * 2, -(10**309)])
_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _NUMBERS | _TEXT
JSON_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=12,
)


def _model_accepts(model: type[Any], body: dict[str, Any]) -> bool:
    try:
        model.model_validate(body)
    except (ValidationError, InvalidRequestError):
        return False
    return True


def _agree(validator: Draft202012Validator, model: type[Any], body: dict[str, Any]) -> None:
    by_schema = validator.is_valid(body)
    by_model = _model_accepts(model, body)
    assert by_schema == by_model, f"schema says {by_schema}, model says {by_model}: {body!r}"


@settings(max_examples=150, deadline=None)
@given(value=JSON_VALUES)
@example(value={"": 1})
@example(value={"a\x00": 1})
@example(value=[10**400])
@example(value={"k": ["\x00"]})
def test_metadata_schema_and_validator_agree(value: Any) -> None:
    _agree(MEMORY_INPUT, MemoryInput, {"content": "c", "user_id": "u", "metadata": {"k": value}})
    _agree(MEMORY_PATCH, MemoryPatch, {"metadata": {"k": value}})


@settings(max_examples=150, deadline=None)
@given(value=JSON_VALUES, name=_TEXT)
@example(value=1, name="\x00")
@example(value=1, name="")
def test_extension_and_source_schemas_and_validators_agree(value: Any, name: str) -> None:
    _agree(MEMORY_INPUT, MemoryInput, {"content": "c", "user_id": "u", f"x-{name}": value})
    _agree(MEMORY_PATCH, MemoryPatch, {f"x-{name}": value})
    _agree(MEMORY_INPUT, MemoryInput, {"content": "c", "user_id": "u", "source": {name: value}})


@settings(max_examples=100, deadline=None)
@given(value=_SCALARS, key=_TEXT)
def test_search_filter_schema_and_validator_agree(value: Any, key: str) -> None:
    _agree(SEARCH_QUERY, SearchQuery, {"query": "q", "filters": {key: value}})


def _nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = [value]
    return value


def test_nesting_depth_is_the_one_json_rule_the_schema_does_not_state() -> None:
    # JSON Schema has no depth keyword (unrolling it doubles the schema per level for tools
    # that inline references); spec/omp.md 2.8 states the limit and the schemathesis test
    # lets exactly this refusal through.
    deepest = {"content": "c", "user_id": "u", "x-deep": _nested(MAX_JSON_DEPTH)}
    too_deep = {"content": "c", "user_id": "u", "x-deep": _nested(MAX_JSON_DEPTH + 1)}
    assert MEMORY_INPUT.is_valid(deepest)
    assert _model_accepts(MemoryInput, deepest)
    assert MEMORY_INPUT.is_valid(too_deep)
    assert not _model_accepts(MemoryInput, too_deep)


@pytest.mark.parametrize(
    "value", [10**309, -(10**309), float("inf"), float("nan")], ids=["big", "-big", "inf", "nan"]
)
def test_numbers_beyond_a_double_are_refused(value: Any) -> None:
    with pytest.raises(ValueError, match=r"double|NaN"):
        check_json({"n": value}, "metadata")


# Every code point up to U+3000 covers every character Python's str.isspace() knows but none
# of the CJK and beyond, where no whitespace lives.
_CODE_POINTS = [chr(c) for c in range(0x3001) if not 0xD800 <= c <= 0xDFFF]


@pytest.mark.parametrize(
    ("field", "wrap"),
    [("content", "{}"), ("content", "a{}"), ("user_id", "{}"), ("scope", "{}"), ("scope", "a/{}")],
)
def test_pattern_and_validator_agree_on_every_code_point(field: str, wrap: str) -> None:
    # The field's own schema (no references), so 12k code points take well under a second.
    schema = MEMORY_INPUT.schema["properties"][field]
    field_schema = Draft202012Validator(schema.get("anyOf", [schema])[0])
    disagreements = []
    for char in _CODE_POINTS:
        body = {"content": "c", "user_id": "u", field: wrap.format(char)}
        if field_schema.is_valid(body[field]) != _model_accepts(MemoryInput, body):
            disagreements.append(f"U+{ord(char):04X}")
    assert not disagreements, f"{field}={wrap!r}: schema and model differ on {disagreements}"
