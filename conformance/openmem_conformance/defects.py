"""Deliberately broken providers: each has a single defect the suite must catch.

Every class is the in-memory reference provider with one method bent out of shape, so a
failing check can only be blamed on that one defect. The suite's own tests run each one
against the checks that claim to catch it (``conformance/tests``); when you add a check,
add the defect it exists for here too. None of these is registered as a provider.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import socket
from collections.abc import Sequence
from typing import ClassVar

from openmem.context import pack_context
from openmem.cursors import decode_cursor, encode_cursor
from openmem.errors import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    RateLimitedError,
    UnsupportedCapabilityError,
)
from openmem.inmemory import InMemoryProvider
from openmem.models import (
    AuditEntry,
    AuditQuery,
    Capabilities,
    CapabilityFeatures,
    CapabilityLimits,
    ContextBlock,
    ContextQuery,
    IngestEvent,
    ListQuery,
    MemoryInput,
    MemoryPage,
    MemoryPatch,
    MemoryRecord,
    SearchHit,
    SearchQuery,
)
from openmem.provider import Caller, Provider

__all__ = [
    "AddAnswersAnotherId",
    "AuditFlagWithoutVerb",
    "AuditSkipsReads",
    "BatchAnswersOutOfOrder",
    "ConflictingIdempotencyKeyReturnsFirst",
    "ContextOverBudget",
    "CountsWordsNotTokens",
    "CrashesOnNulId",
    "CursorOnWholeSeconds",
    "DeclaresGraphQueries",
    "DeclaresKeywordButSearchesVectors",
    "DeclaresRateLimitItDoesNotEnforce",
    "DeleteLeavesSearchIndex",
    "DropsProvenance",
    "EmptyLastPage",
    "EmptyUserIsNotFound",
    "FiltersCompareAsText",
    "FlagsNothing",
    "ForeignServerSearchesInactiveToo",
    "ForgetUserCountsNothing",
    "ForgetUserIgnoresNamespace",
    "GetIgnoresUser",
    "HangsForever",
    "HonestForeignServer",
    "HybridIsSemanticOnly",
    "IgnoresCancellation",
    "LeaksASocket",
    "ListIgnoresTimeWindow",
    "ListsOldestFirst",
    "LosesConcurrentWrites",
    "NamespacesShared",
    "NonAtomicAdd",
    "OffsetCursor",
    "OverstatesContentLimit",
    "PartialUpdateOnBadInput",
    "QueuesWithoutDeclaring",
    "RateLimitsWithoutDeclaring",
    "RawUndeclaredAuditDoesIO",
    "RefusesSemanticMode",
    "ScopeFilterIsAPrefix",
    "ScoresAboveOne",
    "SearchIgnoresUser",
    "SearchesInactiveToo",
    "SwallowsCancellation",
    "TagFilterAfterLimit",
    "UnstableCapabilities",
    "UntypedNotFound",
    "UpdateIgnoresTags",
]


class SearchIgnoresUser(InMemoryProvider):
    """search() returns every user's memories of the namespace."""

    async def search(self, caller: Caller, query: SearchQuery) -> builtins.list[SearchHit]:
        hits: list[SearchHit] = []
        for user in {s.record.user_id for s in self._space(caller).memories.values()}:
            other = Caller(caller.namespace, user, caller.app)
            hits.extend(await super().search(other, query))
        hits.sort(key=lambda h: -h.score)
        return hits[: query.limit]


class GetIgnoresUser(InMemoryProvider):
    """get() finds a memory by id whoever asks."""

    async def get(self, caller: Caller, memory_id: str) -> MemoryRecord:
        stored = self._space(caller).memories.get(memory_id)
        if stored is None:
            return await super().get(caller, memory_id)
        return stored.record


class NamespacesShared(InMemoryProvider):
    """Every namespace is stored in the same place."""

    def _space(self, caller: Caller):  # type: ignore[no-untyped-def]
        return super()._space(Caller("shared", caller.user_id, caller.app))


class EmptyLastPage(InMemoryProvider):
    """list() hands out a next_cursor whenever the page is full, even on the last page."""

    async def list(self, caller: Caller, query: ListQuery) -> MemoryPage:
        if query.cursor == _END:
            return MemoryPage(items=[])
        page = await super().list(caller, query)
        if page.next_cursor is None and len(page.items) == query.limit:
            return MemoryPage(items=page.items, next_cursor=_END)
        return page


