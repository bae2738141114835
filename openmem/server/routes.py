"""The OMP 0.1 routes and openmem's declared extensions.

Each route does the same four things, in order: authenticate (``CallDep``), authorise against
the key (verb, user, scope), gate against the provider's declared capabilities
(``openmem.gate``), then call the provider with a ``Caller`` whose namespace comes from the
key. Bodies and parameters are ``openmem.models`` (or the thin wrappers of
``openmem.server.wire``), so what is validated is exactly what the spec documents. The add
routes are ``openmem.server.add_routes`` (included first, so the route order is unchanged); the
parameters the routes share are ``openmem.server.route_params``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from openmem import gate
from openmem.errors import InvalidRequestError
from openmem.fields import NOT_BLANK_PATTERN
from openmem.models import (
    AuditAction,
    AuditQuery,
    ContextBlock,
    ListQuery,
    MemoryPage,
    MemoryRecord,
    SearchHit,
    SearchMode,
    SearchQuery,
    check_content_length,
)
from openmem.server.add_routes import add_router
from openmem.server.route_params import (
    GET_QUERY_MAX_LENGTH,
    MAX_QUERY_TAGS,
    MemoryId,
    ScopeQuery,
    TagQuery,
    TagsQuery,
    UserHeader,
    UserIdQuery,
    UserQuery,
    build_model,
    by_id_user,
    merge_tags,
    one_user,
)
from openmem.server.side_paths import (
    require_supersedes_writable,
    require_visible_by_id,
    scopes_restricted,
)
from openmem.server.state import CallDep
from openmem.server.wire import (
    AuditEntries,
    ContextRequest,
    ForgetUserResponse,
    PatchRequest,
    SearchRequest,
    SearchResults,
)

__all__ = ["GET_QUERY_MAX_LENGTH", "MAX_QUERY_TAGS", "router"]


router = APIRouter()
# The add routes come first, as they always did: the route table (and the OpenAPI document)
# keeps its order.
router.include_router(add_router)


# -- list and search ---------------------------------------------------------------------


@router.get("/memories", response_model=MemoryPage, summary="List memories", tags=["memories"])
async def list_memories(
    call: CallDep,
    user_id: UserIdQuery,
    scope: ScopeQuery = None,
    tag: TagQuery = None,
    tags: TagsQuery = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(min_length=1, max_length=512)] = None,
) -> MemoryPage:
    """One page of the user's memories, newest first; pass ``next_cursor`` for the next."""
    call.principal.require_verb("list")
    caller = call.caller(one_user(user_id))
    query: ListQuery = build_model(
        ListQuery,
        scope=scope,
        tags=merge_tags(tag, tags),
        since=since,
        until=until,
        limit=limit,
        cursor=cursor,
    )
    narrowed = call.principal.narrow_filter(query.scope)
    if narrowed != query.scope:
        query = query.model_copy(update={"scope": narrowed})
    gate.require_verb(call.caps, "list")
    return await call.state.provider.list(caller, query)


async def _search(call: CallDep, user_id: str, query: SearchQuery) -> SearchResults:
    call.principal.require_verb("search")
    caller = call.caller(user_id)
    narrowed = call.principal.narrow_filter(query.scope)
    if narrowed != query.scope:
        query = query.model_copy(update={"scope": narrowed})
    gate.require_search(call.caps, query)
    return SearchResults(results=await call.state.provider.search(caller, query))


@router.get(
    "/memories/search",
    response_model=SearchResults,
    summary="Search memories (OMP 0.1 query form)",
    tags=["search"],
)
async def search_memories(
    call: CallDep,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=GET_QUERY_MAX_LENGTH,
            description="The query; longer ones go in the body of POST /memories/search.",
            json_schema_extra={"pattern": NOT_BLANK_PATTERN},
        ),
    ],
    user_id: UserIdQuery,
    scope: ScopeQuery = None,
    tag: TagQuery = None,
    tags: TagsQuery = None,
    mode: SearchMode | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    min_score: Annotated[float | None, Query(ge=0.0, le=1.0)] = None,
    include_inactive: bool = False,
) -> SearchResults:
    """The best matches for ``q``, best first: ``{"results": [{memory, score}, ...]}``."""
    query: SearchQuery = build_model(
        SearchQuery,
        query=q,
        scope=scope,
        tags=merge_tags(tag, tags),
        mode=mode,
        limit=limit,
        min_score=min_score,
        include_inactive=include_inactive,
    )
    return await _search(call, one_user(user_id), query)


@router.post(
    "/memories/search",
    response_model=list[SearchHit],
    summary="Search memories (extension: body form with filters and mode)",
    tags=["search"],
)
async def search_memories_body(body: SearchRequest, call: CallDep) -> list[SearchHit]:
    """The same search with a JSON body, which also carries ``filters``; a bare list.

    OMP 0.1 defines no body form; its reference client posts here and reads a bare list
    of hits, so that is the answer (spec/omp.md §13). The query form keeps ``{"results"}``.
    """
    return (await _search(call, body.user_id, body.to_query())).results


