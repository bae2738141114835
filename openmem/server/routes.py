"""The OMP 0.1 routes and openmem's declared extensions.

Each route does the same four things, in order: authenticate (``CallDep``), authorise against
the key (verb, user, scope), gate against the provider's declared capabilities
(``openmem.gate``), then call the provider with a ``Caller`` whose namespace comes from the
key. Bodies and parameters are ``openmem.models`` (or the thin wrappers of
``openmem.server.wire``), so what is validated is exactly what the spec documents.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Response, status
from pydantic import Discriminator, Field, Tag, ValidationError

from openmem import gate
from openmem.errors import ConflictError, InvalidRequestError
from openmem.fields import NOT_BLANK_PATTERN, SCOPE_FILTER_PATTERN
from openmem.llm.conversation import add_conversation
from openmem.models import (
    MAX_TAG_LENGTH,
    AuditAction,
    AuditQuery,
    ContextBlock,
    ListQuery,
    MemoryInput,
    MemoryPage,
    MemoryRecord,
    SearchHit,
    SearchMode,
    SearchQuery,
    check_content_length,
    invalid_request_from,
    validate_identifier,
)
from openmem.server.envelope import CONVERSATION_BODY_TAG, MEMORY_BODY_TAG
from openmem.server.events import AsyncModeQuery
from openmem.server.side_paths import (
    idempotency_conflict_for,
    require_replay_visible,
    require_supersedes_writable,
    require_visible_by_id,
    scopes_restricted,
)
from openmem.server.state import Call, CallDep
from openmem.server.wire import (
    AuditEntries,
    BatchAddRequest,
    BatchAddResponse,
    ContextRequest,
    ConversationRequest,
    ConversationResponse,
    ForgetUserResponse,
    PatchRequest,
    SearchRequest,
    SearchResults,
)

__all__ = ["GET_QUERY_MAX_LENGTH", "MAX_QUERY_TAGS", "router"]

MAX_QUERY_TAGS = 16
"""Tags per request in the query forms (list, search), so that URLs stay parseable."""

router = APIRouter()

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


def _build(model: type[Any], **fields: Any) -> Any:
    try:
        return model.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        raise invalid_request_from(exc) from None


def _one_user(*candidates: str | None) -> str:
    given = {c for c in candidates if c is not None}
    if not given:
        raise InvalidRequestError(
            "user_id is required (X-User-Id header or user_id parameter)", field="user_id"
        )
    if len(given) > 1:
        raise InvalidRequestError("user_id and X-User-Id disagree", field="user_id")
    return validate_identifier(given.pop(), "user_id")


def _by_id_user(call: Call, *candidates: str | None) -> str:
    """The user of a by-id verb: as given, else the one user the caller's key is bound to."""
    if all(c is None for c in candidates) and call.principal.sole_user is not None:
        return call.principal.sole_user
    return _one_user(*candidates)


def _tags(tag: list[str] | None, tags: list[str] | None) -> list[str] | None:
    merged = [*(tag or ()), *(tags or ())]
    return merged or None


# -- add -------------------------------------------------------------------------------


def _add_body_kind(value: Any) -> str:
    if isinstance(value, dict) and "messages" in value:
        return CONVERSATION_BODY_TAG
    return MEMORY_BODY_TAG


AddBody = Annotated[
    Annotated[MemoryInput, Tag(MEMORY_BODY_TAG)]
    | Annotated[ConversationRequest, Tag(CONVERSATION_BODY_TAG)],
    Discriminator(_add_body_kind),
]
"""An add body: a memory (``content``) or a conversation (``messages``)."""


