"""``SupermemoryProvider``: Supermemory behind openmem's verb set, on ``AsyncSupermemory``.

Each (namespace, user) is one Supermemory namespace (``_documents.container_of``); each
memory one document whose id is the openmem id. Ingestion is asynchronous on the service:

- ``add``: ``POST /ns/{ns}/document`` answers at once with ``status="queued"``;
  ``AsyncMemory.wait_for_ingest`` polls ``get`` until the document is processed.
- ``get``: ``GET /ns/{ns}/document/{id}``; ``update``: ``PATCH`` with the content (when it
  changed) and the whole metadata; ``delete``: ``DELETE /ns/{ns}/document``.
- ``list``: ``POST /ns/{ns}/list/documents`` newest first, with scope, tags, the time
  window and the keyset bound in the service's filter tree, paged by the service 100 at a
  time; the page is then cut by ``openmem.matching``, so pages are full until the last.
- ``search``: ``POST /ns/{ns}/search`` over source chunks (``searchMode="chunks"``) with
  scope, tag and metadata filters in the filter tree; one hit per document, whose content
  is the memory's text: the chunk when its SHA-256 is the stored content's, else the
  document's content (never its title). The service's similarity is already in [0, 1].
"""

from __future__ import annotations

import builtins
import contextlib
from collections.abc import Awaitable, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

import anyio
import httpx
import supermemory
from supermemory import AsyncSupermemory
from supermemory.core.api_error import ApiError
from ulid import ULID

from openmem.cursors import decode_cursor
from openmem.errors import (
    NotFoundError,
    OMPError,
    ProviderError,
    ProviderUnavailableError,
)
from openmem.matching import matches_search, page_of
from openmem.models import (
    VERBS,
    Capabilities,
    CapabilityFeatures,
    CapabilityLimits,
    ListQuery,
    MemoryInput,
    MemoryPage,
    MemoryPatch,
    MemoryRecord,
    SearchHit,
    SearchQuery,
)
from openmem.provider import Caller, Provider
from openmem.translation import fields_of_input, fields_of_record, input_digest
from openmem.upstream import error_for_status
from openmem_supermemory._documents import (
    container_of,
    digest_of,
    envelope_of,
    list_filter,
    metadata_of,
    record_of,
    search_filter,
)
from openmem_supermemory._options import SupermemoryOptions

__all__ = ["SupermemoryProvider"]

T = TypeVar("T")

_PAGE = 100  # documents per list request (the service's maximum)
_SEARCH_CAP = 100  # the service's largest search limit