_END = "the-end"


def _offset_cursor(offset: int) -> str:
    return f"offset-{offset}"


class OffsetCursor(InMemoryProvider):
    """list() pages by offset, so inserts between pages shift items across pages."""

    async def list(self, caller: Caller, query: ListQuery) -> MemoryPage:
        offset = 0
        if query.cursor is not None:
            if not query.cursor.startswith("offset-"):
                raise InvalidRequestError("malformed cursor", field="cursor")
            offset = int(query.cursor.removeprefix("offset-"))
        everything = await super().list(
            caller, query.model_copy(update={"cursor": None, "limit": 500})
        )
        # Let concurrent writers in between pages, as a real round trip would.
        await asyncio.sleep(0.001)
        items = everything.items[offset : offset + query.limit]
        more = len(everything.items) > offset + query.limit
        return MemoryPage(
            items=items, next_cursor=_offset_cursor(offset + query.limit) if more else None
        )


class CursorOnWholeSeconds(InMemoryProvider):
    """list()'s keyset cursor keeps its timestamp to the second and compares the time alone:
    every memory written in the same second as a page's last one is skipped."""

    async def list(self, caller: Caller, query: ListQuery) -> MemoryPage:
        if query.cursor is None:
            return await super().list(caller, query)
        cut, _ = decode_cursor(query.cursor)
        second = cut.replace(microsecond=0)
        everything = await super().list(
            caller, query.model_copy(update={"cursor": None, "limit": 500})
        )
        rows = [r for r in everything.items if r.created_at.replace(microsecond=0) < second]
        page = rows[: query.limit]
        more = len(rows) > query.limit
        return MemoryPage(
            items=page,
            next_cursor=encode_cursor(page[-1].created_at, page[-1].id) if more else None,
        )


class IgnoresCancellation(InMemoryProvider):
    """Every cancelled read waits for its backend to acknowledge the cancel (a shielded round
    trip of 0.1 s) before it gives up: the caller waits too. Uncancelled reads take 10 ms, so
    only cancellation is slow: a whole suite against it fails that check alone, and quickly."""

    async def _slow(self) -> None:
        try:
            await asyncio.sleep(0.01)  # the backend call
        except asyncio.CancelledError:
            # "Cancel the statement server-side and wait until the server says it stopped."
            await asyncio.shield(asyncio.sleep(0.1))
            raise

    async def search(self, caller: Caller, query: SearchQuery) -> builtins.list[SearchHit]:
        await self._slow()
        return await super().search(caller, query)

    async def list(self, caller: Caller, query: ListQuery) -> MemoryPage:
        await self._slow()
        return await super().list(caller, query)


class SwallowsCancellation(InMemoryProvider):
    """search() catches CancelledError and returns a result anyway."""

    async def search(self, caller: Caller, query: SearchQuery) -> builtins.list[SearchHit]:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(0.02)
        return await super().search(caller, query)


class NonAtomicAdd(InMemoryProvider):
    """add() stores the memory, awaits, then writes the audit entry: half a write if cancelled."""

    async def add(self, caller: Caller, item: MemoryInput) -> MemoryRecord:
        record = self._new_record(caller, item)
        vector = (await self._embedder.embed([item.content]))[0]
        from openmem.inmemory_search import StoredMemory, terms_of  # the reference's storage

        self._space(caller).memories[record.id] = StoredMemory(
            record, vector, terms_of(record.content)
        )
        await asyncio.sleep(0)  # e.g. a second statement outside the transaction
        self._log(caller, "add", memory_id=record.id, scope=record.scope)
        return record


class LosesConcurrentWrites(InMemoryProvider):
    """add() writes back a stale copy of the table: concurrent adds overwrite each other."""

    async def add(self, caller: Caller, item: MemoryInput) -> MemoryRecord:
        from openmem.inmemory_search import StoredMemory, terms_of  # the reference's storage

        space = self._space(caller)
        snapshot = dict(space.memories)  # read ...
        vector = (await self._embedder.embed([item.content]))[0]
        await asyncio.sleep(0)  # ... a round trip ...
        record = self._new_record(caller, item)
        snapshot[record.id] = StoredMemory(record, vector, terms_of(record.content))
        space.memories = snapshot  # ... and write back what was read: a lost update
        self._log(caller, "add", memory_id=record.id, scope=record.scope)
        return record


