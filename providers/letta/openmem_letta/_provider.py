"""``LettaProvider``: Letta archival memory behind openmem's verb set, on ``AsyncLetta``.

One Letta agent per (namespace, user), named ``openmem:<namespace>:<user>`` (both
percent-encoded, so the name is injective): a new provider instance, or another process,
finds the same agent by that name, and two namespaces never share one. A memory is one
archival passage whose tags carry every openmem field (``_passages``).

Verbs:

- ``add``: ``POST /v1/agents/{id}/archival-memory`` with ``created_at`` and the tags.
- ``get``: the archival search restricted to the memory's ``om:id:`` tag.
- ``update``: Letta cannot change a passage, so a new passage is written (same openmem id,
  same ``created_at``) and the old one deleted: the openmem id never changes, the Letta
  passage id does. A read between the two steps, or after a cancel
  between them, sees the newest version only.
- ``delete``: every passage of the memory; ``forget_user``: the user's agent.
- ``list``: the agent's passages page by page from the service (``after`` = last passage
  id), then filtered and cut by ``openmem.matching``, so pages are full until the last.
- ``search``: ``POST /v1/passages/search`` for the user's agent, tag filters sent to Letta,
  scope/metadata/validity filters applied here, refilling the page while filters eat it.
  Scores are the ``score`` Letta returns (documented only as a relevance score, higher is
  better) clamped into [0, 1]; the per-agent archival search route returns no score at all.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx
from ulid import ULID

from openmem.cursors import decode_cursor
from openmem.errors import NotFoundError, ProviderError, ProviderUnavailableError
from openmem.matching import matches_search, page_of
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
from openmem.provider import Caller, Provider
from openmem.translation import fields_of_input, fields_of_record, user_key
from openmem_letta._client import LettaCalls, build_calls
from openmem_letta._options import LettaOptions
from openmem_letta._passages import (
    StoredPassage,
    id_tag,
    passage_tags,
    records_of,
    tag_tag,
)

__all__ = ["LettaProvider"]

_PAGE = 100  # passages per list request
_SEARCH_CAP = 1_000  # the widest limit asked of Letta while refilling a filtered page
_AGENT_TAG = "openmem"


class LettaProvider(Provider[LettaOptions]):
    """Letta archival memory, one agent per (namespace, user), on the native async client.

    >>> async with AsyncMemory("letta", api_key="sk-let-...") as mem:
    ...     await mem.add("prefers dark mode", user_id="u1")

    ``http_client`` (tests) is the ``httpx.AsyncClient`` handed to ``AsyncLetta``, e.g. one
    whose transport is a local contract fake; the provider does not close it.
    """

    name: ClassVar[str] = "letta"
    Options = LettaOptions

    def __init__(
        self,
        options: LettaOptions | None = None,
        /,
        *,
        http_client: httpx.AsyncClient | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(options, **kwargs)
        self._http_client = http_client
        self._calls: LettaCalls | None = None
        self._agents: dict[str, str] = {}
        self._agent_locks: dict[str, asyncio.Lock] = {}

    def __repr__(self) -> str:
        where = self.options.base_url or "letta cloud"
        return f"LettaProvider(base_url={where!r}, client={self.options.client!r})"

    # -- lifecycle ---------------------------------------------------------------------

    async def open(self) -> None:
        if self._calls is not None:
            return
        try:
            calls = build_calls(self.options, self._http_client)
        except Exception as exc:  # the client refuses a missing key in its constructor
            raise ProviderUnavailableError(
                f"letta client could not be built: {type(exc).__name__}", provider=self.name
            ) from None
        try:
            await calls.find_agents(f"{_AGENT_TAG}:probe")  # a bad key fails here, typed
        except BaseException:
            await calls.aclose()
            raise
        self._calls = calls

    async def close(self) -> None:
        calls, self._calls = self._calls, None
        self._agents.clear()
        if calls is not None:
            await calls.aclose()

    async def health(self) -> None:
        await self._client().find_agents(f"{_AGENT_TAG}:probe")

    async def capabilities(self) -> Capabilities:
        return Capabilities(
            provider=self.name,
            verbs=[v for v in VERBS if v != "audit"],
            features=CapabilityFeatures(
                vector_search=True,
                temporal=True,
                scopes="tags",
                metadata_filters=True,
                forget_user=True,
                cancellation="thread" if self.options.client == "sync" else "native",
            ),
        )

    # -- agents ------------------------------------------------------------------------

    def _client(self) -> LettaCalls:
        if self._calls is None:
            raise ProviderUnavailableError("the letta provider is not open", provider=self.name)
        return self._calls

    async def _agent(self, caller: Caller, *, create: bool) -> str | None:
        """The id of the caller's agent; created on first write, never on a read."""
        name = f"{_AGENT_TAG}:{user_key(caller)}"
        known = self._agents.get(name)
        if known is not None:
            return known
        lock = self._agent_locks.setdefault(name, asyncio.Lock())
        async with lock:
            if (known := self._agents.get(name)) is not None:
                return known
            calls = self._client()
            found = await calls.find_agents(name)
            if found:
                # Two processes racing on a user's first write may both create one: the
                # oldest is the user's agent, for every process, always.
                agent_id = min(found, key=_age)[0]
            elif create:
                agent_id = await calls.create_agent(name, [_AGENT_TAG])
            else:
                return None
            self._agents[name] = agent_id
            return agent_id

    def _forget_agent(self, caller: Caller) -> None:
        self._agents.pop(f"{_AGENT_TAG}:{user_key(caller)}", None)

    async def _passages_of(self, agent_id: str, memory_id: str) -> list[StoredPassage]:
        return await self._client().search_passages(agent_id, None, [id_tag(memory_id)], 10)

    async def _current(self, caller: Caller, memory_id: str) -> tuple[str, list[StoredPassage]]:
        agent_id = await self._agent(caller, create=False)
        passages = [] if agent_id is None else await self._passages_of(agent_id, memory_id)
        passages = [p for p in passages if p.memory_id() == memory_id]
        if agent_id is None or not records_of(caller, passages):
            raise NotFoundError(f"memory {memory_id!r} not found", provider=self.name)
        return agent_id, passages

    # -- writes ------------------------------------------------------------------------

    async def add(self, caller: Caller, item: MemoryInput) -> MemoryRecord:
        now = datetime.now(UTC)
        memory_id = str(ULID())
        fields = fields_of_input(caller, item, None)
        fields["updated_at"] = now.isoformat()
        tags = passage_tags(memory_id, item.tags, fields)
        agent_id = await self._agent(caller, create=True)
        assert agent_id is not None
        try:
            created = await self._client().create_passage(agent_id, item.content, now, tags)
        except NotFoundError:
            # The agent was deleted behind our back (another process's forget_user).
            self._forget_agent(caller)
            agent_id = await self._agent(caller, create=True)
            assert agent_id is not None
            created = await self._client().create_passage(agent_id, item.content, now, tags)
        return self._one(caller, created)

    async def update(self, caller: Caller, memory_id: str, patch: MemoryPatch) -> MemoryRecord:
        agent_id, old = await self._current(caller, memory_id)
        current = records_of(caller, old)[0]
        now = datetime.now(UTC)
        updated = patch.apply_to(current, now=now)
        previous = next((p.fields() for p in old if p.fields()), {})
        fields = fields_of_record(caller, updated, previous, keep_updated_at=True)
        fields["updated_at"] = now.isoformat()
        tags = passage_tags(memory_id, updated.tags, fields)
        # New first, then old: a cancel in between leaves both, and reads take the newest.
        created = await self._client().create_passage(
            agent_id, updated.content, current.created_at, tags
        )
        await self._delete_passages(agent_id, old)
        return self._one(caller, created)

    async def delete(self, caller: Caller, memory_id: str) -> None:
        agent_id, passages = await self._current(caller, memory_id)
        await self._delete_passages(agent_id, passages)

    async def _delete_passages(self, agent_id: str, passages: Sequence[StoredPassage]) -> None:
        for passage in passages:
            with contextlib.suppress(NotFoundError):  # already gone: the outcome asked for
                await self._client().delete_passage(agent_id, passage.id)

    async def forget_user(self, caller: Caller) -> int:
        agent_id = await self._agent(caller, create=False)
        if agent_id is None:
            return 0
        count = len(records_of(caller, await self._all_passages(agent_id)))
        with contextlib.suppress(NotFoundError):  # already gone
            await self._client().delete_agent(agent_id)
        self._forget_agent(caller)
        return count

    def _one(self, caller: Caller, created: Sequence[StoredPassage]) -> MemoryRecord:
        records = records_of(caller, created)
        if not records:
            raise ProviderError("letta stored no passage for this memory", provider=self.name)
        return records[0]

    # -- reads -------------------------------------------------------------------------

    async def get(self, caller: Caller, memory_id: str) -> MemoryRecord:
        _, passages = await self._current(caller, memory_id)
        return records_of(caller, passages)[0]

    async def _all_passages(self, agent_id: str) -> builtins.list[StoredPassage]:
        rows: builtins.list[StoredPassage] = []
        after: str | None = None
        while True:
            page = await self._client().list_passages(agent_id, after, _PAGE)
            rows.extend(page)
            if len(page) < _PAGE:
                return rows
            after = page[-1].id

    async def list(self, caller: Caller, query: ListQuery) -> MemoryPage:
        if query.cursor:
            decode_cursor(query.cursor)  # a malformed cursor fails before any call
        agent_id = await self._agent(caller, create=False)
        if agent_id is None:
            return MemoryPage(items=[], next_cursor=None)
        try:
            passages = await self._all_passages(agent_id)
        except NotFoundError:
            self._forget_agent(caller)
            return MemoryPage(items=[], next_cursor=None)
        return page_of(records_of(caller, passages), query)

    async def search(self, caller: Caller, query: SearchQuery) -> builtins.list[SearchHit]:
        agent_id = await self._agent(caller, create=False)
        if agent_id is None:
            return []
        tags = [tag_tag(t) for t in query.tags]
        limit = min(max(query.limit * 3, 30), _SEARCH_CAP)
        while True:
            try:
                rows = await self._client().search_passages(agent_id, query.query, tags, limit)
            except NotFoundError:
                self._forget_agent(caller)
                return []
            hits = self._hits(caller, rows, query)
            if len(hits) >= query.limit or len(rows) < limit or limit >= _SEARCH_CAP:
                return hits[: query.limit]
            limit = min(limit * 4, _SEARCH_CAP)  # filters ate the page: ask for more

    @staticmethod
    def _hits(
        caller: Caller, rows: builtins.list[StoredPassage], query: SearchQuery
    ) -> builtins.list[SearchHit]:
        scores: dict[str, float] = {}
        for row in rows:
            memory_id = row.memory_id()
            if memory_id is not None:
                scores[memory_id] = max(scores.get(memory_id, 0.0), row.score)
        now = datetime.now(UTC)
        hits = []
        for record in records_of(caller, rows):
            if not matches_search(record, query):
                continue
            if not query.include_inactive and not record.is_active(now):
                continue
            score = min(1.0, max(0.0, scores.get(record.id, 0.0)))
            if query.min_score is None or score >= query.min_score:
                hits.append(SearchHit(memory=record, score=score))
        hits.sort(key=lambda h: (-h.score, h.memory.id))
        return hits


def _age(agent: tuple[str, datetime | None]) -> tuple[datetime, str]:
    return agent[1] or datetime.max.replace(tzinfo=UTC), agent[0]
