"""The request and response bodies the HTTP routes add around ``openmem.models``.

OMP 0.1 carries ``user_id`` inside some bodies (add, context, patch) and wraps some lists
(``{"results": [...]}``, ``{"entries": [...]}``); these models are exactly those wrappers,
so the OpenAPI document and the server are generated from one place.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from openmem.errors import ErrorType, InvalidRequestError
from openmem.llm.client import ChatMessage
from openmem.llm.conversation import MAX_MESSAGES
from openmem.models import (
    AuditEntry,
    ContextQuery,
    Identifier,
    MemoryInput,
    MemoryPatch,
    MemoryRecord,
    SearchHit,
    SearchQuery,
)

__all__ = [
    "AuditEntries",
    "BatchAddRequest",
    "BatchAddResponse",
    "BatchItem",
    "ContextRequest",
    "ConversationRequest",
    "ConversationResponse",
    "ErrorBody",
    "ErrorEnvelope",
    "ForgetUserResponse",
    "Health",
    "PatchRequest",
    "SearchRequest",
    "SearchResults",
]


class _Wrapper(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")


class SearchResults(_Wrapper):
    """The body of a search answer: ``{"results": [SearchHit, ...]}``, best first."""

    results: list[SearchHit]


class AuditEntries(_Wrapper):
    """The body of an audit answer: ``{"entries": [AuditEntry, ...]}``, newest first."""

    entries: list[AuditEntry]


class BatchAddResponse(_Wrapper):
    """The body of a batch add answer: the stored records, in request order."""

    items: list[MemoryRecord]


class ForgetUserResponse(_Wrapper):
    """The body of a forget-user answer: how many memories were deleted."""

    deleted: int = Field(ge=0)


class Health(_Wrapper):
    """The body of a healthy ``/healthz``."""

    status: Literal["ok"] = "ok"


class ErrorBody(BaseModel):
    """The inside of the OMP error envelope; branch on ``code``, never on ``message``."""

    model_config = ConfigDict(frozen=True, extra="allow")

    code: str
    message: str
    type: ErrorType
    request_id: str | None = None
    provider: str | None = None
    field: str | None = None
    details: dict[str, object] | None = None


class ErrorEnvelope(BaseModel):
    """Every error answer of the server: ``{"error": {code, message, type, request_id}}``."""

    model_config = ConfigDict(frozen=True, extra="allow")

    error: ErrorBody


class SearchRequest(SearchQuery):
    """The body of ``POST /memories/search``: a ``SearchQuery`` and the user it is for."""

    user_id: Identifier

    def to_query(self) -> SearchQuery:
        """The provider's request model, without ``user_id``."""
        return SearchQuery.model_validate(self.model_dump(exclude={"user_id"}))


class ContextRequest(ContextQuery):
    """The body of ``POST /context``: a ``ContextQuery`` and the user it is for."""

    user_id: Identifier

    def to_query(self) -> ContextQuery:
        """The provider's request model, without ``user_id``."""
        return ContextQuery.model_validate(self.model_dump(exclude={"user_id"}))


class PatchRequest(MemoryPatch):
    """The body of ``PATCH /memories/{id}``: a merge patch, optionally with ``user_id``."""

    user_id: Identifier | None = None

    def to_patch(self) -> MemoryPatch:
        """The merge patch alone: the fields that were sent, explicit nulls kept."""
        data = self.model_dump(exclude_unset=True, exclude={"user_id"}, by_alias=True)
        return MemoryPatch.model_validate(data)


def _without_client_key(schema: dict[str, Any]) -> None:
    # A batch refuses client keys (put keyed memories with add): the schema says so. This
    # replaces the inherited schema extra, so that one (x- extensions only) is applied too.
    inherited = MemoryInput.model_config.get("json_schema_extra")
    if isinstance(inherited, dict):
        schema.update(inherited)
    schema.get("properties", {}).pop("key", None)


class BatchItem(MemoryInput):
    """One item of a batch add; ``user_id`` may be left out (it is the batch's).

    No ``key``: a batch cannot carry client keys (``add`` them one by one).
    """

    model_config = ConfigDict(json_schema_extra=_without_client_key)

    user_id: Identifier | None = None  # type: ignore[assignment]


class BatchAddRequest(BaseModel):
    """The body of ``POST /memories:batch``: memories for one user, stored in order."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    user_id: Identifier
    items: list[BatchItem] = Field(min_length=1)

    def to_inputs(self) -> list[MemoryInput]:
        """The provider's request models, each with the batch's ``user_id``.

        An item naming another user is refused: a batch is one user's.
        """
        out = []
        for index, item in enumerate(self.items):
            if item.user_id is not None and item.user_id != self.user_id:
                raise InvalidRequestError(
                    "every item of a batch belongs to the batch's user_id",
                    field=f"items.{index}.user_id",
                )
            data = item.model_dump(exclude_unset=True, by_alias=True)
            data["user_id"] = self.user_id
            out.append(MemoryInput.model_validate(data))
        return out


class ConversationRequest(MemoryInput):
    """``POST /memories`` with ``messages`` instead of ``content``: a conversation to remember.

    ``infer=false`` stores each user message as is; ``infer=true`` extracts facts with the
    server's chat model and reconciles them with the user's memories (``features.infer``).
    The other fields apply to every memory written. The answer is ``ConversationResponse``.
    """

    content: None = None  # type: ignore[assignment]
    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_MESSAGES)
    infer: bool = False

    def to_template(self) -> MemoryInput:
        """The ``add`` fields every memory of the conversation gets (content a placeholder)."""
        data: dict[str, Any] = self.model_dump(
            exclude_unset=True, exclude={"messages", "infer", "content"}, by_alias=True
        )
        data["content"] = "(conversation)"
        return MemoryInput.model_validate(data)


class ConversationResponse(_Wrapper):
    """The answer to a conversation: the memories added or updated, in decision order."""

    items: list[MemoryRecord]
