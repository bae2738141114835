"""mem0's ``Memory`` call shapes and dict shapes over any openmem provider.

Change ``from mem0 import Memory`` to ``from openmem.compat.mem0 import Memory`` and the
calls keep working, on whatever provider openmem is configured with::

    from openmem.compat.mem0 import Memory

    m = Memory(provider="postgres", url="postgresql://...")   # openmem's options
    m.add("I like tea", user_id="alice", infer=False)
    m.search("tea", filters={"user_id": "alice"}, top_k=5)   # {"results": [{...}]}

Mapping: mem0's ``user_id`` is openmem's user, ``agent_id`` its ``agent_id``, ``run_id`` its
``session_id``; a call naming only an agent or a run acts for the user ``agent:<id>`` or
``run:<id>``. ``search`` and ``get_all`` take the entity in ``filters`` (mem0 2.x) or as
keywords (mem0 1.x), ``limit`` as well as ``top_k``; other filter keys match ``metadata`` by
equality (mem0's operator filters such as ``{"gt": 1}`` raise ``ValueError``).

What differs, because openmem never reads a memory without its owner: the by-id methods
(``get``, ``update``, ``delete``, ``history``) find the owner of an id among the memories this
instance has added or returned, or from ``user_id=`` passed to them; an id it has not seen
is "not found". ``history`` is read from the audit log (``features.supports_audit``): events
and times, with the current text as ``new_memory`` of the last event.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, Self, TypeVar

import openmem
from openmem.compat.mem0_shapes import (
    ROLE_EXTENSION as ROLE_EXTENSION,  # importable from here, as it always was
)
from openmem.compat.mem0_shapes import (
    Messages,
    as_messages,
    entity_and_filters,
    in_entity,
    mem0_shape,
    owner_of,
)
from openmem.errors import NotFoundError
from openmem.models import MemoryRecord
from openmem.sync import LoopRunner, blocking_twin

__all__ = ["AsyncMemory", "Memory", "MemoryNotFoundError"]

P = ParamSpec("P")
R = TypeVar("R")

_LIST_PAGE = 500
_SEARCH_WINDOW = 100


class MemoryNotFoundError(NotFoundError, ValueError):
    """No memory with that id for the owner this instance knows (mem0 raises ``ValueError``)."""


class AsyncMemory:
    """mem0's ``AsyncMemory`` methods over an ``openmem.AsyncMemory``.

    Pass an ``openmem.AsyncMemory``, or openmem's constructor options
    (``provider=``, ``url=``, ``llm=``, ...). ``add(..., infer=True)`` (mem0's default) runs
    openmem's inference pipeline and needs a chat model (``llm=``) or a backend that infers.
    """

    def __init__(self, memory: openmem.AsyncMemory | None = None, /, **options: Any) -> None:
        if memory is not None and options:
            raise TypeError("pass an openmem.AsyncMemory or openmem options, not both")
        self.memory = memory if memory is not None else openmem.AsyncMemory(**options)
        self._owners: dict[str, str] = {}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Self:
        """Build from an openmem configuration dict (not mem0's: the backends differ)."""
        return cls(openmem.AsyncMemory.from_config(config))

    async def close(self) -> None:
        """Close the openmem instance."""
        await self.memory.close()

    async def __aenter__(self) -> Self:
        await self.memory.initialize()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType
    ) -> None:
        await self.close()

    # -- writes ------------------------------------------------------------------------

    async def add(
        self,
        messages: Messages,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        infer: bool = True,
        memory_type: str | None = None,
        prompt: str | None = None,
    ) -> dict[str, Any]:
        """Store ``messages`` (a string, one message or a list); ``{"results": [...]}``.

        ``infer=False`` stores every non-system message as is, as mem0 does; ``infer=True``
        extracts and reconciles facts with openmem's pipeline.
        """
        if memory_type is not None or prompt is not None:
            raise ValueError("memory_type and prompt are mem0-specific and not supported")
        owner = owner_of(user_id, agent_id, run_id)
        conversation = as_messages(messages)
        common: dict[str, Any] = {
            "user_id": owner,
            "agent_id": agent_id,
            "session_id": run_id,
            "metadata": dict(metadata or {}),
        }
        results: list[dict[str, Any]] = []
        if infer:
            records = await self.memory.add(messages=conversation, infer=True, **common)
            for record in records:
                self._owners[record.id] = owner
                event = "UPDATE" if record.updated_at is not None else "ADD"
                results.append({"id": record.id, "memory": record.content, "event": event})
            return {"results": results}
        for message in conversation:
            role = str(message["role"])
            if role == "system":
                continue
            record = await self.memory.add(
                str(message["content"]), **common, x_mem0_compat={"role": role}
            )
            self._owners[record.id] = owner
            results.append(
                {
                    "id": record.id,
                    "memory": record.content,
                    "event": "ADD",
                    "actor_id": message.get("name"),
                    "role": role,
                }
            )
        return {"results": results}

    async def update(
        self,
        memory_id: str,
        data: str | None = None,
        *,
        text: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        user_id: str | None = None,
    ) -> dict[str, str]:
        """Replace the text (``data`` or ``text``) and merge ``metadata``."""
        owner = self._owner_of(memory_id, user_id)
        content = data if data is not None else text
        if content is None and metadata is None:
            raise ValueError("update needs data (the new text) or metadata")
        changes: dict[str, Any] = {}
        if content is not None:
            changes["content"] = content
        if metadata is not None:
            changes["metadata"] = dict(metadata)
        try:
            await self.memory.update(memory_id, user_id=owner, **changes)
        except NotFoundError as exc:
            raise _not_found(memory_id) from exc
        return {"message": "Memory updated successfully!"}

    async def delete(self, memory_id: str, *, user_id: str | None = None) -> dict[str, str]:
        """Delete one memory by id."""
        owner = self._owner_of(memory_id, user_id)
        try:
            await self.memory.delete(memory_id, user_id=owner)
        except NotFoundError as exc:
            raise _not_found(memory_id) from exc
        self._owners.pop(memory_id, None)
        return {"message": "Memory deleted successfully!"}

    async def delete_all(
        self, user_id: str | None = None, agent_id: str | None = None, run_id: str | None = None
    ) -> dict[str, str]:
        """Delete every memory of the user (or agent, or run)."""
        owner = owner_of(user_id, agent_id, run_id)
        capabilities = await self.memory.capabilities()
        if agent_id is None and run_id is None and capabilities.features.forget_user:
            await self.memory.forget_user(owner)
        else:
            for record in await self._all(owner, agent_id, run_id, {}):
                await self.memory.delete(record.id, user_id=owner)
        self._owners = {i: o for i, o in self._owners.items() if o != owner}
        return {"message": "Memories deleted successfully!"}

    # -- reads -------------------------------------------------------------------------

    async def get(self, memory_id: str, *, user_id: str | None = None) -> dict[str, Any] | None:
        """The memory as mem0 shapes it, or None."""
        owner = self._owners.get(memory_id, user_id)
        if owner is None:
            return None
        try:
            record = await self.memory.get(memory_id, user_id=owner)
        except NotFoundError:
            return None
        return {**mem0_shape(record, owner), "score": None}

    async def get_all(
        self,
        *,
        filters: Mapping[str, Any] | None = None,
        top_k: int = 20,
        limit: int | None = None,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
    ) -> dict[str, Any]:
        """Up to ``top_k`` (or ``limit``) memories of the entity: ``{"results": [...]}``."""
        entity, rest = entity_and_filters(
            filters, user_id=user_id, agent_id=agent_id, run_id=run_id
        )
        owner = owner_of(**entity)
        records = await self._all(owner, entity["agent_id"], entity["run_id"], rest)
        wanted = limit if limit is not None else top_k
        return {"results": [mem0_shape(r, owner) for r in records[:wanted]]}

    async def search(
        self,
        query: str,
        *,
        top_k: int = 20,
        limit: int | None = None,
        filters: Mapping[str, Any] | None = None,
        threshold: float | None = 0.1,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        rerank: bool = False,
    ) -> dict[str, Any]:
        """The best matches for ``query``: ``{"results": [{..., "score": s}, ...]}``.

        ``threshold`` is openmem's ``min_score`` (scores in [0, 1], higher is better); the
        search is semantic when the provider declares ``vector_search``, as mem0's is.
        """
        entity, rest = entity_and_filters(
            filters, user_id=user_id, agent_id=agent_id, run_id=run_id
        )
        owner = owner_of(**entity)
        wanted = limit if limit is not None else top_k
        narrowed = entity["agent_id"] is not None or entity["run_id"] is not None
        # mem0 ranks by vector similarity alone; so does the drop-in where it can.
        capabilities = await self.memory.capabilities()
        hits = await self.memory.search(
            query,
            owner,
            mode="semantic" if capabilities.features.vector_search else None,
            filters=rest or None,
            limit=_SEARCH_WINDOW if narrowed else min(wanted, _SEARCH_WINDOW),
            min_score=threshold,
        )
        results: list[dict[str, Any]] = []
        for hit in hits:
            if in_entity(hit.memory, entity["agent_id"], entity["run_id"]):
                self._owners[hit.memory.id] = owner
                results.append({**mem0_shape(hit.memory, owner), "score": hit.score})
        return {"results": results[:wanted]}

    async def history(self, memory_id: str, *, user_id: str | None = None) -> list[dict[str, Any]]:
        """The memory's changes, oldest first, from the audit log."""
        owner = self._owner_of(memory_id, user_id)
        entries = [
            e
            for e in reversed(await self.memory.audit(owner, limit=1000))
            if e.memory_id == memory_id and e.action in ("add", "update", "delete")
        ]
        if not entries:
            raise _not_found(memory_id)
        current = await self.get(memory_id, user_id=owner)
        events: list[dict[str, Any]] = []
        for index, entry in enumerate(entries):
            last = index == len(entries) - 1
            events.append(
                {
                    "id": entry.id,
                    "memory_id": memory_id,
                    "old_memory": None,
                    "new_memory": current["memory"] if last and current else None,
                    "event": entry.action.upper(),
                    "created_at": entries[0].timestamp.isoformat(),
                    "updated_at": entry.timestamp.isoformat(),
                    "is_deleted": entry.action == "delete",
                    "actor_id": None,
                    "role": None,
                }
            )
        return events

    # -- internals ---------------------------------------------------------------------

    def _owner_of(self, memory_id: str, user_id: str | None) -> str:
        owner = user_id if user_id is not None else self._owners.get(memory_id)
        if owner is None:
            raise _not_found(memory_id)
        return owner

    async def _all(
        self, owner: str, agent_id: str | None, run_id: str | None, metadata: Mapping[str, Any]
    ) -> list[MemoryRecord]:
        records: list[MemoryRecord] = []
        cursor: str | None = None
        while True:
            page = await self.memory.list(owner, limit=_LIST_PAGE, cursor=cursor)
            for record in page.items:
                if in_entity(record, agent_id, run_id) and all(
                    record.metadata.get(k) == v for k, v in metadata.items()
                ):
                    self._owners[record.id] = owner
                    records.append(record)
            cursor = page.next_cursor
            if cursor is None:
                return records


def _on_openmem_loop(memory: Memory) -> tuple[AsyncMemory, LoopRunner]:
    return memory._async, memory.memory.run


def _blocking(
    method: Callable[Concatenate[AsyncMemory, P], Awaitable[R]],
) -> Callable[Concatenate[Memory, P], R]:
    """The sync twin of an ``AsyncMemory`` method, run on the openmem ``Memory``'s loop."""
    return blocking_twin(method, _on_openmem_loop)


class Memory:
    """mem0's ``Memory`` methods over an ``openmem.Memory`` (synchronous code).

    Pass an ``openmem.Memory``, or openmem's constructor options.
    """

    def __init__(self, memory: openmem.Memory | None = None, /, **options: Any) -> None:
        if memory is not None and options:
            raise TypeError("pass an openmem.Memory or openmem options, not both")
        self.memory = memory if memory is not None else openmem.Memory(**options)
        self._async = AsyncMemory(self.memory.async_memory)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Self:
        """Build from an openmem configuration dict (not mem0's: the backends differ)."""
        return cls(openmem.Memory.from_config(config))

    def close(self) -> None:
        """Close the openmem instance."""
        self.memory.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType
    ) -> None:
        self.close()

    add = _blocking(AsyncMemory.add)
    update = _blocking(AsyncMemory.update)
    delete = _blocking(AsyncMemory.delete)
    delete_all = _blocking(AsyncMemory.delete_all)
    get = _blocking(AsyncMemory.get)
    get_all = _blocking(AsyncMemory.get_all)
    search = _blocking(AsyncMemory.search)
    history = _blocking(AsyncMemory.history)


def _not_found(memory_id: str) -> MemoryNotFoundError:
    return MemoryNotFoundError(f"Memory with id {memory_id} not found")
