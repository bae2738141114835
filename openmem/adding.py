"""Adding memories: ``add`` (content or a conversation), ``add_many``, and queued adds.

``AddVerbs`` is the write half of ``AsyncMemory`` (which inherits it; ``Memory`` mirrors it):
it validates what is stored into ``MemoryInput``, hands a conversation to the infer pipeline
(``openmem.llm.conversation``), and queues an add when ``async_mode`` asks for it, with the
two follow-ups of a queued add, ``get_event`` and ``wait_for_ingest``.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, overload

from openmem.arguments import SourceArg, batch_item, build_request, extension_fields
from openmem.errors import InvalidRequestError
from openmem.gate import (
    require_add,
    require_batch,
    require_feature,
    require_unqueued_key,
    require_verb,
)
from openmem.ingest import wait_until_ingested
from openmem.lifecycle import MemoryLifecycle
from openmem.models import Capabilities, IngestEvent, MemoryInput, MemoryRecord, validate_identifier

if TYPE_CHECKING:
    from openmem.llm.client import ChatMessage

__all__ = ["AddVerbs"]


class AddVerbs(MemoryLifecycle):
    """``add``, ``add_many``, ``get_event`` and ``wait_for_ingest``: the adding half of
    ``AsyncMemory``."""

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
        await self._binding.admit()
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
        await self._binding.admit()
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
        await self._binding.admit()
        caller = self._caller(user_id)
        checked = validate_identifier(event_id, "event_id")
        require_feature(await self._binding.ready(), "async_ingest", "events")
        return await self._provider.get_event(caller, checked)

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
        await self._binding.admit()
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
