"""``TranslatingProvider``: openmem's verb set over a synchronous SDK, on bounded threads.

Every SDK call runs on the provider's own ``Offloader``: a cancelled caller is released at
once, the thread's result is dropped, abandoned threads are counted and capped. What such SDKs
leave to their caller, the base does on every call: isolation by namespace and user (by-id
verbs included; ownership is checked on every row), scope/tag/metadata filters, validity and
supersession, full result pages, newest-first keyset pagination and idempotent adds.

A subclass declares what differs, as hooks that run on a worker thread with the backend:

    class MySdkProvider(TranslatingProvider[MySdkOptions, MySdkBackend]):
        name = "mysdk"
        Options = MySdkOptions
        sdk_updated_at_is_ours = True    # the SDK's updated_at moves on reads

        async def build_backend(self, offload): ...   # build (not open) the client
        def fetch(self, backend, user, memory_id): ... # the SDK's get, or None
        def list_raw(self, backend, user): ...
        def find_raw(self, backend, user, key, value): ...
        def search_raw(self, backend, user, query, top_k): ...
        def create_raw(self, backend, user, content, metadata, infer): ...
        def write_raw(self, backend, user, current, content, metadata): ...
        def delete_raw(self, backend, user, current): ...
"""

from __future__ import annotations

import builtins
from abc import abstractmethod
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

from openmem.cursors import decode_cursor
from openmem.errors import (
    ConflictError,
    NotFoundError,
    ProviderError,
    UnsupportedCapabilityError,
)
from openmem.llm.client import ChatMessage
from openmem.matching import page_of
from openmem.models import (
    VERBS,
    Capabilities,
    CapabilityFeatures,
    ListQuery,
    MemoryInput,
    MemoryPage,
    MemoryPatch,
    MemoryRecord,
    SearchHit,
    SearchQuery,
)
from openmem.provider import Caller
from openmem.translation.backend import AddInput
from openmem.translation.lifecycle import BackendT, OffloadedProvider, OptionsT
from openmem.translation.records import (
    IDEMPOTENCY_KEY,
    OPENMEM_KEY,
    fields_of_input,
    fields_of_record,
    input_digest,
    openmem_fields,
    record_from_raw,
    user_key,
)
from openmem.translation.search import filter_hits

__all__ = ["SEARCH_CAP", "RawMemory", "TranslatingProvider"]

RawMemory = dict[str, Any]
"""A memory as the SDK returns it: ``id`` (as a string), text, ``metadata``, timestamps,
``user_id``."""

_EMPTY_BY_DEFAULT = ("tags", "supersedes", "metadata")

SEARCH_CAP = 1_000
"""The widest ``top_k`` asked of the SDK while refilling a page that filters thinned out."""