# -- by id -------------------------------------------------------------------------------


@router.get(
    "/memories/{memory_id}", response_model=MemoryRecord, summary="Get a memory", tags=["memories"]
)
async def get_memory(
    memory_id: MemoryId, call: CallDep, x_user_id: UserHeader = None, user_id: UserQuery = None
) -> MemoryRecord:
    """The memory, if it belongs to the user; another user's memory is ``not_found``."""
    call.principal.require_verb("get")
    caller = call.caller(by_id_user(call, x_user_id, user_id))
    gate.require_verb(call.caps, "get")
    provider = call.state.provider
    # Checked before the read, so a refused get leaves no audit entry of a read.
    await require_visible_by_id(call.principal, provider, caller, memory_id)
    record = await provider.get(caller, memory_id)
    call.principal.require_visible(record, memory_id)
    return record


@router.patch(
    "/memories/{memory_id}",
    response_model=MemoryRecord,
    summary="Update a memory (JSON Merge Patch)",
    tags=["memories"],
)
async def update_memory(
    memory_id: MemoryId,
    body: PatchRequest,
    call: CallDep,
    x_user_id: UserHeader = None,
    user_id: UserQuery = None,
) -> MemoryRecord:
    """Apply a merge patch: an omitted field is unchanged, ``null`` clears it."""
    call.principal.require_verb("update")
    caller = call.caller(by_id_user(call, x_user_id, user_id, body.user_id))
    patch = body.to_patch()
    caps = call.caps
    gate.require_verb(caps, "update")
    if patch.content is not None:
        check_content_length(patch.content, caps.features.max_content_length)
    provider = call.state.provider
    if scopes_restricted(call.principal):
        await require_visible_by_id(call.principal, provider, caller, memory_id)
        if "scope" in patch.model_fields_set:
            call.principal.require_write_scope(patch.scope)
    await require_supersedes_writable(call.principal, provider, caller, patch.supersedes or ())
    return await provider.update(caller, memory_id, patch)


@router.delete(
    "/memories/{memory_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Delete a memory",
    tags=["memories"],
)
async def delete_memory(
    memory_id: MemoryId, call: CallDep, x_user_id: UserHeader = None, user_id: UserQuery = None
) -> Response:
    """Delete the memory; 204 with no body."""
    call.principal.require_verb("delete")
    caller = call.caller(by_id_user(call, x_user_id, user_id))
    gate.require_verb(call.caps, "delete")
    provider = call.state.provider
    await require_visible_by_id(call.principal, provider, caller, memory_id)
    await provider.delete(caller, memory_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- context, audit, forget --------------------------------------------------------------


@router.post(
    "/context", response_model=ContextBlock, summary="Prompt-ready context", tags=["search"]
)
async def get_context(body: ContextRequest, call: CallDep) -> ContextBlock:
    """The best memories for ``query`` packed into ``token_budget`` tokens, with citations."""
    call.principal.require_verb("context")
    caller = call.caller(body.user_id)
    query = body.to_query()
    narrowed = call.principal.narrow_filter(query.scope)
    if narrowed != query.scope:
        query = query.model_copy(update={"scope": narrowed})
    caps = call.caps
    gate.require_verb(caps, "context")
    if query.token_budget > caps.limits.max_token_budget:
        raise InvalidRequestError(
            f"token_budget is at most {caps.limits.max_token_budget}", field="token_budget"
        )
    return await call.state.provider.context(caller, query)


@router.get("/audit", response_model=AuditEntries, summary="The audit log", tags=["audit"])
async def get_audit(
    call: CallDep,
    user_id: UserIdQuery,
    app: Annotated[
        str | None,
        Query(min_length=1, max_length=256, json_schema_extra={"pattern": NOT_BLANK_PATTERN}),
    ] = None,
    action: AuditAction | None = None,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditEntries:
    """The user's audit entries, newest first: ``{"entries": [...]}``."""
    call.principal.require_verb("audit")
    caller = call.caller(one_user(user_id))
    query: AuditQuery = build_model(AuditQuery, app=app, action=action, since=since, limit=limit)
    gate.require_verb(call.caps, "audit")
    entries = await call.state.provider.audit(caller, query)
    entries = [e for e in entries if call.principal.allows_scope(e.scope)]
    return AuditEntries(entries=entries)


@router.delete(
    "/users/{user_id}/memories",
    response_model=ForgetUserResponse,
    summary="Forget a user (extension: features.forget_user)",
    tags=["memories"],
)
async def forget_user(
    user_id: Annotated[str, Path(min_length=1, max_length=256)], call: CallDep
) -> ForgetUserResponse:
    """Delete every memory of the user; answers how many were deleted."""
    call.principal.require_verb("forget_user")
    caller = call.caller(one_user(user_id))
    call.principal.require_all_scopes()
    gate.require_feature(call.caps, "forget_user", "forgetting a user")
    return ForgetUserResponse(deleted=await call.state.provider.forget_user(caller))
