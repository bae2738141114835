"""Field rules of the wire models: identifiers, tags, scopes, content, times, JSON metadata.

The annotated types here (``Identifier``, ``Tags``, ``Metadata``, ...) carry the validation
every model in ``openmem.models`` shares; the functions at the end apply the same rules to
bare values (``validate_identifier``) and turn pydantic's errors into ``InvalidRequestError``.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, TypeAlias, Union

from pydantic import AfterValidator, Field, GetJsonSchemaHandler, TypeAdapter, ValidationError
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema
from typing_extensions import TypeAliasType

from openmem.errors import InvalidRequestError
from openmem.scopes import (
    MAX_SCOPE_DEPTH,
    MAX_SEGMENT_LENGTH,
    validate_scope,
    validate_scope_filter,
)

__all__ = [
    "EXTENSION_NAME_PATTERN",
    "JSON_NUMBER_LIMIT",
    "JSON_VALUE_CORE_SCHEMA",
    "MAX_CURSOR_LENGTH",
    "MAX_ID_LENGTH",
    "MAX_JSON_DEPTH",
    "MAX_QUERY_LENGTH",
    "MAX_TAGS",
    "MAX_TAG_LENGTH",
    "Confidence",
    "Content",
    "Identifier",
    "JsonScalar",
    "JsonValue",
    "JsonValueSchema",
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
    "json_object_schema",
    "validate_identifier",
]

MAX_ID_LENGTH = 256
MAX_TAGS = 64
MAX_TAG_LENGTH = 128
MAX_QUERY_LENGTH = 8_000
MAX_CURSOR_LENGTH = 512
MAX_JSON_DEPTH = 16
"""How deep ``metadata``, ``source`` and extension values may nest (the value itself is 0)."""
JSON_NUMBER_LIMIT = sys.float_info.max
"""The largest magnitude a JSON number may have: every backend and client can hold a double."""


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
    """Raise ``ValueError`` unless ``value`` is plain JSON: no NUL, NaN, odd keys or types.

    The rules, also stated by the ``JsonValue`` schema (except the depth, which JSON Schema
    has no keyword for): strings and keys without NUL or lone surrogates, keys not empty,
    numbers finite and within a double's range, at most ``MAX_JSON_DEPTH`` levels of nesting.
    """
    if depth > MAX_JSON_DEPTH:
        raise ValueError(f"{where} nests too deeply")
    if isinstance(value, str):
        _no_nul(value)
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int | float):
        # int too: 1e400 parses as infinity but 10**400 spelled out as an int, and neither
        # fits the doubles most backends and clients store numbers in.
        if not (isinstance(value, int) or math.isfinite(value)):
            raise ValueError(f"{where} must not hold NaN or infinity")
        if abs(value) > JSON_NUMBER_LIMIT:
            raise ValueError(f"{where} holds a number beyond the range of a double")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str) or not key:
                raise ValueError(f"{where} keys must be non-empty strings")
            _no_nul(key)
            check_json(item, f"{where}.{key}", depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            check_json(item, where, depth + 1)
    else:
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


_JSON_KEYS = {"minLength": 1, "pattern": NO_NUL_PATTERN}


class _JsonKeys:
    """Adds the key rule of JSON objects to an object's schema: keys non-empty, no NUL."""

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core_schema)
        schema["propertyNames"] = dict(_JSON_KEYS)
        return schema


# The JSON value ``check_json`` accepts, as a type whose only job is its schema (one recursive
# ``JsonValue`` definition); the values themselves stay ``Any`` and are checked by
# ``check_json``, which keeps its messages and takes tuples from Python callers.
JsonScalar = Union[  # noqa: UP007 (a TypeAliasType needs the runtime Union form on 3.11)
    Annotated[str, _schema(pattern=NO_NUL_PATTERN)],
    Annotated[float, _schema(minimum=-JSON_NUMBER_LIMIT, maximum=JSON_NUMBER_LIMIT)],
    bool,
    None,
]
if TYPE_CHECKING:
    JsonValue: TypeAlias = JsonScalar | list["JsonValue"] | dict[str, "JsonValue"]
else:
    JsonValue = TypeAliasType(
        "JsonValue",
        Union[  # noqa: UP007
            JsonScalar,
            list["JsonValue"],
            Annotated[dict[str, "JsonValue"], _JsonKeys()],
        ],
    )
"""A JSON value as ``check_json`` accepts it (the depth limit aside), for schemas."""


JSON_VALUE_CORE_SCHEMA: CoreSchema = TypeAdapter(JsonValue).core_schema
"""``JsonValue``'s core schema: pass it to a ``GetJsonSchemaHandler`` for a reference to it."""
EXTENSION_NAME_PATTERN = r"^x-[^\x00]+$"
"""The names of ``x-<provider>`` extension fields (what ``additionalProperties`` leaves open)."""


class JsonValueSchema:
    """Gives an ``Any`` field the schema of ``JsonValue`` (or of ``of``), the check aside.

    ``object_of=True`` makes it the schema of a JSON object whose values are ``of``.

    >>> Annotated[Any, AfterValidator(check), JsonValueSchema()]  # any JSON value
    """

    def __init__(self, of: Any = JsonValue, *, object_of: bool = False) -> None:
        self._core = TypeAdapter(of).core_schema
        self._object_of = object_of

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(self._core)
        if not self._object_of:
            return schema
        return {"type": "object", "additionalProperties": schema, "propertyNames": dict(_JSON_KEYS)}


def json_object_schema(values: Any = JsonValue) -> JsonValueSchema:
    """The schema of a JSON object whose values are ``values`` (``JsonValue`` by default)."""
    return JsonValueSchema(values, object_of=True)


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
Metadata = Annotated[dict[str, Any], AfterValidator(_metadata), json_object_schema()]
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
