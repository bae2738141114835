"""The by-key routes (extension ``memories:by-key``, ``features.client_keys``).

A memory put with a client-chosen ``key`` (``POST /memories`` with ``key`` in the body) is
read and deleted by that key and its scope here. The key and scope travel as query
parameters, so keys holding ``/`` need no path encoding. Like the by-id routes, a memory
outside the API key's scopes is ``not_found`` (no existence leak).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from pydantic import ValidationError

from openmem import gate
from openmem.errors import InvalidRequestError, NotFoundError
from openmem.fields import NOT_BLANK_PATTERN, SCOPE_PATTERN
from openmem.models import MemoryKey, MemoryRecord, invalid_request_from, validate_identifier
from openmem.server.route_params import UserHeader, UserQuery
from openmem.server.state import Call, CallDep

__all__ = ["key_router"]

key_router = APIRouter()

KeyQuery = Annotated[
    str,
    Query(
        min_length=1,
        max_length=256,
        description="The client-chosen key.",
        json_schema_extra={"pattern": NOT_BLANK_PATTERN},
    ),
]
KeyScopeQuery = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=1_100,
        description="The scope the key was put in (exact; omitted: the unscoped space).",
        json_schema_extra={"pattern": SCOPE_PATTERN},
    ),
]


def _where(call: Call, key: str, scope: str | None) -> MemoryKey:
    try:
        where = MemoryKey.model_validate({"key": key, "scope": scope})
    except ValidationError as exc:
        raise invalid_request_from(exc) from None
    gate.require_feature(call.caps, "client_keys", "client-chosen keys")
    if not call.principal.allows_scope(where.scope):
        raise NotFoundError(f"no memory with key {where.key!r} in scope {where.scope!r}")
    return where


def _user(*candidates: str | None) -> str:
    given = {c for c in candidates if c is not None}
    if len(given) != 1:
        raise InvalidRequestError(
            "user_id is required once (X-User-Id header or user_id parameter)", field="user_id"
        )
    return validate_identifier(given.pop(), "user_id")


@key_router.get(
    "/memories:by-key",
    response_model=MemoryRecord,
    summary="Get a memory by its client-chosen key (extension: features.client_keys)",
    tags=["memories"],
)
async def get_memory_by_key(
    call: CallDep,
    key: KeyQuery,
    scope: KeyScopeQuery = None,
    user_id: UserQuery = None,
    x_user_id: UserHeader = None,
) -> MemoryRecord:
    """The user's memory put under ``key`` in ``scope``; ``not_found`` when there is none."""
    call.principal.require_verb("get")
    caller = call.caller(_user(x_user_id, user_id))
    where = _where(call, key, scope)
    return await call.state.provider.get_by_key(caller, where)


@key_router.delete(
    "/memories:by-key",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Delete a memory by its client-chosen key (extension: features.client_keys)",
    tags=["memories"],
)
async def delete_memory_by_key(
    call: CallDep,
    key: KeyQuery,
    scope: KeyScopeQuery = None,
    user_id: UserQuery = None,
    x_user_id: UserHeader = None,
) -> Response:
    """Delete the user's memory put under ``key`` in ``scope``; 204 with no body."""
    call.principal.require_verb("delete")
    caller = call.caller(_user(x_user_id, user_id))
    where = _where(call, key, scope)
    await call.state.provider.delete_by_key(caller, where)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
