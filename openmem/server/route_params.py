"""The query, header and path parameters the OMP routes share, and how they become a user.

Every limit here is the spec's (``spec/openapi.yaml``): user ids and memory ids of at most
256 characters, a bounded number of tags in a query string, a scope filter pattern. The user
of a call comes from the ``user_id`` parameter or the ``X-User-Id`` header (``one_user``), or
for a by-id verb from the one user the caller's key is bound to (``by_id_user``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Header, Path, Query
from pydantic import Field, ValidationError

from openmem.errors import InvalidRequestError
from openmem.fields import NOT_BLANK_PATTERN, SCOPE_FILTER_PATTERN
from openmem.models import MAX_TAG_LENGTH, invalid_request_from, validate_identifier
from openmem.server.state import Call

__all__ = [
    "GET_QUERY_MAX_LENGTH",
    "MAX_QUERY_TAGS",
    "IdempotencyKey",
    "MemoryId",
    "ScopeQuery",
    "TagQuery",
    "TagsQuery",
    "UserHeader",
    "UserIdQuery",
    "UserQuery",
    "build_model",
    "by_id_user",
    "merge_tags",
    "one_user",
]

MAX_QUERY_TAGS = 16
"""Tags per request in the query forms (list, search), so that URLs stay parseable."""

UserQuery = Annotated[
    str | None,
    Query(min_length=1, max_length=256, description="The user; or send the X-User-Id header."),
]
UserIdQuery = Annotated[
    str, Query(min_length=1, max_length=256, json_schema_extra={"pattern": NOT_BLANK_PATTERN})
]
UserHeader = Annotated[
    str | None,
    Header(alias="X-User-Id", min_length=1, max_length=256, description="The user."),
]
MemoryId = Annotated[str, Path(min_length=1, max_length=256, description="The memory id.")]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=256,
        description="A repeated add with the same key returns the first record "
        "(features.idempotency).",
    ),
]
ScopeQuery = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=1_100,
        description="A scope filter: prefix, '*' segments.",
        json_schema_extra={"pattern": SCOPE_FILTER_PATTERN},
    ),
]
_Tag = Annotated[
    str,
    Field(
        min_length=1, max_length=MAX_TAG_LENGTH, json_schema_extra={"pattern": NOT_BLANK_PATTERN}
    ),
]
TagQuery = Annotated[
    list[_Tag] | None,
    Query(max_length=MAX_QUERY_TAGS, description="Only memories with this tag (OMP 0.1)."),
]
TagsQuery = Annotated[
    list[_Tag] | None,
    Query(
        max_length=MAX_QUERY_TAGS,
        description="Only memories with all of these tags (repeatable).",
    ),
]
GET_QUERY_MAX_LENGTH = 2_000
"""Characters of ``q`` in the query form: URLs stay well under what servers and proxies
accept (64 KiB after percent-encoding). Longer queries use ``POST /memories/search``."""


def build_model(model: type[Any], **fields: Any) -> Any:
    """``model`` from the parameters that were given; a bad one is an ``InvalidRequestError``."""
    try:
        return model.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        raise invalid_request_from(exc) from None


def one_user(*candidates: str | None) -> str:
    """The one user named by the parameter and/or the header; they must agree."""
    given = {c for c in candidates if c is not None}
    if not given:
        raise InvalidRequestError(
            "user_id is required (X-User-Id header or user_id parameter)", field="user_id"
        )
    if len(given) > 1:
        raise InvalidRequestError("user_id and X-User-Id disagree", field="user_id")
    return validate_identifier(given.pop(), "user_id")


def by_id_user(call: Call, *candidates: str | None) -> str:
    """The user of a by-id verb: as given, else the one user the caller's key is bound to."""
    if all(c is None for c in candidates) and call.principal.sole_user is not None:
        return call.principal.sole_user
    return one_user(*candidates)


def merge_tags(tag: list[str] | None, tags: list[str] | None) -> list[str] | None:
    """OMP 0.1's ``tag`` and openmem's ``tags`` query parameters as one list (None if empty)."""
    merged = [*(tag or ()), *(tags or ())]
    return merged or None


# -- add -------------------------------------------------------------------------------
