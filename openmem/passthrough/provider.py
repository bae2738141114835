"""``PassthroughProvider``: the verb set, spoken as OMP 0.1 requests to a remote server."""

from __future__ import annotations

import builtins
import logging
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar
from urllib.parse import quote

from openmem.errors import (
    OMPError,
    ProviderError,
    ProviderUnavailableError,
    UnsupportedCapabilityError,
)
from openmem.llm.client import ChatMessage
from openmem.models import (
    AuditEntry,
    AuditQuery,
    Capabilities,
    ContextBlock,
    ContextQuery,
    IngestEvent,
    ListQuery,
    MemoryInput,
    MemoryKey,
    MemoryPage,
    MemoryPatch,
    MemoryRecord,
    SearchHit,
    SearchQuery,
)
from openmem.passthrough.compat import checked_scores, read, unwrap
from openmem.passthrough.declaration import read_declaration
from openmem.passthrough.exchange import Exchange, read_json
from openmem.passthrough.options import PassthroughOptions
from openmem.passthrough.queued import enqueue, fetch_event
from openmem.provider import Caller, Provider

__all__ = ["PassthroughProvider"]

_GET_QUERY_MAX_LENGTH = 2_000  # what `openmem serve` accepts in GET /memories/search?q=
_log = logging.getLogger("openmem.passthrough")


