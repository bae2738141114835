"""``AsyncMemory``: the verb set applications call.

``AsyncMemory`` validates every argument into the wire models (``openmem.arguments``), binds
itself to one event loop (``openmem.binding``), refuses undeclared capabilities before any I/O
(``openmem.gate``), and hands the call to its provider. ``Memory`` (``openmem.sync``) is the
same object driven from a private event-loop thread, for synchronous code.

    async with AsyncMemory(provider="postgres", url="postgresql://...") as mem:
        await mem.add("prefers dark mode", user_id="u1", scope="ui")
        hits = await mem.search("dark mode", "u1")
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, overload

from openmem.arguments import (
    UNSET,
    SourceArg,
    Unset,
    batch_item,
    build_patch,
    build_request,
    extension_fields,
)
from openmem.environment import process_environment
from openmem.errors import InvalidRequestError
from openmem.gate import (
    require_add,
    require_batch,
    require_context,
    require_feature,
    require_list,
    require_search,
    require_unqueued_key,
    require_update,
    require_verb,
)
from openmem.ingest import wait_until_ingested
from openmem.keyed import KeyedVerbs
from openmem.models import (
    AuditAction,
    AuditEntry,
    AuditQuery,
    Capabilities,
    ContextBlock,
    ContextQuery,
    IngestEvent,
    ListQuery,
    MemoryInput,
    MemoryPage,
    MemoryRecord,
    SearchHit,
    SearchMode,
    SearchQuery,
    validate_identifier,
)
from openmem.provider import Provider

if TYPE_CHECKING:
    from openmem.llm.client import ChatMessage
    from openmem.llm.conversation import LLMArg

__all__ = ["UNSET", "AsyncMemory", "Unset"]


class AsyncMemory(KeyedVerbs):
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

    @overload
    async def add(
        self,
        /,
        content: str,
        *,
        user_id: str,
        scope: str | None = None,
        tags: Sequence[str] | None = None,
        source: SourceArg = None,
        confidence: float | None = None,
        valid_from: datetime | None = None,
        valid_to: datetime | None = None,
        supersedes: Sequence[str] | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        async_mode: bool | None = None,
        key: str | None = None,
        **x_extensions: Any,
    ) -> MemoryRecord: ...

    @overload
    async def add(
        self,
        /,
        content: None = None,
        *,
        messages: Sequence[Mapping[str, str] | ChatMessage],
        infer: bool = False,
        user_id: str,
        scope: str | None = None,
        tags: Sequence[str] | None = None,
        source: SourceArg = None,
        confidence: float | None = None,
        valid_from: datetime | None = None,
        valid_to: datetime | None = None,
        supersedes: Sequence[str] | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        **x_extensions: Any,
    ) -> builtins.list[MemoryRecord]: ...

    async def add(
        self,
        /,
        content: str | None = None,
        *,
        messages: Sequence[Mapping[str, str] | ChatMessage] | None = None,
        infer: bool = False,
        user_id: str,
        scope: str | None = None,
        tags: Sequence[str] | None = None,
        source: SourceArg = None,
        confidence: float | None = None,
        valid_from: datetime | None = None,
        valid_to: datetime | None = None,
        supersedes: Sequence[str] | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        async_mode: bool | None = None,
        key: str | None = None,
        **x_extensions: Any,
    ) -> MemoryRecord | builtins.list[MemoryRecord]:
        """Store a memory for ``user_id`` and return it; or a conversation, see below.

        ``x_<provider>=...`` keywords become ``x-<provider>`` extension fields. With
        ``idempotency_key``, repeating the call returns the first record instead of a copy.
        With ``key`` (``features.client_keys``) the add is a put: it replaces the user's memory
        with that key in the same scope (same id), or adds it; see ``get_by_key``.

        >>> await mem.add("prefers dark mode", user_id="u1", scope="ui", tags=["pref"])

        With ``messages=[{"role": "user", "content": ...}, ...]`` instead of ``content`` it
        returns a list: with ``infer=False`` each user message stored as is; with
        ``infer=True`` the facts a chat model extracted, deduplicated against the user's
        memories and reconciled with them (ADD / UPDATE / supersede / NONE, each decision
        audited with its reason); see ``openmem.llm``. The other fields apply to every memory.

        >>> await mem.add(messages=[{"role": "user", "content": "I moved to Porto"}],
        ...               user_id="u1", infer=True)

        With ``async_mode=True`` (providers declaring ``features.async_ingest``) the add is
        queued durably and answered at once: the record has ``status="queued"`` and an
        ``event_id`` for ``get_event``/``wait_for_ingest``. ``None`` takes the instance's
        ``async_mode_default`` option (False unless configured).
        """
        self._binding.enter()
        if (content is None) == (messages is None):
            raise InvalidRequestError(
                "pass either content or messages", field="content" if content else "messages"
            )
        if infer and messages is None:
            raise InvalidRequestError("infer=True needs messages", field="infer")
        if async_mode and messages is not None:
            raise InvalidRequestError(
                "async_mode=True queues plain adds, not conversations", field="async_mode"
            )
        if key is not None and messages is not None:
            raise InvalidRequestError("a key names one memory: put it with content", field="key")
        conversation = None
        if messages is not None:
            from openmem.llm.conversation import parse_messages

            conversation = parse_messages(messages)
        item = build_request(
            MemoryInput,
            content=content if content is not None else "(conversation)",
            user_id=user_id,
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
            idempotency_key=idempotency_key,
            key=key,
            **extension_fields("add", x_extensions),
        )
        capabilities = await self._binding.ready()
        if conversation is not None:
            from openmem.llm.conversation import add_conversation

            return await add_conversation(
                self._provider,
                self._caller(user_id),
                capabilities,
                conversation,
                template=item,
                infer=infer,
                pipeline=self._inference,
                max_content_length=self._max_content_length,
            )
        require_add(capabilities, item, max_content_length=self._max_content_length)
        if key is not None and async_mode:
            require_unqueued_key(item)
        # A keyed put replaces a memory at once: never queued, even when queueing is default.
        if key is None and self._queues(async_mode, capabilities):
            (queued,) = await self._provider.enqueue_add(self._caller(user_id), [item])
            return queued
        return await self._provider.add(self._caller(user_id), item)

    async def add_many(
        self,
        items: Sequence[str | Mapping[str, Any]],
        *,
        user_id: str,
        async_mode: bool | None = None,
    ) -> builtins.list[MemoryRecord]:
        """Store several memories for ``user_id`` in one batch (``features.batch_add``).

        Each item is the content, or a dict of ``add`` fields without ``user_id``. With
        ``async_mode=True`` the batch is queued as one event, as ``add`` describes.
        """
        self._binding.enter()
        caller = self._caller(user_id)
        built = [batch_item(index, item, user_id) for index, item in enumerate(items)]
        capabilities = await self._binding.ready()
        require_batch(capabilities, built, max_content_length=self._max_content_length)
        if not built:
            return []
        if self._queues(async_mode, capabilities):
            return await self._provider.enqueue_add(caller, built)
        return await self._provider.add_many(caller, built)

    def _queues(self, async_mode: bool | None, capabilities: Capabilities) -> bool:
        """Whether an add is queued: asked for, or the default; refused when undeclared."""
        queued = self._async_mode_default if async_mode is None else async_mode
        if queued:
            require_feature(capabilities, "async_ingest", "async_mode (queued adds)")
        return queued

    async def get_event(self, event_id: str, *, user_id: str) -> IngestEvent:
        """The ingestion event of a queued add: ``PENDING``, ``RUNNING``, ``SUCCEEDED`` or
        ``FAILED``, with timings, attempts, the error and the memory ids written.

        >>> record = await mem.add("likes tea", user_id="u1", async_mode=True)
        >>> (await mem.get_event(record.event_id, user_id="u1")).status
        'PENDING'
        """
        self._binding.enter()
        caller = self._caller(user_id)
        checked = validate_identifier(event_id, "event_id")
        require_feature(await self._binding.ready(), "async_ingest", "events")
        return await self._provider.get_event(caller, checked)

    async def get(self, id: str, *, user_id: str) -> MemoryRecord:
        """The memory ``id`` of ``user_id``; ``NotFoundError`` if this user has none by that id."""
        self._binding.enter()
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
        self._binding.enter()
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
        self._binding.enter()
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
        self._binding.enter()
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
        self._binding.enter()
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
        self._binding.enter()
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
        self._binding.enter()
        caller = self._caller(user_id)
        audit_query = build_request(AuditQuery, app=app, action=action, since=since, limit=limit)
        require_verb(await self._binding.ready(), "audit")
        return await self._provider.audit(caller, audit_query)

    async def forget_user(self, user_id: str) -> int:
        """Delete every memory of ``user_id``; returns how many (``features.forget_user``)."""
        self._binding.enter()
        caller = self._caller(user_id)
        require_feature(await self._binding.ready(), "forget_user", "forget user")
        return await self._provider.forget_user(caller)

    async def wait_for_ingest(
        self,
        ids: Sequence[str],
        *,
        user_id: str,
        timeout: float = 30.0,  # noqa: ASYNC109 - the OMP SDK's signature, kept on purpose
    ) -> builtins.list[MemoryRecord]:
        """Wait until asynchronously ingested memories are readable; returns them.

        ``ids`` are memory ids or event ids (``evt_...``, from ``record.event_id``); an event
        stands for every memory it wrote. Providers that ingest synchronously return at
        once. Raises ``IngestionTimeoutError`` after ``timeout`` seconds, ``ProviderError``
        (with the event's error code) if ingestion failed.
        """
        self._binding.enter()
        caller = self._caller(user_id)
        memory_ids = [validate_identifier(i, "ids") for i in ids]
        capabilities = await self._binding.ready()
        require_verb(capabilities, "get")
        return await wait_until_ingested(
            self._provider,
            caller,
            memory_ids,
            timeout,
            events=capabilities.features.async_ingest,
        )


def __getattr__(name: str) -> Any:
    """``openmem.memory.Memory`` still resolves; the facade lives in ``openmem.sync``."""
    if name == "Memory":
        from openmem.sync import Memory

        return Memory
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