class SupermemoryProvider(Provider[SupermemoryOptions]):
    """Supermemory, one service namespace per (namespace, user), on the native async client.

    ``http_client`` (tests) is the ``httpx.AsyncClient`` handed to ``AsyncSupermemory``, e.g.
    one whose transport is a local contract fake; the provider does not close it.
    """

    name: ClassVar[str] = "supermemory"
    Options = SupermemoryOptions

    def __init__(
        self,
        options: SupermemoryOptions | None = None,
        /,
        *,
        http_client: httpx.AsyncClient | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(options, **kwargs)
        self._http_client = http_client
        self._client: AsyncSupermemory | None = None
        self._owned_http: httpx.AsyncClient | None = None

    def __repr__(self) -> str:
        return f"SupermemoryProvider(base_url={self.options.base_url or 'supermemory cloud'!r})"

    # -- lifecycle ---------------------------------------------------------------------

    async def open(self) -> None:
        if self._client is not None:
            return
        options = self.options
        key = options.api_key.get_secret_value() if options.api_key else None
        http = self._http_client
        if http is None:
            # Our own client, so close() can release its sockets.
            http = self._owned_http = httpx.AsyncClient(timeout=options.timeout)
        try:
            kwargs: dict[str, Any] = {
                "timeout": options.timeout,
                "max_retries": options.max_retries,
                "httpx_client": http,
            }
            if key is not None:
                kwargs["api_key"] = key
            if options.base_url:
                kwargs["base_url"] = options.base_url
            client = AsyncSupermemory(**kwargs)
        except ApiError:
            await self._release()
            raise ProviderUnavailableError(
                "supermemory needs api_key (or SUPERMEMORY_API_KEY)", provider=self.name
            ) from None
        self._client = client
        try:
            await self._probe()  # a bad key or an unreachable service fails here, typed
        except BaseException:
            await self.close()
            raise

    async def _probe(self) -> None:
        await self._guard(
            self._api().list(container_of(Caller("_", "_probe")), "documents", page=1, limit=1)
        )

    async def close(self) -> None:
        self._client = None
        await self._release()

    async def _release(self) -> None:
        owned, self._owned_http = self._owned_http, None
        if owned is not None:
            await owned.aclose()

    async def health(self) -> None:
        await self._probe()

    async def capabilities(self) -> Capabilities:
        return Capabilities(
            provider=self.name,
            verbs=[v for v in VERBS if v != "audit"],
            features=CapabilityFeatures(
                vector_search=True,
                temporal=True,
                scopes="tags",
                metadata_filters=True,
                async_ingestion=True,
                cancellation="native",
            ),
            limits=CapabilityLimits(max_search_results=_SEARCH_CAP),
        )

    def _api(self) -> AsyncSupermemory:
        if self._client is None:
            raise ProviderUnavailableError(
                "the supermemory provider is not open", provider=self.name
            )
        return self._client

    async def _guard(self, call: Awaitable[T]) -> T:
        """Await a client call, mapping its failures to typed errors at the boundary."""
        try:
            return await call
        except OMPError:
            raise
        except (supermemory.APIStatusError, ApiError) as exc:
            headers: Mapping[str, str] = exc.headers or {}
            raise error_for_status(
                exc.status_code or 500, provider=self.name, body=exc.body, headers=headers
            ) from None
        except (supermemory.APIConnectionError, httpx.TransportError):
            raise ProviderUnavailableError(
                "supermemory cannot be reached", provider=self.name
            ) from None
        except supermemory.SupermemoryError as exc:
            raise ProviderError(
                f"supermemory failed: {type(exc).__name__}", provider=self.name
            ) from None

    # -- writes ------------------------------------------------------------------------

    async def add(self, caller: Caller, item: MemoryInput) -> MemoryRecord:
        now = datetime.now(UTC)
        memory_id = str(ULID())
        fields = fields_of_input(caller, item, None)
        fields["updated_at"] = now.isoformat()
        metadata = metadata_of(fields, item.content, now)
        ref = await self._guard(
            self._api().add(
                container_of(caller), content=item.content, id=memory_id, metadata=metadata
            )
        )
        record = record_of(caller, memory_id, item.content, metadata, ref.status)
        if record is None:  # cannot happen: the envelope was written for this caller
            raise ProviderError("supermemory returned a foreign document", provider=self.name)
        return record

    async def update(self, caller: Caller, memory_id: str, patch: MemoryPatch) -> MemoryRecord:
        current, metadata = await self._fetch(caller, memory_id)
        now = datetime.now(UTC)
        updated = patch.apply_to(current, now=now)
        fields = fields_of_record(caller, updated, envelope_of(metadata), keep_updated_at=True)
        fields["updated_at"] = now.isoformat()
        new_metadata = metadata_of(fields, updated.content, current.created_at)
        changed = updated.content != current.content
        ref = await self._guard(
            self._api().documents.update(
                container_of(caller),
                memory_id,
                **({"content": updated.content} if changed else {}),
                metadata=new_metadata,
            )
        )
        record = record_of(caller, memory_id, updated.content, new_metadata, ref.status)
        if record is None:
            raise ProviderError("supermemory returned a foreign document", provider=self.name)
        return record

    async def delete(self, caller: Caller, memory_id: str) -> None:
        await self._fetch(caller, memory_id)
        result = await self._guard(
            self._api().documents.delete(container_of(caller), ids=[memory_id])
        )
        if result.count < 1:
            raise NotFoundError(f"memory {memory_id!r} not found", provider=self.name)

    # -- reads -------------------------------------------------------------------------

    async def _fetch(self, caller: Caller, memory_id: str) -> tuple[MemoryRecord, dict[str, Any]]:
        if not memory_id.isprintable():  # no URL can carry it (a NUL byte, say): never stored
            raise NotFoundError(f"memory {memory_id!r} not found", provider=self.name)
        try:
            doc = await self._guard(self._api().documents.get(container_of(caller), memory_id))
        except NotFoundError:
            raise NotFoundError(f"memory {memory_id!r} not found", provider=self.name) from None
        metadata = dict(doc.metadata or {})
        record = record_of(caller, doc.id, doc.content or "", metadata, doc.system.status)
        if record is None:
            raise NotFoundError(f"memory {memory_id!r} not found", provider=self.name)
        return record, metadata

    async def get(self, caller: Caller, memory_id: str) -> MemoryRecord:
        return (await self._fetch(caller, memory_id))[0]

    async def list(self, caller: Caller, query: ListQuery) -> MemoryPage:
        if query.cursor:
            decode_cursor(query.cursor)  # a malformed cursor fails before any call
        container = container_of(caller)
        service_filter = list_filter(query)
        records: builtins.list[MemoryRecord] = []
        page = 1
        while True:
            response = await self._guard(
                self._api().list(
                    container,
                    "documents",
                    page=page,
                    limit=_PAGE,
                    sort="createdAt",
                    order="desc",
                    include={"content": True},
                    **_given(filter=service_filter),
                )
            )
            for doc in response.documents:
                record = record_of(
                    caller, doc.id, doc.content or "", doc.metadata, doc.system.status
                )
                if record is not None:
                    records.append(record)
            if page >= int(response.pagination.total_pages) or not response.documents:
                break
            page += 1
        return page_of(records, query)

    async def search(self, caller: Caller, query: SearchQuery) -> builtins.list[SearchHit]:
        container = container_of(caller)
        service_filter = search_filter(query)
        limit = min(max(query.limit * 3, 30), _SEARCH_CAP)
        while True:
            response = await self._guard(
                self._api().search(
                    container,
                    query=query.query,
                    search_mode="chunks",
                    limit=limit,
                    include={"documents": True},
                    **_given(filter=service_filter, threshold=query.min_score),
                )
            )
            hits = await self._hits(caller, response.results, query)
            if len(hits) >= query.limit or len(response.results) < limit or limit >= _SEARCH_CAP:
                return hits[: query.limit]
            limit = min(limit * 4, _SEARCH_CAP)  # filters ate the page: ask for more

    async def _hits(
        self, caller: Caller, results: builtins.list[Any], query: SearchQuery
    ) -> builtins.list[SearchHit]:
        best: dict[str, tuple[float, Any]] = {}
        for result in results:
            included = result.included.document if result.included else None
            if included is None:  # asked for with include.documents; never a guess
                continue
            doc_id = included.id
            score = min(1.0, max(0.0, float(result.similarity)))
            if doc_id not in best or score > best[doc_id][0]:
                best[doc_id] = (score, result)
        contents = await self._contents(caller, best)
        now = datetime.now(UTC)
        hits = []
        for doc_id, (score, result) in best.items():
            content = contents.get(doc_id)
            record = (
                None
                if content is None
                else record_of(caller, doc_id, content, result.metadata, "done")
            )
            if record is None or not matches_search(record, query):
                continue
            if not query.include_inactive and not record.is_active(now):
                continue
            if query.min_score is None or score >= query.min_score:
                hits.append(SearchHit(memory=record, score=score))
        hits.sort(key=lambda h: (-h.score, h.memory.id))
        return hits

    async def _contents(
        self, caller: Caller, best: Mapping[str, tuple[float, Any]]
    ) -> dict[str, str]:
        """Each hit's memory text: its chunk when that is the whole content, else fetched."""
        contents: dict[str, str] = {}
        missing: builtins.list[str] = []
        for doc_id, (_, result) in best.items():
            chunk = result.chunk or result.memory
            if chunk is not None and input_digest(chunk) == digest_of(result.metadata):
                contents[doc_id] = chunk
            else:
                missing.append(doc_id)

        async def fetch(doc_id: str) -> None:
            with contextlib.suppress(NotFoundError):  # deleted since the search ran
                contents[doc_id] = (await self._fetch(caller, doc_id))[0].content

        async with anyio.create_task_group() as group:
            for doc_id in missing:
                group.start_soon(fetch, doc_id)
        return contents


def _given(**kwargs: Any) -> dict[str, Any]:
    """The keywords that have a value: the client sends a None as null, not as absent."""
    return {k: v for k, v in kwargs.items() if v is not None}