@router.post(
    "/memories",
    status_code=status.HTTP_201_CREATED,
    response_model=MemoryRecord | ConversationResponse,
    summary="Store a memory, or remember a conversation",
    tags=["memories"],
    responses={202: {"model": MemoryRecord, "description": "Queued (async_mode=true)"}},
)
async def add_memory(
    item: AddBody,
    call: CallDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
    async_mode: AsyncModeQuery = False,
) -> MemoryRecord | ConversationResponse:
    """Store one memory for ``user_id`` (OMP 0.1 ``add``); 201 with the stored record.

    With ``messages`` instead of ``content`` (an openmem extension, ``features.infer``):
    the memories of a conversation, ``{"items": [...]}``; see ``ConversationRequest``.
    With ``async_mode=true`` (``features.async_ingest``): 202 with the queued record, whose
    ``event_id`` ``GET /events/{event_id}`` reports on.
    """
    if idempotency_key is not None:
        if item.idempotency_key not in (None, idempotency_key):
            raise InvalidRequestError(
                "Idempotency-Key and idempotency_key disagree", field="idempotency_key"
            )
        item = item.model_copy(update={"idempotency_key": idempotency_key})
    call.principal.require_verb("add")
    caller = call.caller(item.user_id)
    call.principal.require_write_scope(item.scope)
    provider = call.state.provider
    # Before the branch: a conversation's memories carry the same supersedes.
    await require_supersedes_writable(call.principal, provider, caller, item.supersedes)
    if isinstance(item, ConversationRequest):
        items = await add_conversation(
            call.state.provider,
            caller,
            call.caps,
            item.messages,
            template=item.to_template(),
            infer=item.infer,
            pipeline=call.state.inference,
        )
        require_replay_visible(call.principal, items)
        return ConversationResponse(items=items)
    gate.require_add(call.caps, item)
    if async_mode:
        gate.require_feature(call.caps, "async_ingest", "async_mode (queued adds)")
        gate.require_unqueued_key(item)
        (queued,) = await provider.enqueue_add(caller, [item])
        response.status_code = status.HTTP_202_ACCEPTED
        return queued
    try:
        record = await provider.add(caller, item)
    except ConflictError as exc:
        raise idempotency_conflict_for(call.principal, exc) from None
    require_replay_visible(call.principal, [record])
    return record


@router.post(
    "/memories:batch",
    status_code=status.HTTP_201_CREATED,
    response_model=BatchAddResponse,
    summary="Store several memories of one user (extension: features.batch_add)",
    tags=["memories"],
    responses={202: {"model": BatchAddResponse, "description": "Queued (async_mode=true)"}},
)
async def add_memories(
    body: BatchAddRequest, call: CallDep, response: Response, async_mode: AsyncModeQuery = False
) -> BatchAddResponse:
    """Store a batch, in order, all or none where the provider is transactional.

    With ``async_mode=true``: 202 with the queued records, all of one ``event_id``.
    """
    call.principal.require_verb("add")
    caller = call.caller(body.user_id)
    items = body.to_inputs()
    caps = call.caps
    gate.require_feature(caps, "batch_add", "batch add")
    if len(items) > caps.limits.max_batch_size:
        raise InvalidRequestError(
            f"a batch holds at most {caps.limits.max_batch_size} items", field="items"
        )
    provider = call.state.provider
    gate.require_unkeyed_batch(items)
    for item in items:
        call.principal.require_write_scope(item.scope)
        gate.require_add(caps, item)
    await require_supersedes_writable(
        call.principal, provider, caller, (i for item in items for i in item.supersedes)
    )
    if async_mode:
        gate.require_feature(caps, "async_ingest", "async_mode (queued adds)")
        response.status_code = status.HTTP_202_ACCEPTED
        return BatchAddResponse(items=await provider.enqueue_add(caller, items))
    try:
        records = await provider.add_many(caller, items)
    except ConflictError as exc:
        raise idempotency_conflict_for(call.principal, exc) from None
    require_replay_visible(call.principal, records)
    return BatchAddResponse(items=records)


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
    caller = call.caller(_one_user(user_id))
    query: ListQuery = _build(
        ListQuery,
        scope=scope,
        tags=_tags(tag, tags),
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
    query: SearchQuery = _build(
        SearchQuery,
        query=q,
        scope=scope,
        tags=_tags(tag, tags),
        mode=mode,
        limit=limit,
        min_score=min_score,
        include_inactive=include_inactive,
    )
    return await _search(call, _one_user(user_id), query)


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
    caller = call.caller(_by_id_user(call, x_user_id, user_id))
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
    caller = call.caller(_by_id_user(call, x_user_id, user_id, body.user_id))
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
    caller = call.caller(_by_id_user(call, x_user_id, user_id))
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
    caller = call.caller(_one_user(user_id))
    query: AuditQuery = _build(AuditQuery, app=app, action=action, since=since, limit=limit)
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
    caller = call.caller(_one_user(user_id))
    call.principal.require_all_scopes()
    gate.require_feature(call.caps, "forget_user", "forgetting a user")
    return ForgetUserResponse(deleted=await call.state.provider.forget_user(caller))
