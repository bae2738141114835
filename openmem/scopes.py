"""The scope grammar, and the one matcher every provider agrees with.

A scope is a path of segments joined by ``/``: ``coding/python/style``. A segment is 1-64
characters, none of them ``/``, ``*``, whitespace or control characters; a scope has at most
16 segments.

A scope *filter* is a pattern of the same shape in which a segment may be ``*``. It matches a
scope when every pattern segment matches the scope segment at the same depth (``*`` matches
any one segment) and the scope has at least as many segments as the pattern. So:

- ``coding`` matches ``coding`` and everything below it (``coding/python``), never
  ``codingstyle``;
- ``coding/*`` matches ``coding/python`` and ``coding/python/style``, not ``coding`` itself;
- ``*/style`` matches ``coding/style`` and ``writing/style/short``.

A memory without a scope matches no filter; a query without a filter matches every memory.
Providers that filter in their own query language translate with ``scope_regex`` (a POSIX
regular expression that means the same in Python and PostgreSQL) and are tested for parity
against ``scope_matches``.
"""

from __future__ import annotations

import re

__all__ = [
    "MAX_SCOPE_DEPTH",
    "MAX_SEGMENT_LENGTH",
    "scope_matches",
    "scope_regex",
    "validate_scope",
    "validate_scope_filter",
]

MAX_SEGMENT_LENGTH = 64
MAX_SCOPE_DEPTH = 16
_SEGMENT = re.compile(r"[^/*\s\x00-\x1f\x7f]{1," + str(MAX_SEGMENT_LENGTH) + "}")


def _segments(value: str, *, wildcard: bool) -> list[str]:
    if not isinstance(value, str) or not value:
        raise ValueError("scope must be a non-empty string")
    parts = value.split("/")
    if len(parts) > MAX_SCOPE_DEPTH:
        raise ValueError(f"scope has more than {MAX_SCOPE_DEPTH} segments")
    for part in parts:
        if wildcard and part == "*":
            continue
        if not _SEGMENT.fullmatch(part):
            raise ValueError(
                f"invalid scope {value!r}: segments are 1-{MAX_SEGMENT_LENGTH} characters "
                "without '/', '*', whitespace or control characters"
                + (", or '*'" if wildcard else "")
            )
    return parts


def validate_scope(scope: str) -> str:
    """Return ``scope`` if it is a valid stored scope (no ``*``), else raise ``ValueError``."""
    _segments(scope, wildcard=False)
    return scope


def validate_scope_filter(pattern: str) -> str:
    """Return ``pattern`` if it is a valid scope filter (``*`` allowed), else ``ValueError``."""
    _segments(pattern, wildcard=True)
    return pattern


def scope_matches(pattern: str | None, scope: str | None) -> bool:
    """Whether a memory in ``scope`` matches the filter ``pattern`` (None matches all)."""
    if pattern is None:
        return True
    if scope is None:
        return False
    want = pattern.split("/")
    have = scope.split("/")
    if len(have) < len(want):
        return False
    return all(w == "*" or w == h for w, h in zip(want, have, strict=False))


def scope_regex(pattern: str) -> str:
    """A POSIX regular expression equivalent to ``scope_matches(pattern, ·)``.

    Valid in Python's ``re`` and PostgreSQL's ``~`` operator alike.
    """
    parts = _segments(pattern, wildcard=True)
    body = "/".join("[^/]+" if p == "*" else _escape(p) for p in parts)
    return f"^{body}(/.*)?$"


def _escape(segment: str) -> str:
    # Escape every regex metacharacter explicitly: re.escape's output is not POSIX-portable.
    return "".join(f"\\{c}" if c in r".^$+?()[]{}|\-" else c for c in segment)