class OverstatesContentLimit(InMemoryProvider):
    """Declares the default 100 000 characters but refuses anything over 1 000."""

    async def add(self, caller: Caller, item: MemoryInput) -> MemoryRecord:
        if len(item.content) > 1_000:
            raise InvalidRequestError("content is too long", field="content")
        return await super().add(caller, item)


class TagFilterAfterLimit(InMemoryProvider):
    """search() cuts at limit first and filters tags afterwards: short or empty pages."""

    async def search(self, caller: Caller, query: SearchQuery) -> builtins.list[SearchHit]:
        hits = await super().search(caller, query.model_copy(update={"tags": []}))
        return [h for h in hits if set(query.tags) <= set(h.memory.tags)]


class DeclaresKeywordButSearchesVectors(InMemoryProvider):
    """Declares keyword_search, but mode="keyword" runs the vector search."""

    async def search(self, caller: Caller, query: SearchQuery) -> builtins.list[SearchHit]:
        if query.mode == "keyword":
            query = query.model_copy(update={"mode": "semantic"})
        return await super().search(caller, query)


class PartialUpdateOnBadInput(InMemoryProvider):
    """update() writes the content before it finds the validity window invalid."""

    async def update(self, caller: Caller, memory_id: str, patch: MemoryPatch) -> MemoryRecord:
        stored = self._owned(caller, memory_id)
        if patch.content is not None:
            stored.record = stored.record.model_copy(update={"content": patch.content})
        return await super().update(caller, memory_id, patch)


class ContextOverBudget(InMemoryProvider):
    """context() packs twice the budget it was given."""

    async def context(self, caller: Caller, query: ContextQuery) -> ContextBlock:
        hits = await self._rank(
            caller, SearchQuery(query=query.query, scope=query.scope, limit=query.limit)
        )
        return pack_context(hits, query.token_budget * 2 + 10)


class AuditSkipsReads(InMemoryProvider):
    """Declares audit but logs only writes."""

    def _log(self, caller: Caller, action, **kwargs):  # type: ignore[no-untyped-def]
        if action in ("add", "update", "delete", "forget_user"):
            super()._log(caller, action, **kwargs)


class DeleteLeavesSearchIndex(InMemoryProvider):
    """delete() removes the row but search still finds it (a stale index)."""

    def __init__(self) -> None:
        super().__init__()
        self._tombstones: dict[str, SearchHit] = {}

    async def delete(self, caller: Caller, memory_id: str) -> None:
        record = self._owned(caller, memory_id).record
        await super().delete(caller, memory_id)
        self._tombstones[memory_id] = SearchHit(memory=record, score=1.0)

    async def search(self, caller: Caller, query: SearchQuery) -> builtins.list[SearchHit]:
        hits = await super().search(caller, query)
        stale = [h for h in self._tombstones.values() if h.memory.user_id == caller.user_id]
        return (stale + hits)[: query.limit]


class UpdateIgnoresTags(InMemoryProvider):
    """update() silently drops a change of tags."""

    async def update(self, caller: Caller, memory_id: str, patch: MemoryPatch) -> MemoryRecord:
        if "tags" in patch.model_fields_set:
            changes = patch.changes()
            changes.pop("tags")
            if not changes:
                return await self.get(caller, memory_id)
            patch = MemoryPatch.model_validate(changes)
        return await super().update(caller, memory_id, patch)


class HangsForever(InMemoryProvider):
    """get() never returns (a lost connection without a timeout)."""

    async def get(self, caller: Caller, memory_id: str) -> MemoryRecord:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


class ScoresAboveOne(InMemoryProvider):
    """search() scores are raw distances, not normalised into [0, 1] (and worst first)."""

    async def search(self, caller: Caller, query: SearchQuery) -> builtins.list[SearchHit]:
        hits = await super().search(caller, query)
        return [h.model_copy(update={"score": 1.0 + i}) for i, h in enumerate(hits)]


class UntypedNotFound(InMemoryProvider):
    """get() of an unknown id lets a KeyError escape."""

    async def get(self, caller: Caller, memory_id: str) -> MemoryRecord:
        return self._space(caller).memories[memory_id].record