class TranslatingProvider(OffloadedProvider[OptionsT, BackendT]):
    """The shared body of translation adapters; see the module docstring for the hooks."""

    sdk_updated_at_is_ours: ClassVar[bool] = False
    """True when the SDK's ``updated_at`` cannot be trusted (it moves on reads): openmem's own
    is kept in the record's ``openmem`` object instead."""

    def infers_by_itself(self) -> bool:
        """Whether ``add(messages=..., infer=True)`` can use the SDK's own inference.

        True when the SDK has an LLM configured (option ``llm``): its behaviour, its model.
        """
        return getattr(self.options, "llm", None) is not None

    def extra_features(self) -> dict[str, Any]:
        """``CapabilityFeatures`` fields beyond the ones every translation adapter declares."""
        return {}

    async def capabilities(self) -> Capabilities:
        return Capabilities(
            provider=self.name,
            verbs=[v for v in VERBS if v != "audit"],
            features=CapabilityFeatures(
                vector_search=True,
                temporal=True,
                scopes="native",
                supports_supersession=True,
                metadata_filters=True,
                idempotency=True,
                batch_add=True,
                forget_user=True,
                cancellation="thread",
                infer="backend" if self.infers_by_itself() else "none",
                **self.extra_features(),
            ),
        )

    # -- hooks: how to call it (each runs on a worker thread) ----------------------------

    @abstractmethod
    def fetch(self, backend: BackendT, user: str, memory_id: str) -> RawMemory | None:
        """The memory ``memory_id`` (any owner; ownership is checked here), or None."""

    @abstractmethod
    def list_raw(self, backend: BackendT, user: str) -> builtins.list[RawMemory]:
        """Every memory of ``user``."""

    @abstractmethod
    def find_raw(self, backend: BackendT, user: str, key: str, value: str) -> RawMemory | None:
        """A memory of ``user`` whose flat metadata ``key`` equals ``value``."""

    @abstractmethod
    def search_raw(
        self, backend: BackendT, user: str, query: str, top_k: int
    ) -> builtins.list[RawMemory]:
        """The SDK's ranking for ``query`` among ``user``'s memories, best first, ``score`` set."""

    @abstractmethod
    def create_raw(
        self, backend: BackendT, user: str, content: AddInput, metadata: dict[str, Any], infer: bool
    ) -> builtins.list[RawMemory]:
        """Store ``content``; the SDK's add results (ids, or queued events)."""

    @abstractmethod
    def write_raw(
        self,
        backend: BackendT,
        user: str,
        current: RawMemory,
        content: str | None,
        metadata: dict[str, Any],
    ) -> None:
        """Replace the text of ``current`` (None: unchanged) and merge ``metadata`` into it."""

    @abstractmethod
    def delete_raw(self, backend: BackendT, user: str, current: RawMemory) -> bool:
        """Delete ``current``; whether the SDK deleted it."""

    # -- writes ------------------------------------------------------------------------

    def embedding_model(self) -> str | None:
        """The model recorded with new memories (None when the SDK embeds by itself)."""
        return self._embedder.model

    def add_metadata(self, now: datetime) -> dict[str, Any]:
        """Flat SDK metadata stored with every new memory, beside the ``openmem`` object."""
        return {}

    async def add(self, caller: Caller, item: MemoryInput) -> MemoryRecord:
        user = user_key(caller)
        now = datetime.now(UTC)
        fields = fields_of_input(caller, item, self.embedding_model())
        # Empty, these are the model's defaults: left out, the payload the SDK decodes on every
        # search row stays small (records read them back as the defaults).
        for name in _EMPTY_BY_DEFAULT:
            if not fields.get(name, True):
                del fields[name]
        metadata: dict[str, Any] = {OPENMEM_KEY: fields, **self.add_metadata(now)}
        if item.idempotency_key is not None:
            # Only a retry under the same key compares the digest of the content.
            fields["input_sha256"] = input_digest(item.content)
            metadata[IDEMPOTENCY_KEY] = item.idempotency_key
        extension = item.extensions.get(f"x-{self.name}", {})
        infer = bool(extension.get("infer", self.options.infer))

        def work(backend: BackendT) -> builtins.list[RawMemory]:
            if item.idempotency_key is not None:
                existing = self.find_raw(backend, user, IDEMPOTENCY_KEY, item.idempotency_key)
                if existing is not None:
                    if openmem_fields(existing).get("input_sha256") != fields.get("input_sha256"):
                        raise ConflictError(
                            "idempotency_key was already used for different content",
                            field="idempotency_key",
                            provider=self.name,
                        )
                    return [existing]
            results = self.create_raw(backend, user, item.content, metadata, infer)
            created = [r for r in results if r.get("id")]
            if created:
                for old_id in item.supersedes:
                    self._mark_superseded(backend, user, old_id, str(created[0]["id"]))
            return results

        # Keyed: a retry after a cancelled add waits for the abandoned write, then finds it.
        key = (user, item.idempotency_key) if item.idempotency_key else None
        results = await self._call(work, key=key)
        if not results:
            raise ProviderError(f"{self.name} stored nothing for this content", provider=self.name)
        return self.record_of_add(caller, item, results, metadata, fields, now, infer)

    async def infer_messages(
        self, caller: Caller, messages: Sequence[ChatMessage], template: MemoryInput
    ) -> builtins.list[MemoryRecord]:
        """The conversation through the SDK's own ``add(messages, infer=True)``.

        Returns the memories the SDK reports as added or updated, read back from it.
        """
        if not self.infers_by_itself():
            raise UnsupportedCapabilityError(
                f"{self.name} has no llm configured for its own inference", provider=self.name
            )
        user = user_key(caller)
        now = datetime.now(UTC)
        fields = fields_of_input(caller, template, self.embedding_model())
        metadata: dict[str, Any] = {OPENMEM_KEY: fields, **self.add_metadata(now)}
        conversation = [{"role": m.role, "content": m.content} for m in messages]

        def work(backend: BackendT) -> builtins.list[RawMemory]:
            results = self.create_raw(backend, user, conversation, metadata, True)
            changed = [
                str(r["id"])
                for r in results
                if r.get("id") and str(r.get("event", "ADD")).upper() in ("ADD", "UPDATE")
            ]
            found = [self.fetch(backend, user, memory_id) for memory_id in changed]
            return [raw for raw in found if raw is not None]

        return [self.record(caller, raw) for raw in await self._call(work)]

    def record_of_add(
        self,
        caller: Caller,
        item: MemoryInput,
        results: builtins.list[RawMemory],
        metadata: dict[str, Any],
        fields: dict[str, Any],
        now: datetime,
        infer: bool,
    ) -> MemoryRecord:
        """The record an add answers with, from the SDK's add results."""
        first = results[0]
        if "metadata" in first:  # the stored row, or one found by its idempotency key
            return self.record(caller, first)
        raw = {
            "id": first["id"],
            "memory": first.get("memory") or item.content,
            "metadata": metadata,
            "created_at": now.isoformat(),
        }
        return self.record(caller, raw)

    def _mark_superseded(self, backend: BackendT, user: str, old_id: str, new_id: str) -> None:
        old = self.fetch(backend, user, old_id)
        if old is None or old.get("user_id") != user:
            return
        fields = openmem_fields(old)
        fields["superseded_by"] = new_id
        self.write_raw(backend, user, old, None, {OPENMEM_KEY: fields})

    async def update(self, caller: Caller, memory_id: str, patch: MemoryPatch) -> MemoryRecord:
        user = user_key(caller)

        def work(backend: BackendT) -> RawMemory:
            raw = self.owned(backend, user, memory_id)
            current = self.record(caller, raw)
            updated = patch.apply_to(current, now=datetime.now(UTC))
            fields = fields_of_record(
                caller, updated, openmem_fields(raw), keep_updated_at=self.sdk_updated_at_is_ours
            )
            content = updated.content if updated.content != current.content else None
            self.write_raw(backend, user, raw, content, {OPENMEM_KEY: fields})
            return self.owned(backend, user, memory_id)

        return self.record(caller, await self._call(work))

    async def delete(self, caller: Caller, memory_id: str) -> None:
        user = user_key(caller)

        def work(backend: BackendT) -> None:
            if not self.delete_raw(backend, user, self.owned(backend, user, memory_id)):
                raise NotFoundError(f"memory {memory_id!r} not found", provider=self.name)

        await self._call(work)

    async def forget_user(self, caller: Caller) -> int:
        user = user_key(caller)

        def work(backend: BackendT) -> int:
            deleted = 0
            # Re-list until empty: some SDKs' bulk deletes report success they did not have.
            for _ in range(3):
                rows = [r for r in self.list_raw(backend, user) if r.get("user_id", user) == user]
                if not rows:
                    break
                deleted += sum(1 for raw in rows if self.delete_raw(backend, user, raw))
            return deleted

        return await self._call(work)

    # -- reads -------------------------------------------------------------------------

    async def get(self, caller: Caller, memory_id: str) -> MemoryRecord:
        user = user_key(caller)
        raw = await self._call(lambda backend: self.owned(backend, user, memory_id))
        return self.record(caller, raw)

    async def list(self, caller: Caller, query: ListQuery) -> MemoryPage:
        if query.cursor:
            decode_cursor(query.cursor)  # a malformed cursor fails before any backend call
        user = user_key(caller)

        # Records are built and filtered on the worker thread; the loop gets the page.
        def work(backend: BackendT) -> MemoryPage:
            rows = self.list_raw(backend, user)
            return page_of((self.record(caller, r) for r in rows if _owns(r, user)), query)

        return await self._call(work)

    async def search(self, caller: Caller, query: SearchQuery) -> builtins.list[SearchHit]:
        user = user_key(caller)

        def work(backend: BackendT) -> builtins.list[SearchHit]:
            # Ranking, filtering and record building run here, on the worker thread: the
            # event loop only receives the finished hits.
            # Scope, tag and metadata filters are applied here, after the SDK ranked, so
            # ask for more rows up front when they may drop some; without them only an
            # inactive or superseded memory is dropped (rare), and the loop below refills.
            narrowed = query.scope is not None or bool(query.tags) or bool(query.filters)
            top_k = min(max(query.limit * 3, 30) if narrowed else query.limit, SEARCH_CAP)
            while True:
                rows = self.search_raw(backend, user, query.query, top_k)
                hits = filter_hits(
                    [(r, self.record(caller, r)) for r in rows if _owns(r, user)], query
                )
                if len(hits) >= query.limit or len(rows) < top_k or top_k >= SEARCH_CAP:
                    return hits[: query.limit]
                top_k = min(top_k * 4, SEARCH_CAP)  # filters ate the page: ask for more

        return await self._call(work)

    # -- for subclasses ----------------------------------------------------------------

    def record(self, caller: Caller, raw: RawMemory) -> MemoryRecord:
        """A ``MemoryRecord`` from one of the SDK's memory dicts."""
        return record_from_raw(
            caller, raw, sdk=self.name, updated_at_is_ours=self.sdk_updated_at_is_ours
        )

    def owned(self, backend: BackendT, user: str, memory_id: str) -> RawMemory:
        """The memory ``memory_id`` if ``user`` owns it; else ``NotFoundError`` (no leak)."""
        raw = self.fetch(backend, user, memory_id)
        if raw is None or not _owns(raw, user):
            raise NotFoundError(f"memory {memory_id!r} not found", provider=self.name)
        return raw


def _owns(raw: RawMemory, user: str) -> bool:
    return raw.get("user_id") == user
