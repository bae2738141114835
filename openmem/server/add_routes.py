"""The add routes: ``POST /memories`` (a memory or a conversation) and ``POST /memories:batch``.

Both authorise the verb and every written scope against the key, gate against the provider's
declared capabilities, refuse a ``supersedes`` the caller cannot write, and either queue the
add (``async_mode=true``, 202) or store it (201). An idempotent replay is answered only when
the caller may see the record it replays (``openmem.server.side_paths``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Response, status
from pydantic import Discriminator, Tag

from openmem import gate
from openmem.errors import ConflictError, InvalidRequestError
from openmem.llm.conversation import add_conversation
from openmem.models import MemoryInput, MemoryRecord
from openmem.server.envelope import CONVERSATION_BODY_TAG, MEMORY_BODY_TAG
from openmem.server.events import AsyncModeQuery
from openmem.server.route_params import IdempotencyKey
from openmem.server.side_paths import (
    idempotency_conflict_for,
    require_replay_visible,
    require_supersedes_writable,
)
from openmem.server.state import CallDep
from openmem.server.wire import (
    BatchAddRequest,
    BatchAddResponse,
    ConversationRequest,
    ConversationResponse,
)

__all__ = ["add_router"]

add_router = APIRouter()


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


@add_router.post(
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


@add_router.post(
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