class RawUndeclaredAuditDoesIO(InMemoryProvider):
    """Does not declare audit, yet audit() talks to the backend before refusing."""

    async def capabilities(self) -> Capabilities:
        caps = await super().capabilities()
        verbs = [v for v in caps.verbs if v != "audit"]
        features = caps.features.model_copy(update={"supports_audit": False})
        return caps.model_copy(update={"verbs": verbs, "features": features})

    async def audit(self, caller: Caller, query: AuditQuery) -> builtins.list[AuditEntry]:
        await asyncio.sleep(0)  # a round trip to ask the backend
        return await super().audit(caller, query)


class LeaksASocket(InMemoryProvider):
    """open() makes a connection that close() forgets."""

    leaked: ClassVar[builtins.list[socket.socket]] = []

    async def open(self) -> None:
        await super().open()
        self.leaked.extend(socket.socketpair())


class FlagsNothing(InMemoryProvider):
    """A well-behaved provider that declares only the REQUIRED verbs."""

    async def capabilities(self) -> Capabilities:
        return Capabilities(
            provider="minimal",
            verbs=["add", "get", "update", "delete", "list", "search"],
            features=CapabilityFeatures(cancellation="native"),
        )

    async def audit(self, caller: Caller, query: AuditQuery) -> builtins.list[AuditEntry]:
        return await Provider.audit(self, caller, query)

    async def forget_user(self, caller: Caller) -> int:
        return await Provider.forget_user(self, caller)


class ConflictingIdempotencyKeyReturnsFirst(InMemoryProvider):
    """A reused idempotency_key with other content returns the first record, no conflict."""

    async def add(self, caller: Caller, item: MemoryInput) -> MemoryRecord:
        try:
            return await super().add(caller, item)
        except ConflictError:
            key = (caller.user_id, item.idempotency_key or "")
            space = self._space(caller)
            return space.memories[space.idempotency[key]].record


class CountsWordsNotTokens(InMemoryProvider):
    """context() packs by words and reports that as token_count: the text runs over budget."""

    async def context(self, caller: Caller, query: ContextQuery) -> ContextBlock:
        hits = await self._rank(
            caller, SearchQuery(query=query.query, scope=query.scope, limit=query.limit)
        )
        return pack_context(hits, query.token_budget, token_counter=lambda s: len(s.split()))


class CrashesOnNulId(InMemoryProvider):
    """get() of an id with a NUL byte lets the backend's KeyError escape.

    ``AsyncMemory`` refuses such an id before the provider, so only a raw call shows it.
    """

    async def get(self, caller: Caller, memory_id: str) -> MemoryRecord:
        if "\x00" in memory_id:
            raise KeyError(memory_id)
        return await super().get(caller, memory_id)


class DeclaresGraphQueries(InMemoryProvider):
    """Declares graph_queries, a feature no check can prove."""

    async def capabilities(self) -> Capabilities:
        caps = await super().capabilities()
        features = caps.features.model_copy(update={"graph_queries": True})
        return caps.model_copy(update={"features": features})


class AuditFlagWithoutVerb(InMemoryProvider):
    """Declares supports_audit but not the audit verb, so its audit check never runs."""

    async def capabilities(self) -> Capabilities:
        caps = await super().capabilities()
        return caps.model_copy(update={"verbs": [v for v in caps.verbs if v != "audit"]})


class DeclaresRateLimitItDoesNotEnforce(InMemoryProvider):
    """Declares rate_limit_per_minute=50 and serves every call anyway."""

    async def capabilities(self) -> Capabilities:
        caps = await super().capabilities()
        return caps.model_copy(update={"limits": CapabilityLimits(rate_limit_per_minute=50)})


class ForgetUserIgnoresNamespace(InMemoryProvider):
    """forget_user() deletes the user_id in every namespace, not only the caller's."""

    async def forget_user(self, caller: Caller) -> int:
        deleted = 0
        for namespace in builtins.list(self._namespaces):
            deleted += await super().forget_user(
                Caller(namespace, caller.user_id, caller.app, caller.request_id)
            )
        return deleted


