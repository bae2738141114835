"""The by-key routes (extension ``memories:by-key``, ``features.client_keys``).

A memory put with a client-chosen ``key`` (``POST /memories`` with ``key`` in the body) is
read and deleted by that key and its scope here. The key and scope travel as query
parameters, so keys holding ``/`` need no path encoding. Like the by-id routes, a memory
outside the API key's scopes is ``not_found`` (no existence leak).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import ValidationError

from openmem import gate
from openmem.errors import InvalidRequestError, NotFoundError
from openmem.fields import NOT_BLANK_PATTERN, SCOPE_PATTERN
from openmem.models import (
    MemoryKey,
    MemoryRecord,
    Verb,
    invalid_request_from,
    validate_identifier,
)
from openmem.provider import Caller
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


@dataclass(frozen=True)
class _KeyedCall:
    """A by-key call, checked: its ``Caller`` and the key and scope it names."""

    call: Call
    caller: Caller
    where: MemoryKey


def _keyed_call(verb: Verb) -> Callable[..., Awaitable[_KeyedCall]]:
    """The dependency of a by-key route: the key's verb, the user, then the key and scope."""

    # async: FastAPI would run a plain function on a worker thread.
    async def resolve(
        call: CallDep,
        key: KeyQuery,
        scope: KeyScopeQuery = None,
        user_id: UserQuery = None,
        x_user_id: UserHeader = None,
    ) -> _KeyedCall:
        call.principal.require_verb(verb)
        caller = call.caller(_user(x_user_id, user_id))
        return _KeyedCall(call, caller, _where(call, key, scope))

    return resolve


@key_router.get(
    "/memories:by-key",
    response_model=MemoryRecord,
    summary="Get a memory by its client-chosen key (extension: features.client_keys)",
    tags=["memories"],
)
async def get_memory_by_key(
    keyed: Annotated[_KeyedCall, Depends(_keyed_call("get"))],
) -> MemoryRecord:
    """The user's memory put under ``key`` in ``scope``; ``not_found`` when there is none."""
    return await keyed.call.state.provider.get_by_key(keyed.caller, keyed.where)


@key_router.delete(
    "/memories:by-key",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Delete a memory by its client-chosen key (extension: features.client_keys)",
    tags=["memories"],
)
async def delete_memory_by_key(
    keyed: Annotated[_KeyedCall, Depends(_keyed_call("delete"))],
) -> Response:
    """Delete the user's memory put under ``key`` in ``scope``; 204 with no body."""
    await keyed.call.state.provider.delete_by_key(keyed.caller, keyed.where)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
