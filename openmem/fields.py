"""Field rules of the wire models: identifiers, tags, scopes, content, times, JSON metadata.

The annotated types here (``Identifier``, ``Tags``, ``Metadata``, ...) carry the validation
every model in ``openmem.models`` shares; the functions at the end apply the same rules to
bare values (``validate_identifier``) and turn pydantic's errors into ``InvalidRequestError``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, Field, ValidationError

from openmem.errors import InvalidRequestError
from openmem.scopes import (
    MAX_SCOPE_DEPTH,
    MAX_SEGMENT_LENGTH,
    validate_scope,
    validate_scope_filter,
)

__all__ = [
    "MAX_CURSOR_LENGTH",
    "MAX_ID_LENGTH",
    "MAX_QUERY_LENGTH",
    "MAX_TAGS",
    "MAX_TAG_LENGTH",
    "Confidence",
    "Content",
    "Identifier",
    "Metadata",
    "QueryText",
    "Scope",
    "ScopeFilter",
    "Tag",
    "Tags",
    "Text",
    "UTCDateTime",
    "check_content_length",
    "check_json",
    "invalid_request_from",
    "validate_identifier",
]

MAX_ID_LENGTH = 256
MAX_TAGS = 64
MAX_TAG_LENGTH = 128
MAX_QUERY_LENGTH = 8_000
MAX_CURSOR_LENGTH = 512


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL bytes")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            # A lone surrogate: no backend can store it, and the driver fails mid-protocol.
            raise ValueError("must be valid Unicode text (no lone surrogates)") from None
    return value


def _identifier(value: str) -> str:
    _no_nul(value)
    if not value.strip():
        raise ValueError("must not be empty")
    if len(value) > MAX_ID_LENGTH:
        raise ValueError(f"must be at most {MAX_ID_LENGTH} characters")
    return value


def _tag(value: str) -> str:
    _no_nul(value)
    if not value.strip():
        raise ValueError("tags must not be empty strings")
    if len(value) > MAX_TAG_LENGTH:
        raise ValueError(f"tags must be at most {MAX_TAG_LENGTH} characters")
    return value


def _utc(value: datetime) -> datetime:
    # Naive datetimes are taken as UTC rather than refused: that is what every caller means.
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        # Year 1 or 9999 with an offset leaves the calendar in UTC: bad input, not a 500.
        raise ValueError("is outside the representable range in UTC") from None


def _content(value: str) -> str:
    _no_nul(value)
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def _scope(value: str) -> str:
    validate_scope(value)
    return value


def _scope_filter(value: str) -> str:
    validate_scope_filter(value)
    return value


def _metadata(value: dict[str, Any]) -> dict[str, Any]:
    check_json(value, "metadata")
    return value


def check_json(value: Any, where: str, depth: int = 0) -> None:
    """Raise ``ValueError`` unless ``value`` is plain JSON: no NUL, NaN, odd keys or types."""
    if depth > 16:
        raise ValueError(f"{where} nests too deeply")
    if isinstance(value, str):
        _no_nul(value)
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where} must not hold NaN or infinity")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str) or not key:
                raise ValueError(f"{where} keys must be non-empty strings")
            _no_nul(key)
            check_json(item, f"{where}.{key}", depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            check_json(item, where, depth + 1)
    elif value is not None and not isinstance(value, bool | int | float):
        raise ValueError(f"{where} must be JSON (got {type(value).__name__})")


# What the validators refuse, said in the JSON Schema too (patterns are informative: the
# validators above stay the rule, so error messages keep naming the field and the reason).
# Whitespace spelled out (what str.isspace() and Python's \s mean): schema tools differ on
# whether \s is ASCII or Unicode, and the validators use Python's.
_SPACE = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NOT_BLANK_PATTERN = rf"^[^\x00]*[^{_SPACE}\x00][^\x00]*$"
NO_NUL_PATTERN = r"^[^\x00]*$"
_SEGMENT_PATTERN = rf"[^/*{_SPACE}\x00-\x1f\x7f]{{1,{MAX_SEGMENT_LENGTH}}}"
SCOPE_PATTERN = rf"^{_SEGMENT_PATTERN}(/{_SEGMENT_PATTERN}){{0,{MAX_SCOPE_DEPTH - 1}}}$"
SCOPE_FILTER_PATTERN = (
    rf"^({_SEGMENT_PATTERN}|\*)(/({_SEGMENT_PATTERN}|\*)){{0,{MAX_SCOPE_DEPTH - 1}}}$"
)


def _schema(**extra: Any) -> Any:
    return Field(json_schema_extra=extra)


Identifier = Annotated[
    str,
    AfterValidator(_identifier),
    _schema(minLength=1, maxLength=MAX_ID_LENGTH, pattern=NOT_BLANK_PATTERN),
]
Content = Annotated[str, AfterValidator(_content), _schema(minLength=1, pattern=NOT_BLANK_PATTERN)]
Tag = Annotated[
    str,
    AfterValidator(_tag),
    _schema(minLength=1, maxLength=MAX_TAG_LENGTH, pattern=NOT_BLANK_PATTERN),
]
Scope = Annotated[str, AfterValidator(_scope), _schema(pattern=SCOPE_PATTERN)]
ScopeFilter = Annotated[str, AfterValidator(_scope_filter), _schema(pattern=SCOPE_FILTER_PATTERN)]
UTCDateTime = Annotated[datetime, AfterValidator(_utc)]
Confidence = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
Metadata = Annotated[dict[str, Any], AfterValidator(_metadata)]
Tags = Annotated[list[Tag], Field(max_length=MAX_TAGS)]
Text = Annotated[str, AfterValidator(_no_nul), _schema(pattern=NO_NUL_PATTERN)]
QueryText = Annotated[
    str,
    AfterValidator(_content),
    Field(max_length=MAX_QUERY_LENGTH),
    _schema(minLength=1, pattern=NOT_BLANK_PATTERN),
]


def validate_identifier(value: object, field: str) -> str:
    """Check a user id, memory id or similar: a non-empty string without NUL, <= 256 chars."""
    if not isinstance(value, str):
        raise InvalidRequestError(f"{field} must be a string", field=field)
    try:
        return _identifier(value)
    except ValueError as exc:
        raise InvalidRequestError(f"{field}: {exc}", field=field) from None


def check_content_length(content: str, limit: int, *, field: str = "content") -> None:
    """Raise ``InvalidRequestError`` when ``content`` is longer than ``limit`` characters."""
    if len(content) > limit:
        raise InvalidRequestError(
            f"{field} is {len(content)} characters; the limit is {limit}", field=field
        )


def invalid_request_from(exc: ValidationError) -> InvalidRequestError:
    """Turn a pydantic ``ValidationError`` into an ``InvalidRequestError`` naming the field."""
    first = exc.errors(include_url=False)[0]
    loc = [str(part) for part in first.get("loc", ()) if part != "__root__"]
    field = ".".join(loc) or None
    message = str(first.get("msg", "invalid value"))
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    where = f"{field}: " if field else ""
    return InvalidRequestError(f"{where}{message}", field=field)
