"""``GET /events/{event_id}``: the status of a queued add (an openmem extension of OMP 0.1).

``POST /memories?async_mode=true`` (and ``POST /memories:batch?async_mode=true``) answer
``202`` with the queued record(s), each carrying ``event_id``; this route reports that
event: ``PENDING | RUNNING | SUCCEEDED | FAILED``, timings, attempts, the error's stable code
and the memory ids written. The shape follows the mem0 platform's ``GET /v1/event/{id}/``.
Providers declare it with ``features.async_ingest``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query

from openmem import gate
from openmem.errors import InvalidRequestError
from openmem.models import IngestEvent, validate_identifier
from openmem.server.state import CallDep

__all__ = ["AsyncModeQuery", "router"]

router = APIRouter()

AsyncModeQuery = Annotated[
    bool,
    Query(
        description="Queue the add and answer 202 with event_id at once "
        "(extension: features.async_ingest); see GET /events/{event_id}.",
    ),
]
EventId = Annotated[str, Path(min_length=1, max_length=256, description="The event id.")]


@router.get(
    "/events/{event_id}",
    response_model=IngestEvent,
    summary="The status of a queued add (extension: features.async_ingest)",
    tags=["events"],
)
async def get_event(
    event_id: EventId,
    call: CallDep,
    x_user_id: Annotated[
        str | None, Header(alias="X-User-Id", min_length=1, max_length=256)
    ] = None,
    user_id: Annotated[str | None, Query(min_length=1, max_length=256)] = None,
) -> IngestEvent:
    """The event of the user's queued add; another user's event is ``not_found``."""
    call.principal.require_verb("add")
    if user_id is not None and x_user_id is not None and user_id != x_user_id:
        raise InvalidRequestError("user_id and X-User-Id disagree", field="user_id")
    given = user_id or x_user_id
    if given is None:
        raise InvalidRequestError("user_id is required", field="user_id")
    caller = call.caller(validate_identifier(given, "user_id"))
    gate.require_feature(call.caps, "async_ingest", "events")
    return await call.state.provider.get_event(caller, validate_identifier(event_id, "event_id"))
