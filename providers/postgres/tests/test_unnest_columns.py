"""Columns of multi-row statements: NULL when no row sets one, JSON as text."""

from __future__ import annotations

import json
from typing import Any

import pytest
from openmem_postgres.unnest_columns import column, json_column

from openmem.errors import InvalidRequestError


def test_a_column_no_row_sets_is_null_and_any_value_keeps_every_row() -> None:
    assert column([None, None]) is None
    assert column(iter([None, None, None])) is None
    assert column([None, "a", None]) == [None, "a", None]
    assert column([0, None]) == [0, None]  # falsy values are values
    assert column(["", None]) == ["", None]
    assert column([False]) == [False]


def test_json_goes_as_text_and_empty_values_as_null_only_when_asked() -> None:
    values = [[], {}, None, ["a"], {"k": [1, None]}]
    assert json_column(values, empty_is_null=True) == [
        None,
        None,
        None,
        '["a"]',
        json.dumps({"k": [1, None]}),
    ]
    assert json_column(values, empty_is_null=False) == [
        "[]",
        "{}",
        None,
        '["a"]',
        json.dumps({"k": [1, None]}),
    ]
    assert json_column([[], {}, None], empty_is_null=True) is None
    assert json_column([None], empty_is_null=False) is None
    assert json_column([{}], empty_is_null=False) == ["{}"]
    # Only empty containers are empty: a zero, an empty string or false is a JSON value.
    assert json_column([0, "", False], empty_is_null=True) == ["0", '""', "false"]


def test_a_value_json_cannot_hold_is_an_invalid_request() -> None:
    with pytest.raises(InvalidRequestError, match="a value is not valid"):
        json_column([{"k": object()}], empty_is_null=True)
    circular: list[Any] = []
    circular.append(circular)
    with pytest.raises(InvalidRequestError):
        json_column([circular], empty_is_null=False)
