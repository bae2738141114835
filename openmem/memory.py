"""``AsyncMemory``: the verb set applications call.

``AsyncMemory`` validates every argument into the wire models (``openmem.arguments``), binds
itself to one event loop (``openmem.binding``), refuses undeclared capabilities before any I/O
(``openmem.gate``), and hands the call to its provider. ``Memory`` (``openmem.sync``) is the
same object driven from a private event-loop thread, for synchronous code. The adding verbs
(``add``, ``add_many``, ``get_event``, ``wait_for_ingest``) are ``openmem.adding``, the by-key
verbs ``openmem.keyed``, construction and lifecycle ``openmem.lifecycle``; this module holds
the constructor and the reading and changing verbs.

    async with AsyncMemory(provider="postgres", url="postgresql://...") as mem:
        await mem.add("prefers dark mode", user_id="u1", scope="ui")
        hits = await mem.search("dark mode", "u1")
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from openmem.adding import AddVerbs
from openmem.arguments import (
    UNSET,
    SourceArg,
    Unset,
    build_patch,
    build_request,
)
from openmem.environment import process_environment
from openmem.gate import (
    require_context,
    require_feature,
    require_list,
    require_search,
    require_update,
    require_verb,
)
from openmem.keyed import KeyedVerbs
from openmem.models import (
    AuditAction,
    AuditEntry,
    AuditQuery,
    Capabilities,
    ContextBlock,
    ContextQuery,
    ListQuery,
    MemoryPage,
    MemoryRecord,
    SearchHit,
    SearchMode,
    SearchQuery,
    validate_identifier,
)
from openmem.provider import Provider

if TYPE_CHECKING:
    from openmem.llm.conversation import LLMArg

__all__ = ["UNSET", "AsyncMemory", "Unset"]


class AsyncMemory(AddVerbs, KeyedVerbs):
    """The openmem verb set over one provider, for asyncio code.

    Construction does no I/O. The instance binds to the running loop at ``__aenter__``,
    ``initialize()`` or its first verb, opens its provider once, and caches the provider's
    capabilities. ``close()`` is idempotent; a verb after it raises ``ClosedError``.

    ``provider`` is a registered name (``"postgres"``, ``"inmemory"``, ``"mem0"``, ...), a
    ``Provider`` instance, or None for the configured default. Other keyword arguments are
    the provider's options; unknown ones raise ``ConfigurationError`` naming the valid ones.
    """

    def __init__(
        self,
        /,
        provider: str | Provider[Any] | None = None,
        *,
        namespace: str | None = None,
        app: str | None = None,
        base_url: str | None = None,
        max_content_length: int | None = None,
        llm: LLMArg = None,
        **options: Any,
    ) -> None:
        self._init_from(
            {
                "provider": provider,
                "namespace": namespace,
                "app": app,
                "base_url": base_url,
                "max_content_length": max_content_length,
                "llm": llm,
                **options,
            },
            file=None,
            env=process_environment(),
        )

    # -- verbs -------------------------------------------------------------------------

    async def capabilities(self) -> Capabilities:
        """What the provider declares (cached after the first call)."""
        return await self._binding.ready()

    async def get(self, id: str, *, user_id: str) -> MemoryRecord:
        """The memory ``id`` of ``user_id``; ``NotFoundError`` if this user has none by that id."""
        await self._binding.admit()
        caller = self._caller(user_id)
        memory_id = validate_identifier(id, "id")
        require_verb(await self._binding.ready(), "get")
        return await self._provider.get(caller, memory_id)

    async def update(
        self,
        /,
        id: str,
        *,
        user_id: str,
        content: str | Unset = UNSET,
        scope: str | Unset | None = UNSET,
        tags: Sequence[str] | Unset | None = UNSET,
        source: SourceArg | Unset = UNSET,
        confidence: float | Unset | None = UNSET,
        valid_from: datetime | Unset | None = UNSET,
        valid_to: datetime | Unset | None = UNSET,
        supersedes: Sequence[str] | Unset | None = UNSET,
        agent_id: str | Unset | None = UNSET,
        session_id: str | Unset | None = UNSET,
        metadata: Mapping[str, Any] | Unset | None = UNSET,
        **x_extensions: Any,
    ) -> MemoryRecord:
        """Merge-patch a memory: omitted fields are unchanged, ``None`` clears a field.

        ``metadata`` merges key by key (a ``None`` value removes the key).
        """
        await self._binding.admit()
        caller = self._caller(user_id)
        memory_id = validate_identifier(id, "id")
        patch = build_patch(
            x_extensions,
            content=content,
            scope=scope,
            tags=tags,
            source=source,
            confidence=confidence,
            valid_from=valid_from,
            valid_to=valid_to,
            supersedes=supersedes,
            agent_id=agent_id,
            session_id=session_id,
            metadata=metadata,
        )
        capabilities = await self._binding.ready()
        require_update(capabilities, patch, max_content_length=self._max_content_length)
        return await self._provider.update(caller, memory_id, patch)

    async def delete(self, id: str, *, user_id: str) -> None:
        """Delete the memory ``id`` of ``user_id``; ``NotFoundError`` if there is none."""
        await self._binding.admit()
        caller = self._caller(user_id)
        memory_id = validate_identifier(id, "id")
        require_verb(await self._binding.ready(), "delete")
        await self._provider.delete(caller, memory_id)

    async def list(
        self,
        user_id: str,
        *,
        scope: str | None = None,
        tags: Sequence[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> MemoryPage:
        """One page of ``user_id``'s memories, newest first; pass ``next_cursor`` for more."""
        await self._binding.admit()
        caller = self._caller(user_id)
        query = build_request(
            ListQuery, scope=scope, tags=tags, since=since, until=until, limit=limit, cursor=cursor
        )
        require_list(await self._binding.ready(), query)
        return await self._provider.list(caller, query)

    async def search(
        self,
        query: str,
        user_id: str,
        *,
        scope: str | None = None,
        tags: Sequence[str] | None = None,
        filters: Mapping[str, Any] | None = None,
        mode: SearchMode | None = None,
        limit: int = 10,
        min_score: float | None = None,
        include_inactive: bool = False,
    ) -> builtins.list[SearchHit]:
        """The memories of ``user_id`` that best match ``query``, best first.

        ``score`` is in [0, 1]. ``mode`` is ``semantic``, ``keyword`` or ``hybrid`` (None: the
        provider's best). ``filters`` match metadata keys by equality. Expired, not-yet-valid
        and superseded memories are left out unless ``include_inactive``.

        >>> hits = await mem.search("dark mode", "u1", scope="ui", limit=5)
        """
        await self._binding.admit()
        caller = self._caller(user_id)
        search_query = build_request(
            SearchQuery,
            query=query,
            scope=scope,
            tags=tags,
            filters=filters,
            mode=mode,
            limit=limit,
            min_score=min_score,
            include_inactive=include_inactive,
        )
        require_search(await self._binding.ready(), search_query)
        return await self._provider.search(caller, search_query)

    async def context(
        self,
        query: str,
        user_id: str,
        *,
        scope: str | None = None,
        tags: Sequence[str] | None = None,
        token_budget: int = 500,
    ) -> ContextBlock:
        """Prompt-ready text of the best memories, with ``[mem_...]`` citations.

        ``token_count <= token_budget`` always.
        """
        await self._binding.admit()
        caller = self._caller(user_id)
        context_query = build_request(
            ContextQuery, query=query, scope=scope, tags=tags, token_budget=token_budget
        )
        require_context(await self._binding.ready(), context_query)
        return await self._provider.context(caller, context_query)

    async def audit(
        self,
        user_id: str,
        *,
        app: str | None = None,
        action: AuditAction | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> builtins.list[AuditEntry]:
        """The audit trail of ``user_id``, newest first (``features.supports_audit``)."""
        await self._binding.admit()
        caller = self._caller(user_id)
        audit_query = build_request(AuditQuery, app=app, action=action, since=since, limit=limit)
        require_verb(await self._binding.ready(), "audit")
        return await self._provider.audit(caller, audit_query)

    async def forget_user(self, user_id: str) -> int:
        """Delete every memory of ``user_id``; returns how many (``features.forget_user``)."""
        await self._binding.admit()
        caller = self._caller(user_id)
        require_feature(await self._binding.ready(), "forget_user", "forget user")
        return await self._provider.forget_user(caller)


def __getattr__(name: str) -> Any:
    """``openmem.memory.Memory`` still resolves; the facade lives in ``openmem.sync``."""
    if name == "Memory":
        from openmem.sync import Memory

        return Memory
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
