"""The capability gate: refuse what a provider does not declare, before any I/O.

``AsyncMemory`` and the server call the same functions, so an undeclared verb or feature is
refused identically in process and over the wire.
"""

from __future__ import annotations

from collections.abc import Sequence

from openmem.errors import InvalidRequestError, UnsupportedCapabilityError
from openmem.models import (
    Capabilities,
    ContextQuery,
    ListQuery,
    MemoryInput,
    MemoryPatch,
    SearchQuery,
    check_content_length,
)

__all__ = [
    "require_add",
    "require_batch",
    "require_context",
    "require_feature",
    "require_list",
    "require_search",
    "require_unkeyed_batch",
    "require_unqueued_key",
    "require_update",
    "require_verb",
]


def require_verb(capabilities: Capabilities, verb: str) -> None:
    """Raise ``UnsupportedCapabilityError`` unless ``verb`` is declared."""
    if verb not in capabilities.verbs:
        raise UnsupportedCapabilityError(
            f"provider {capabilities.provider!r} does not support {verb!r}",
            provider=capabilities.provider,
        )


def require_feature(capabilities: Capabilities, feature: str, what: str) -> None:
    """Raise ``UnsupportedCapabilityError`` unless ``features.<feature>`` is true."""
    if getattr(capabilities.features, feature, False) is not True:
        raise UnsupportedCapabilityError(
            f"provider {capabilities.provider!r} does not support {what} "
            f"(features.{feature} is not declared)",
            provider=capabilities.provider,
        )


def require_add(
    capabilities: Capabilities, item: MemoryInput, *, max_content_length: int | None = None
) -> None:
    """Check an add (or one item of a batch) against the declared capabilities and limits."""
    require_verb(capabilities, "add")
    limit = capabilities.features.max_content_length
    if max_content_length is not None:
        limit = min(limit, max_content_length)
    check_content_length(item.content, limit)
    if item.idempotency_key is not None:
        require_feature(capabilities, "idempotency", "idempotency keys")
    if item.key is not None:
        require_feature(capabilities, "client_keys", "client-chosen keys")


def require_unqueued_key(item: MemoryInput) -> None:
    """Refuse queueing a keyed put: it replaces a memory at once, so it is never queued."""
    if item.key is not None:
        raise InvalidRequestError(
            "a keyed put is written at once; async_mode queues plain adds only",
            field="async_mode",
        )


def require_unkeyed_batch(items: Sequence[MemoryInput]) -> None:
    """Refuse client keys in a batch: a put replaces one memory, so keyed adds go one by one."""
    for index, item in enumerate(items):
        if item.key is not None:
            raise InvalidRequestError(
                "a batch cannot carry client keys; put keyed memories with add, one by one",
                field=f"items.{index}.key",
            )


def require_batch(
    capabilities: Capabilities,
    items: Sequence[MemoryInput],
    *,
    max_content_length: int | None = None,
) -> None:
    """Check a batch add: the feature, the batch size, then each item as ``require_add``."""
    require_feature(capabilities, "batch_add", "batch add")
    if len(items) > capabilities.limits.max_batch_size:
        raise InvalidRequestError(
            f"a batch holds at most {capabilities.limits.max_batch_size} items",
            field="items",
        )
    require_unkeyed_batch(items)
    for item in items:
        require_add(capabilities, item, max_content_length=max_content_length)


def require_update(
    capabilities: Capabilities, patch: MemoryPatch, *, max_content_length: int | None = None
) -> None:
    """Check an update against the declared verbs and the content length limit."""
    require_verb(capabilities, "update")
    if patch.content is not None:
        limit = capabilities.features.max_content_length
        if max_content_length is not None:
            limit = min(limit, max_content_length)
        check_content_length(patch.content, limit)


def require_list(capabilities: Capabilities, query: ListQuery) -> None:
    """Check a list against the declared verbs and the page size limit."""
    require_verb(capabilities, "list")
    if query.limit > capabilities.limits.max_list_limit:
        raise InvalidRequestError(
            f"limit is {query.limit}; this provider lists at most "
            f"{capabilities.limits.max_list_limit} per page",
            field="limit",
        )


def require_context(capabilities: Capabilities, query: ContextQuery) -> None:
    """Check a context call against the declared verbs and the token budget limit."""
    require_verb(capabilities, "context")
    if query.token_budget > capabilities.limits.max_token_budget:
        raise InvalidRequestError(
            f"token_budget is at most {capabilities.limits.max_token_budget}",
            field="token_budget",
        )


def require_search(capabilities: Capabilities, query: SearchQuery) -> None:
    """Check a search against the declared verbs, modes and filter support."""
    require_verb(capabilities, "search")
    if query.mode == "keyword":
        require_feature(capabilities, "keyword_search", "keyword search")
    elif query.mode == "hybrid":
        require_feature(capabilities, "hybrid_search", "hybrid search")
    elif query.mode == "semantic":
        require_feature(capabilities, "vector_search", "semantic search")
    if query.filters:
        require_feature(capabilities, "metadata_filters", "metadata filters")
    if query.limit > capabilities.limits.max_search_results:
        raise InvalidRequestError(
            f"limit is {query.limit}; this provider returns at most "
            f"{capabilities.limits.max_search_results} results",
            field="limit",
        )