class PassthroughProvider(Provider[PassthroughOptions]):
    """A provider that speaks OMP over HTTP to a remote server."""

    name: ClassVar[str] = "passthrough"
    Options = PassthroughOptions

    def __init__(self, options: PassthroughOptions | None = None, /, **kwargs: Any) -> None:
        super().__init__(options, **kwargs)
        self._exchange = Exchange(self.options)
        self._capabilities: Capabilities | None = None
        self._extensions: frozenset[str] = frozenset()
        self._announced: bool | None = None
        self._server_capabilities: Capabilities | None = None
        self.clamped_scores = 0
        """Scores outside [0, 1] brought into range so far (only with ``clamp_scores``)."""

    # -- lifecycle ---------------------------------------------------------------------

    async def open(self) -> None:
        """Create the connection pool and read the server's capabilities."""
        self._exchange.client()
        if self._capabilities is None:
            try:
                await self._fetch_capabilities()
            except BaseException:
                # A failed open leaves nothing behind: callers do not close what never opened.
                await self._exchange.discard()
                raise

    async def close(self) -> None:
        """Close the pool; idempotent."""
        await self._exchange.aclose()

    async def health(self) -> None:
        """``GET /healthz``; raises ``ProviderUnavailableError`` unless it answers 200."""
        try:
            await self._exchange.send("GET", "/healthz", verb="health", idempotent=False)
        except OMPError as exc:
            if isinstance(exc, ProviderUnavailableError):
                raise
            raise ProviderUnavailableError(f"health check failed: {exc.message}") from exc

    # -- capabilities ------------------------------------------------------------------

    async def _fetch_capabilities(self) -> Capabilities:
        response = await self._exchange.send(
            "GET", "/capabilities", verb="capabilities", idempotent=True
        )
        declaration = read_declaration(read_json(response), base_url=self.options.base_url)
        self._announced = declaration.announced
        self._server_capabilities = declaration.claimed
        self._extensions = declaration.extensions
        self._capabilities = declaration.usable
        return self._capabilities

    @property
    def announces_openmem_extensions(self) -> bool | None:
        """Whether the server announces openmem's extensions (``x-openmem``); None before open.

        False means a foreign OMP 0.1 server: only the core protocol can be asked of it.
        """
        return self._announced

    @property
    def server_capabilities(self) -> Capabilities | None:
        """The server's own declaration, before this client narrows it to what it can use.

        ``capabilities()`` leaves out what only an extension route could reach; this is what
        the server claimed, so a conformance run can hold it to every claim.
        """
        return self._server_capabilities

    async def capabilities(self) -> Capabilities:
        """The remote server's capabilities (read once, at ``open()``)."""
        if self._capabilities is None:
            return await self._fetch_capabilities()
        return self._capabilities

    def _require(self, verb: str) -> None:
        """Refuse a verb the server does not declare, before any request is made."""
        if self._capabilities is not None and verb not in self._capabilities.verbs:
            raise UnsupportedCapabilityError(
                f"the OMP server does not declare {verb}", provider=self.name
            )

    def _scores(self, scored: builtins.list[Any], what: str) -> None:
        clamped = checked_scores(scored, clamp=self.options.clamp_scores, what=what)
        if clamped:
            self.clamped_scores += clamped
            _log.warning(
                "clamped %d %s score(s) of %s into [0, 1] (%d so far)",
                clamped,
                what,
                self.options.base_url,
                self.clamped_scores,
            )

    # -- verbs -------------------------------------------------------------------------

    async def add(self, caller: Caller, item: MemoryInput) -> MemoryRecord:
        """``POST /memories`` (201); the idempotency key travels as ``Idempotency-Key``."""
        self._require("add")
        body = item.model_dump(mode="json", exclude_none=True, by_alias=True)
        key = body.pop("idempotency_key", None)
        headers = {"idempotency-key": key} if key is not None else None
        response = await self._exchange.send(
            "POST",
            "/memories",
            verb="add",
            caller=caller,
            json=body,
            headers=headers,
            idempotent=key is not None,
        )
        return read(MemoryRecord, read_json(response))

    async def infer_messages(
        self, caller: Caller, messages: Sequence[ChatMessage], template: MemoryInput
    ) -> builtins.list[MemoryRecord]:
        """``POST /memories`` with ``messages`` and ``infer: true``: the server's inference."""
        body = template.model_dump(mode="json", exclude_none=True, by_alias=True)
        body.pop("content", None)
        body.pop("idempotency_key", None)
        body["messages"] = [m.model_dump() for m in messages]
        body["infer"] = True
        response = await self._exchange.send(
            "POST", "/memories", verb="add", caller=caller, json=body, idempotent=False
        )
        payload = read_json(response)
        raw = payload.get("items") if isinstance(payload, Mapping) else None
        if not isinstance(raw, builtins.list):
            raise ProviderError(
                "malformed conversation answer from the OMP server", provider=self.name
            )
        return [read(MemoryRecord, record) for record in raw]

    async def add_many(
        self, caller: Caller, items: Sequence[MemoryInput]
    ) -> builtins.list[MemoryRecord]:
        """``POST /memories:batch`` when the server offers it, else one add after another."""
        if "memories:batch" not in self._extensions:
            return [await self.add(caller, item) for item in items]
        bodies = [item.model_dump(mode="json", exclude_none=True, by_alias=True) for item in items]
        response = await self._exchange.send(
            "POST",
            "/memories:batch",
            verb="add_many",
            caller=caller,
            json={"user_id": caller.user_id, "items": bodies},
            idempotent=all(item.idempotency_key is not None for item in items),
        )
        payload = read_json(response)
        raw = payload.get("items") if isinstance(payload, Mapping) else None
        if not isinstance(raw, builtins.list):
            raise ProviderError("malformed batch answer from the OMP server", provider=self.name)
        return [read(MemoryRecord, record) for record in raw]

    async def enqueue_add(
        self, caller: Caller, items: Sequence[MemoryInput]
    ) -> builtins.list[MemoryRecord]:
        """``POST /memories?async_mode=true`` (202): queued on the server (spec §6.11)."""
        return await enqueue(self._exchange, caller, items, provider=self.name)

    async def get_event(self, caller: Caller, event_id: str) -> IngestEvent:
        """``GET /events/{id}``: the server's ingestion event."""
        return await fetch_event(self._exchange, caller, event_id)

    async def get(self, caller: Caller, memory_id: str) -> MemoryRecord:
        """``GET /memories/{id}`` with ``X-User-Id``."""
        self._require("get")
        response = await self._exchange.send(
            "GET", _memory_path(memory_id), verb="get", caller=caller, idempotent=True
        )
        return read(MemoryRecord, read_json(response))

    async def get_by_key(self, caller: Caller, where: MemoryKey) -> MemoryRecord:
        """``GET /memories:by-key?key=&scope=`` with ``X-User-Id``."""
        response = await self._exchange.send(
            "GET",
            "/memories:by-key",
            verb="get",
            caller=caller,
            params=where.model_dump(exclude_none=True),
            idempotent=True,
        )
        return read(MemoryRecord, read_json(response))

    async def delete_by_key(self, caller: Caller, where: MemoryKey) -> None:
        """``DELETE /memories:by-key?key=&scope=`` (204). Not retried, like ``delete``."""
        await self._exchange.send(
            "DELETE",
            "/memories:by-key",
            verb="delete",
            caller=caller,
            params=where.model_dump(exclude_none=True),
            idempotent=False,
        )

    async def update(self, caller: Caller, memory_id: str, patch: MemoryPatch) -> MemoryRecord:
        """``PATCH /memories/{id}``: the merge patch as sent, explicit nulls kept."""
        self._require("update")
        body = patch.model_dump(mode="json", exclude_unset=True, by_alias=True)
        body["user_id"] = caller.user_id
        response = await self._exchange.send(
            "PATCH",
            _memory_path(memory_id),
            verb="update",
            caller=caller,
            json=body,
            idempotent=False,
        )
        return read(MemoryRecord, read_json(response))

    async def delete(self, caller: Caller, memory_id: str) -> None:
        """``DELETE /memories/{id}`` (204). Not retried: a retry could answer not_found."""
        self._require("delete")
        await self._exchange.send(
            "DELETE", _memory_path(memory_id), verb="delete", caller=caller, idempotent=False
        )

    async def forget_user(self, caller: Caller) -> int:
        """``DELETE /users/{user_id}/memories``; how many memories were deleted."""
        if "users:forget" not in self._extensions:
            raise UnsupportedCapabilityError(
                "the OMP server does not offer forget_user", provider=self.name
            )
        response = await self._exchange.send(
            "DELETE",
            f"/users/{quote(caller.user_id, safe='')}/memories",
            verb="forget_user",
            caller=caller,
            idempotent=True,
        )
        payload = read_json(response)
        deleted = payload.get("deleted") if isinstance(payload, Mapping) else None
        if not isinstance(deleted, int):
            raise ProviderError("malformed forget_user answer", provider=self.name)
        return deleted

    async def list(self, caller: Caller, query: ListQuery) -> MemoryPage:
        """``GET /memories`` with the query as parameters; the cursor is passed through."""
        self._require("list")
        params: dict[str, Any] = {"user_id": caller.user_id, "limit": query.limit}
        _put(params, "scope", query.scope)
        _put(params, "since", query.since.isoformat() if query.since else None)
        _put(params, "until", query.until.isoformat() if query.until else None)
        _put(params, "cursor", query.cursor)
        _put_tags(params, query.tags, self._extended)
        response = await self._exchange.send(
            "GET", "/memories", verb="list", caller=caller, params=params, idempotent=True
        )
        return read(MemoryPage, read_json(response))

    @property
    def _extended(self) -> bool:
        return "search:post" in self._extensions

    async def search(self, caller: Caller, query: SearchQuery) -> builtins.list[SearchHit]:
        """``GET /memories/search?q=...``, or the body form for filters and long queries."""
        self._require("search")
        # The body form carries filters, and queries too long for a URL (when offered).
        long_query = len(query.query) > _GET_QUERY_MAX_LENGTH and self._extended
        if query.filters or long_query:
            if not self._extended:
                raise UnsupportedCapabilityError(
                    "the OMP server does not offer metadata filters", provider=self.name
                )
            body = query.model_dump(mode="json", exclude_none=True, by_alias=True)
            body["user_id"] = caller.user_id
            response = await self._exchange.send(
                "POST", "/memories/search", verb="search", caller=caller, json=body, idempotent=True
            )
        else:
            params: dict[str, Any] = {
                "q": query.query,
                "user_id": caller.user_id,
                "limit": query.limit,
            }
            _put(params, "scope", query.scope)
            _put(params, "min_score", query.min_score)
            extended = {"mode": query.mode, "include_inactive": query.include_inactive or None}
            if any(v is not None for v in extended.values()) and not self._extended:
                raise UnsupportedCapabilityError(
                    "the OMP server does not offer search modes or inactive memories",
                    provider=self.name,
                )
            for name, value in extended.items():
                _put(params, name, "true" if value is True else value)
            _put_tags(params, query.tags, self._extended)
            response = await self._exchange.send(
                "GET",
                "/memories/search",
                verb="search",
                caller=caller,
                params=params,
                idempotent=True,
            )
        results = [
            dict(hit) if isinstance(hit, Mapping) else hit
            for hit in unwrap(read_json(response), "results")
        ]
        self._scores(results, "search")
        return [read(SearchHit, hit) for hit in results]

    async def context(self, caller: Caller, query: ContextQuery) -> ContextBlock:
        """``POST /context``."""
        self._require("context")
        body = query.model_dump(mode="json", exclude_none=True, by_alias=True)
        if not body.get("tags"):
            body.pop("tags", None)
        body["user_id"] = caller.user_id
        response = await self._exchange.send(
            "POST", "/context", verb="context", caller=caller, json=body, idempotent=True
        )
        payload = read_json(response)
        if isinstance(payload, Mapping) and isinstance(payload.get("citations"), builtins.list):
            citations = [dict(c) if isinstance(c, Mapping) else c for c in payload["citations"]]
            self._scores(citations, "citation")
            payload = {**payload, "citations": citations}
        return read(ContextBlock, payload)

    async def audit(self, caller: Caller, query: AuditQuery) -> builtins.list[AuditEntry]:
        """``GET /audit`` -> ``{"entries": [...]}``."""
        self._require("audit")
        params: dict[str, Any] = {"user_id": caller.user_id, "limit": query.limit}
        _put(params, "app", query.app)
        _put(params, "action", query.action)
        _put(params, "since", query.since.isoformat() if query.since else None)
        response = await self._exchange.send(
            "GET", "/audit", verb="audit", caller=caller, params=params, idempotent=True
        )
        return [read(AuditEntry, entry) for entry in unwrap(read_json(response), "entries")]


def _memory_path(memory_id: str) -> str:
    return f"/memories/{quote(memory_id, safe='')}"


def _put(params: dict[str, Any], name: str, value: Any) -> None:
    if value is not None:
        params[name] = value


def _put_tags(params: dict[str, Any], tags: Sequence[str], extended: bool) -> None:
    if not tags:
        return
    if len(tags) == 1:
        params["tag"] = tags[0]  # the OMP 0.1 form
    elif extended:
        params["tags"] = builtins.list(tags)
    else:
        raise UnsupportedCapabilityError(
            "the OMP server filters by one tag at most", provider=PassthroughProvider.name
        )
