"""The scope grammar: one matcher, and a regex translation that agrees with it."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openmem.scopes import scope_matches, scope_regex, validate_scope, validate_scope_filter

segment = st.sampled_from(["coding", "codingstyle", "py", "a.b", "x+y", "(p)", "ç", "c-d"])
scopes = st.lists(segment, min_size=1, max_size=4).map("/".join)
patterns = st.lists(st.one_of(segment, st.just("*")), min_size=1, max_size=4).map("/".join)


def test_a_filter_matches_itself_and_everything_below_it() -> None:
    assert scope_matches("coding", "coding")
    assert scope_matches("coding", "coding/python")
    assert scope_matches("coding", "coding/python/style")


def test_a_filter_never_matches_a_longer_sibling_name() -> None:
    assert not scope_matches("coding", "codingstyle")
    assert not scope_matches("coding/py", "coding/python")


def test_star_matches_exactly_one_segment() -> None:
    assert scope_matches("coding/*", "coding/python")
    assert scope_matches("coding/*", "coding/python/style")
    assert not scope_matches("coding/*", "coding")
    assert scope_matches("*/style", "writing/style/short")


def test_no_filter_matches_everything_and_a_filter_never_matches_no_scope() -> None:
    assert scope_matches(None, None)
    assert scope_matches(None, "a")
    assert not scope_matches("a", None)


@pytest.mark.parametrize("bad", ["", "/a", "a/", "a//b", "a b", "a/*", "a\x00", "x" * 65])
def test_invalid_stored_scopes_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="scope"):
        validate_scope(bad)


def test_wildcards_are_allowed_in_filters_only() -> None:
    assert validate_scope_filter("a/*") == "a/*"
    with pytest.raises(ValueError, match="scope"):
        validate_scope("a/*")


@given(patterns, scopes)
def test_regex_translation_agrees_with_the_matcher(pattern: str, scope: str) -> None:
    assert bool(re.search(scope_regex(pattern), scope)) == scope_matches(pattern, scope)


@given(scopes)
def test_every_scope_matches_each_of_its_prefixes(scope: str) -> None:
    parts = scope.split("/")
    for depth in range(1, len(parts) + 1):
        assert scope_matches("/".join(parts[:depth]), scope)