class QueuesWithoutDeclaring(InMemoryProvider):
    """add() answers status "queued" without declaring async_ingestion."""

    async def add(self, caller: Caller, item: MemoryInput) -> MemoryRecord:
        record = await super().add(caller, item)
        return record.model_copy(update={"status": "queued"})


class RateLimitsWithoutDeclaring(InMemoryProvider):
    """list() is refused with rate_limited after 20 calls, with no limit declared."""

    def __init__(self) -> None:
        super().__init__()
        self._lists = 0

    async def list(self, caller: Caller, query: ListQuery) -> MemoryPage:
        self._lists += 1
        if self._lists > 20:
            raise RateLimitedError("slow down", retry_after=60)
        return await super().list(caller, query)


class DropsProvenance(InMemoryProvider):
    """add() forgets agent_id and session_id (the backend has no column for them)."""

    async def add(self, caller: Caller, item: MemoryInput) -> MemoryRecord:
        return await super().add(
            caller, item.model_copy(update={"agent_id": None, "session_id": None})
        )


class AddAnswersAnotherId(InMemoryProvider):
    """add() answers a freshly minted id instead of the one it stored."""

    async def add(self, caller: Caller, item: MemoryInput) -> MemoryRecord:
        record = await super().add(caller, item)
        return record.model_copy(update={"id": record.id + "x"})


class ListsOldestFirst(InMemoryProvider):
    """list() returns each page oldest first."""

    async def list(self, caller: Caller, query: ListQuery) -> MemoryPage:
        page = await super().list(caller, query)
        return page.model_copy(update={"items": builtins.list(reversed(page.items))})


class ListIgnoresTimeWindow(InMemoryProvider):
    """list() drops since and until."""

    async def list(self, caller: Caller, query: ListQuery) -> MemoryPage:
        return await super().list(caller, query.model_copy(update={"since": None, "until": None}))


class EmptyUserIsNotFound(InMemoryProvider):
    """search() of a user without memories raises not_found instead of answering []."""

    async def search(self, caller: Caller, query: SearchQuery) -> builtins.list[SearchHit]:
        if not any(s.record.user_id == caller.user_id for s in self._owned_all(caller)):
            raise NotFoundError("no such user")
        return await super().search(caller, query)


class SearchesInactiveToo(InMemoryProvider):
    """search() always includes expired, not-yet-valid and superseded memories."""

    async def search(self, caller: Caller, query: SearchQuery) -> builtins.list[SearchHit]:
        return await super().search(caller, query.model_copy(update={"include_inactive": True}))


class HonestForeignServer(InMemoryProvider):
    """Not a defect: the honest counterpart of the foreign-server defects below, a stand-in
    for a foreign OMP 0.1 server reached over the wire. It announces no openmem extension
    and declares (``server_capabilities``) temporal validity and supersession, which it
    honours."""

    announces_openmem_extensions = False

    @property
    def server_capabilities(self) -> Capabilities:
        """What the server's ``GET /capabilities`` claims."""
        return Capabilities(
            provider="foreign",
            verbs=["add", "get", "update", "delete", "list", "search"],
            features=CapabilityFeatures(temporal=True, supports_supersession=True),
        )


class ForeignServerSearchesInactiveToo(HonestForeignServer):
    """A foreign OMP server that declares temporal validity and supersession, yet its
    search returns expired and superseded memories."""

    async def search(self, caller: Caller, query: SearchQuery) -> builtins.list[SearchHit]:
        return await super().search(caller, query.model_copy(update={"include_inactive": True}))


class ForgetUserCountsNothing(InMemoryProvider):
    """forget_user() deletes but answers 0."""

    async def forget_user(self, caller: Caller) -> int:
        await super().forget_user(caller)
        return 0


class BatchAnswersOutOfOrder(InMemoryProvider):
    """add_many() stores every item but answers the records in reverse order."""

    async def add_many(
        self, caller: Caller, items: Sequence[MemoryInput]
    ) -> builtins.list[MemoryRecord]:
        records = await super().add_many(caller, items)
        return records[::-1] if len(records) > 1 else records


class RefusesSemanticMode(InMemoryProvider):
    """Declares vector_search, yet mode="semantic" raises unsupported_capability."""

    async def search(self, caller: Caller, query: SearchQuery) -> builtins.list[SearchHit]:
        if query.mode == "semantic":
            raise UnsupportedCapabilityError("semantic search is not configured")
        return await super().search(caller, query)


