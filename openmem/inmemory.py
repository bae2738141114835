"""The in-process reference provider: every verb, audit included, in plain Python.

It is what tests and application fakes use, and the model the conformance suite's state
machine compares other providers against, so it favours obvious correctness over speed:
linear scans, one dict per namespace. It is safe under concurrent tasks because every state
change happens between two awaits (the only await is the embedder), which also makes every
write atomic under cancellation.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import ClassVar

from ulid import ULID

from openmem.context import pack_context
from openmem.embedders import EmbedderOptions
from openmem.errors import ConflictError, NotFoundError
from openmem.inmemory_search import StoredMemory, rank, terms_of
from openmem.llm.decisions import INFER_METADATA_KEY, Decision
from openmem.matching import page_of
from openmem.models import (
    VERBS,
    AuditAction,
    AuditEntry,
    AuditQuery,
    Capabilities,
    CapabilityFeatures,
    ContextBlock,
    ContextQuery,
    ListQuery,
    MemoryInput,
    MemoryKey,
    MemoryPage,
    MemoryPatch,
    MemoryRecord,
    SearchHit,
    SearchQuery,
    new_memory_id,
)
from openmem.provider import Caller, Provider

__all__ = ["InMemoryOptions", "InMemoryProvider"]


class InMemoryOptions(EmbedderOptions):
    """Options of the in-memory provider: only the embedder.

    The embedder defaults to the semantic one every provider that embeds uses (``onnx``,
    see ``openmem.embedders``), so recall by meaning works here as it does on postgres.
    Pass ``embedder="hashing"`` for the lexical, deterministic, instant one.
    """


@dataclass
class _Namespace:
    memories: dict[str, StoredMemory] = field(default_factory=dict)
    audit: builtins.list[AuditEntry] = field(default_factory=list)
    idempotency: dict[tuple[str, str], str] = field(default_factory=dict)


class InMemoryProvider(Provider[InMemoryOptions]):
    """Memories in a dict, per namespace; nothing survives the process.

    >>> async with AsyncMemory(provider="inmemory") as mem: ...
    """

    name: ClassVar[str] = "inmemory"
    Options = InMemoryOptions

    def __init__(self, options: InMemoryOptions | None = None, /, **kwargs: object) -> None:
        super().__init__(options, **kwargs)
        self._embedder = self.options.build_embedder()
        self._namespaces: dict[str, _Namespace] = {}

    async def close(self) -> None:
        await self._embedder.aclose()

    async def capabilities(self) -> Capabilities:
        return Capabilities(
            provider=self.name,
            verbs=builtins.list(VERBS),
            features=CapabilityFeatures(
                vector_search=True,
                keyword_search=True,
                hybrid_search=True,
                temporal=True,
                scopes="native",
                supports_audit=True,
                supports_supersession=True,
                metadata_filters=True,
                idempotency=True,
                batch_add=True,
                forget_user=True,
                cancellation="native",
                infer="pipeline",
                client_keys=True,
            ),
        )

    # -- writes ------------------------------------------------------------------------

    async def add(self, caller: Caller, item: MemoryInput) -> MemoryRecord:
        return (await self.add_many(caller, [item]))[0]

    async def add_many(
        self, caller: Caller, items: Sequence[MemoryInput]
    ) -> builtins.list[MemoryRecord]:
        vectors = await self._embedder.embed([item.content for item in items])
        # No await from here on: the batch lands whole or not at all.
        space = self._space(caller)
        # One batch, one instant (as in one SQL transaction): its memories share created_at,
        # so the reference exercises keyset ties on id the way a database does.
        now = datetime.now(UTC)
        records: builtins.list[MemoryRecord] = []
        for item, vector in zip(items, vectors, strict=True):
            key = (caller.user_id, item.idempotency_key) if item.idempotency_key else None
            if key is not None and key in space.idempotency:
                existing = space.memories.get(space.idempotency[key])
                if existing is not None:
                    if existing.record.content != item.content:
                        raise ConflictError(
                            "idempotency_key was already used for different content",
                            field="idempotency_key",
                        )
                    records.append(existing.record)
                    continue
            record = self._new_record(caller, item, now)
            action: AuditAction = "add"
            if item.key is not None:
                keyed = self._keyed(caller, MemoryKey(key=item.key, scope=item.scope))
                if keyed is not None:
                    # A put over an existing key: the memory is replaced whole, its id kept.
                    record = record.model_copy(
                        update={
                            "id": keyed.record.id,
                            "created_at": keyed.record.created_at,
                            "updated_at": record.created_at,
                        }
                    )
                    action = "update"
            space.memories[record.id] = StoredMemory(record, vector, terms_of(record.content))
            if key is not None:
                space.idempotency[key] = record.id
            self._log(caller, action, memory_id=record.id, scope=record.scope)
            records.append(record)
        return records

    async def apply_decisions(
        self, caller: Caller, decisions: Sequence[Decision]
    ) -> builtins.list[MemoryRecord]:
        """Apply the infer pipeline's decisions; all land between two awaits, or none."""
        texts = [d.memory.content if d.memory is not None else d.content for d in decisions]
        wanted = [t for t in texts if t is not None]
        vectors = iter(await self._embedder.embed(wanted) if wanted else [])
        # No await from here on: every check comes before the first change.
        for decision in decisions:
            target = decision.target
            current = self._space(caller).memories.get(target.id) if target else None
            if target is not None and (current is None or current.record != target):
                raise ConflictError(
                    f"memory {target.id} changed while its conversation was inferred; retry",
                    provider=self.name,
                )
        space = self._space(caller)
        now = datetime.now(UTC)
        written: builtins.list[MemoryRecord] = []
        for decision, text in zip(decisions, texts, strict=True):
            target, item = decision.target, decision.memory
            vector = next(vectors) if text is not None else None
            if decision.event == "UPDATE" and target is not None and vector is not None:
                metadata = {
                    **target.metadata,
                    INFER_METADATA_KEY: decision.provenance.as_metadata(),
                }
                updated = MemoryPatch(content=decision.content, metadata=metadata).apply_to(
                    target, now=now
                )
                space.memories[target.id] = StoredMemory(updated, vector, terms_of(updated.content))
                self._log_decision(caller, "update", updated, decision)
                written.append(updated)
            elif decision.event == "DELETE" and target is not None:
                retired = MemoryPatch(valid_to=now).apply_to(target, now=now)
                stored = space.memories[target.id]
                space.memories[target.id] = StoredMemory(retired, stored.vector, stored.terms)
                self._log_decision(caller, "update", retired, decision)
            if item is not None and vector is not None:
                record = self._new_record(caller, item)
                space.memories[record.id] = StoredMemory(record, vector, terms_of(record.content))
                self._log_decision(caller, "add", record, decision)
                written.append(record)
            elif decision.event == "NONE" and target is not None:
                self._log_decision(caller, "add", target, decision)
        return written

    def _log_decision(
        self, caller: Caller, action: AuditAction, record: MemoryRecord, decision: Decision
    ) -> None:
        self._log(
            caller,
            action,
            memory_id=record.id,
            scope=record.scope,
            details=decision.audit_details(),
        )

    def _new_record(
        self, caller: Caller, item: MemoryInput, now: datetime | None = None
    ) -> MemoryRecord:
        now = now or datetime.now(UTC)
        data = item.model_dump(mode="python", exclude={"idempotency_key"}, exclude_none=True)
        data.update(
            id=new_memory_id(),
            user_id=caller.user_id,
            created_at=now,
            embedding_model=self._embedder.model,
        )
        return MemoryRecord.model_validate(data)

    async def update(self, caller: Caller, memory_id: str, patch: MemoryPatch) -> MemoryRecord:
        stored = self._owned(caller, memory_id)
        updated = patch.apply_to(stored.record, now=datetime.now(UTC))
        self._check_key_free(caller, updated)
        vector = stored.vector
        if updated.content != stored.record.content:
            vector = (await self._embedder.embed([updated.content]))[0]
            self._owned(caller, memory_id)  # it may have gone while we embedded
            self._check_key_free(caller, updated)
        space = self._space(caller)
        space.memories[memory_id] = StoredMemory(updated, vector, terms_of(updated.content))
        self._log(caller, "update", memory_id=memory_id, scope=updated.scope)
        return updated

    def _check_key_free(self, caller: Caller, updated: MemoryRecord) -> None:
        """A keyed memory moved to another scope must not take the key of a memory there."""
        if updated.key is None:
            return
        other = self._keyed(caller, MemoryKey(key=updated.key, scope=updated.scope))
        if other is not None and other.record.id != updated.id:
            raise ConflictError(
                f"key {updated.key!r} is already taken in scope {updated.scope!r}",
                field="scope",
                provider=self.name,
            )

    async def delete_by_key(self, caller: Caller, where: MemoryKey) -> None:
        stored = self._keyed_or_missing(caller, where)
        del self._space(caller).memories[stored.record.id]
        self._log(caller, "delete", memory_id=stored.record.id, scope=stored.record.scope)

    async def get_by_key(self, caller: Caller, where: MemoryKey) -> MemoryRecord:
        stored = self._keyed_or_missing(caller, where)
        self._log(caller, "get", memory_id=stored.record.id, scope=stored.record.scope)
        return stored.record

    def _keyed(self, caller: Caller, where: MemoryKey) -> StoredMemory | None:
        for stored in self._owned_all(caller):
            if stored.record.key == where.key and stored.record.scope == where.scope:
                return stored
        return None

    def _keyed_or_missing(self, caller: Caller, where: MemoryKey) -> StoredMemory:
        stored = self._keyed(caller, where)
        if stored is None:
            raise NotFoundError(
                f"no memory with key {where.key!r} in scope {where.scope!r}", provider=self.name
            )
        return stored

    async def delete(self, caller: Caller, memory_id: str) -> None:
        stored = self._owned(caller, memory_id)
        del self._space(caller).memories[memory_id]
        self._log(caller, "delete", memory_id=memory_id, scope=stored.record.scope)

    async def forget_user(self, caller: Caller) -> int:
        space = self._space(caller)
        ids = [i for i, s in space.memories.items() if s.record.user_id == caller.user_id]
        for memory_id in ids:
            del space.memories[memory_id]
        space.idempotency = {k: v for k, v in space.idempotency.items() if k[0] != caller.user_id}
        self._log(caller, "forget_user", details={"deleted": len(ids)})
        return len(ids)

    # -- reads -------------------------------------------------------------------------

    async def get(self, caller: Caller, memory_id: str) -> MemoryRecord:
        stored = self._owned(caller, memory_id)
        self._log(caller, "get", memory_id=memory_id, scope=stored.record.scope)
        return stored.record

    async def lookup(self, caller: Caller, memory_id: str) -> MemoryRecord:
        return self._owned(caller, memory_id).record

    async def list(self, caller: Caller, query: ListQuery) -> MemoryPage:
        page = page_of((s.record for s in self._owned_all(caller)), query)
        self._log(caller, "list", scope=query.scope, details={"count": len(page.items)})
        return page

    async def search(self, caller: Caller, query: SearchQuery) -> builtins.list[SearchHit]:
        hits = await self._rank(caller, query)
        self._log(caller, "search", scope=query.scope, details={"count": len(hits)})
        return hits

    async def context(self, caller: Caller, query: ContextQuery) -> ContextBlock:
        hits = await self._rank(
            caller,
            SearchQuery(query=query.query, scope=query.scope, tags=query.tags, limit=query.limit),
        )
        block = pack_context(hits, query.token_budget)
        self._log(caller, "context", scope=query.scope, details={"count": len(block.citations)})
        return block

    async def audit(self, caller: Caller, query: AuditQuery) -> builtins.list[AuditEntry]:
        entries = [
            e
            for e in reversed(self._space(caller).audit)
            if e.user_id == caller.user_id
            and (query.app is None or e.app == query.app)
            and (query.action is None or e.action == query.action)
            and (query.since is None or e.timestamp >= query.since)
        ]
        return entries[: query.limit]

    async def _rank(self, caller: Caller, query: SearchQuery) -> builtins.list[SearchHit]:
        vector = (await self._embedder.embed([query.query]))[0]
        return rank(builtins.list(self._owned_all(caller)), vector, query, datetime.now(UTC))

    # -- internals ---------------------------------------------------------------------

    def _space(self, caller: Caller) -> _Namespace:
        return self._namespaces.setdefault(caller.namespace, _Namespace())

    def _owned(self, caller: Caller, memory_id: str) -> StoredMemory:
        stored = self._space(caller).memories.get(memory_id)
        if stored is None or stored.record.user_id != caller.user_id:
            raise NotFoundError(f"memory {memory_id!r} not found", provider=self.name)
        return stored

    def _owned_all(self, caller: Caller) -> Iterable[StoredMemory]:
        return [
            s for s in self._space(caller).memories.values() if s.record.user_id == caller.user_id
        ]

    def _log(
        self,
        caller: Caller,
        action: AuditAction,
        *,
        memory_id: str | None = None,
        scope: str | None = None,
        details: dict[str, object] | None = None,
    ) -> None:
        self._space(caller).audit.append(
            AuditEntry(
                id=f"aud_{ULID()}",
                timestamp=datetime.now(UTC),
                user_id=caller.user_id,
                action=action,
                memory_id=memory_id,
                scope=scope,
                app=caller.app,
                request_id=caller.request_id,
                details=details or {},
            )
        )