class HybridIsSemanticOnly(InMemoryProvider):
    """Declares hybrid_search, but mode="hybrid" runs the vector search alone."""

    async def search(self, caller: Caller, query: SearchQuery) -> builtins.list[SearchHit]:
        if query.mode == "hybrid":
            query = query.model_copy(update={"mode": "semantic"})
        return await super().search(caller, query)


class ScopeFilterIsAPrefix(InMemoryProvider):
    """search() matches scopes by string prefix: "coding" also finds "codingstyle"."""

    async def search(self, caller: Caller, query: SearchQuery) -> builtins.list[SearchHit]:
        if query.scope is None:
            return await super().search(caller, query)
        hits = await super().search(caller, query.model_copy(update={"scope": None, "limit": 100}))
        prefix = query.scope.rstrip("/*")
        return [h for h in hits if (h.memory.scope or "").startswith(prefix)][: query.limit]


class UnstableCapabilities(InMemoryProvider):
    """capabilities() answers a different max_list_limit each time it is asked."""

    def __init__(self) -> None:
        super().__init__()
        self._asked = 0

    async def capabilities(self) -> Capabilities:
        caps = await super().capabilities()
        self._asked += 1
        limits = caps.limits.model_copy(update={"max_list_limit": 400 + self._asked})
        return caps.model_copy(update={"limits": limits})


class FiltersCompareAsText(InMemoryProvider):
    """search(filters=...) compares metadata as text (``metadata->>key = value``): "1" is 1."""

    async def search(self, caller: Caller, query: SearchQuery) -> builtins.list[SearchHit]:
        if not query.filters:
            return await super().search(caller, query)
        wanted = {k: str(v) for k, v in query.filters.items()}
        hits = await super().search(caller, query.model_copy(update={"filters": {}, "limit": 100}))
        return [
            h for h in hits if all(str(h.memory.metadata.get(k)) == v for k, v in wanted.items())
        ][: query.limit]


class QueuedAddsReference(InMemoryProvider):
    """Not a defect: the in-memory reference with ``async_ingest`` (a queued add is written
    at once, its event already succeeded), which the defects below bend."""

    def __init__(self) -> None:
        super().__init__()
        self._events: dict[str, IngestEvent] = {}

    async def capabilities(self) -> Capabilities:
        caps = await super().capabilities()
        features = caps.features.model_copy(update={"async_ingest": True})
        return caps.model_copy(update={"features": features})

    async def enqueue_add(
        self, caller: Caller, items: Sequence[MemoryInput]
    ) -> builtins.list[MemoryRecord]:
        records = [await self.add(caller, item) for item in items]
        event = IngestEvent(
            id=f"evt_{len(self._events)}_{caller.user_id}",
            user_id=caller.user_id,
            status="SUCCEEDED",
            created_at=records[0].created_at,
            attempts=1,
            memory_ids=[r.id for r in records],
        )
        self._events[event.id] = event
        return [r.model_copy(update={"status": "queued", "event_id": event.id}) for r in records]

    async def get_event(self, caller: Caller, event_id: str) -> IngestEvent:
        event = self._events.get(event_id)
        if event is None or event.user_id != caller.user_id:
            raise NotFoundError(f"no event {event_id!r}")
        return event


class QueuedWithoutEvent(QueuedAddsReference):
    """Answers a queued add without its event_id."""

    async def enqueue_add(
        self, caller: Caller, items: Sequence[MemoryInput]
    ) -> builtins.list[MemoryRecord]:
        queued = await super().enqueue_add(caller, items)
        return [r.model_copy(update={"event_id": None}) for r in queued]


class QueueWritesTwice(QueuedAddsReference):
    """Runs every queued batch twice: each item is written two times."""

    async def enqueue_add(
        self, caller: Caller, items: Sequence[MemoryInput]
    ) -> builtins.list[MemoryRecord]:
        await super().enqueue_add(caller, items)
        return await super().enqueue_add(caller, items)


class EventsIgnoreUser(QueuedAddsReference):
    """Hands any user's event to whoever asks."""

    async def get_event(self, caller: Caller, event_id: str) -> IngestEvent:
        event = self._events.get(event_id)
        if event is None:
            raise NotFoundError(f"no event {event_id!r}")
        return event
