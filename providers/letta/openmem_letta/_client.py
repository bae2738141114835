"""The Letta calls the provider makes, over ``AsyncLetta`` or the blocking ``Letta`` client.

``AsyncLettaCalls`` awaits the native async client: a cancelled verb cancels its HTTP request
at once. ``SyncLettaCalls`` runs the blocking client on the provider's own ``Offloader``
(the thread tier): the caller is released at once, the thread runs on and its result is
dropped. Both answer with the same small types, so the provider does not know which runs.
Every exception of the client is mapped here, at the boundary, by ``openmem.upstream``.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, Protocol, TypeVar

import httpx
import letta_client

from openmem.errors import OMPError, ProviderError, ProviderUnavailableError
from openmem.offload import Offloader
from openmem.upstream import error_for_status
from openmem_letta._options import LettaOptions
from openmem_letta._passages import StoredPassage

__all__ = ["AsyncLettaCalls", "LettaCalls", "SyncLettaCalls", "build_calls"]

T = TypeVar("T")
PROVIDER = "letta"


class LettaCalls(Protocol):
    """What ``LettaProvider`` asks of Letta."""

    async def find_agents(self, name: str) -> list[tuple[str, datetime | None]]:
        """``(id, created_at)`` of every agent named ``name``."""

    async def create_agent(self, name: str, tags: Sequence[str]) -> str:
        """Create an agent; its id."""

    async def delete_agent(self, agent_id: str) -> None:
        """Delete an agent and its archival memory."""

    async def create_passage(
        self, agent_id: str, text: str, created_at: datetime, tags: Sequence[str]
    ) -> list[StoredPassage]:
        """Insert into the agent's archival memory."""

    async def delete_passage(self, agent_id: str, passage_id: str) -> None:
        """Delete one passage (``NotFoundError`` when it is gone)."""

    async def list_passages(
        self, agent_id: str, after: str | None, limit: int
    ) -> list[StoredPassage]:
        """One page of the agent's passages, newest first, after passage ``after``."""

    async def search_passages(
        self, agent_id: str, query: str | None, tags: Sequence[str], limit: int
    ) -> list[StoredPassage]:
        """Archival search (scores set), restricted to passages carrying every tag."""

    async def aclose(self) -> None:
        """Release the client."""


def build_calls(options: LettaOptions, http_client: httpx.AsyncClient | None) -> LettaCalls:
    """The calls for ``options.client``; ``http_client`` (tests) carries a transport."""
    key = options.api_key.get_secret_value() if options.api_key else os.environ.get("LETTA_API_KEY")
    common: dict[str, Any] = {
        "api_key": key,
        "base_url": options.base_url or os.environ.get("LETTA_BASE_URL"),
        "project_id": options.project_id,
        "timeout": options.timeout,
        "max_retries": options.max_retries,
    }
    if options.client == "sync":
        return SyncLettaCalls(letta_client.Letta(**common), options)
    if http_client is not None:
        common["http_client"] = http_client
    return AsyncLettaCalls(
        letta_client.AsyncLetta(**common), options, owns_http=http_client is None
    )


def _passage(raw: Any, score: float = 0.0) -> StoredPassage:
    return StoredPassage(
        id=str(raw.id),
        text=str(raw.text),
        tags=tuple(raw.tags or ()),
        created_at=raw.created_at,
        score=score,
    )


def mapped(exc: Exception) -> OMPError:
    """The openmem error for an exception of ``letta_client``."""
    if isinstance(exc, letta_client.APIStatusError):
        return error_for_status(
            exc.status_code, provider=PROVIDER, body=exc.body, headers=exc.response.headers
        )
    if isinstance(exc, letta_client.APITimeoutError | letta_client.APIConnectionError):
        return ProviderUnavailableError("letta cannot be reached", provider=PROVIDER)
    return ProviderError(f"letta failed: {type(exc).__name__}", provider=PROVIDER)


class AsyncLettaCalls:
    """``LettaCalls`` over ``AsyncLetta``: native async, natively cancellable."""

    def __init__(
        self, client: letta_client.AsyncLetta, options: LettaOptions, *, owns_http: bool
    ) -> None:
        self._client = client
        self._options = options
        self._owns_http = owns_http

    async def _guard(self, call: Awaitable[T]) -> T:
        try:
            return await call
        except letta_client.LettaError as exc:
            raise mapped(exc) from None

    async def find_agents(self, name: str) -> list[tuple[str, datetime | None]]:
        page = await self._guard(self._client.agents.list(name=name, limit=50))
        return [(a.id, a.created_at) for a in page.items if a.name == name]

    async def create_agent(self, name: str, tags: Sequence[str]) -> str:
        agent = await self._guard(
            self._client.agents.create(**_agent_body(name, tags, self._options))
        )
        return str(agent.id)

    async def delete_agent(self, agent_id: str) -> None:
        await self._guard(self._client.agents.delete(agent_id))

    async def create_passage(
        self, agent_id: str, text: str, created_at: datetime, tags: Sequence[str]
    ) -> list[StoredPassage]:
        rows = await self._guard(
            self._client.agents.passages.create(
                agent_id, text=text, created_at=created_at, tags=list(tags)
            )
        )
        return [_passage(r) for r in rows]

    async def delete_passage(self, agent_id: str, passage_id: str) -> None:
        await self._guard(self._client.agents.passages.delete(passage_id, agent_id=agent_id))

    async def list_passages(
        self, agent_id: str, after: str | None, limit: int
    ) -> list[StoredPassage]:
        rows = await self._guard(
            self._client.agents.passages.list(
                agent_id,
                ascending=False,
                limit=limit,
                **_after(after),
            )
        )
        return [_passage(r) for r in rows]

    async def search_passages(
        self, agent_id: str, query: str | None, tags: Sequence[str], limit: int
    ) -> list[StoredPassage]:
        rows = await self._guard(
            self._client.passages.search(**_search_body(agent_id, query, tags, limit))
        )
        return [_passage(r.passage, r.score) for r in rows]

    async def aclose(self) -> None:
        if self._owns_http:  # a caller's http_client is the caller's to close
            await self._client.close()


class SyncLettaCalls:
    """``LettaCalls`` over the blocking ``Letta`` client, on bounded worker threads."""

    def __init__(self, client: letta_client.Letta, options: LettaOptions) -> None:
        self._client = client
        self._options = options
        self._grace = options.close_grace
        self._offload = Offloader(
            "letta",
            max_workers=options.max_workers,
            max_abandoned=options.max_abandoned,
        )

    async def _run(self, func: Callable[[], T]) -> T:
        def guarded() -> T:
            try:
                return func()
            except letta_client.LettaError as exc:
                raise mapped(exc) from None

        return await self._offload.run(guarded)

    async def find_agents(self, name: str) -> list[tuple[str, datetime | None]]:
        page = await self._run(lambda: self._client.agents.list(name=name, limit=50))
        return [(a.id, a.created_at) for a in page.items if a.name == name]

    async def create_agent(self, name: str, tags: Sequence[str]) -> str:
        agent = await self._run(
            lambda: self._client.agents.create(**_agent_body(name, tags, self._options))
        )
        return str(agent.id)

    async def delete_agent(self, agent_id: str) -> None:
        await self._run(lambda: self._client.agents.delete(agent_id))

    async def create_passage(
        self, agent_id: str, text: str, created_at: datetime, tags: Sequence[str]
    ) -> list[StoredPassage]:
        rows = await self._run(
            lambda: self._client.agents.passages.create(
                agent_id, text=text, created_at=created_at, tags=list(tags)
            )
        )
        return [_passage(r) for r in rows]

    async def delete_passage(self, agent_id: str, passage_id: str) -> None:
        await self._run(lambda: self._client.agents.passages.delete(passage_id, agent_id=agent_id))

    async def list_passages(
        self, agent_id: str, after: str | None, limit: int
    ) -> list[StoredPassage]:
        extra = _after(after)
        rows = await self._run(
            lambda: self._client.agents.passages.list(
                agent_id, ascending=False, limit=limit, **extra
            )
        )
        return [_passage(r) for r in rows]

    async def search_passages(
        self, agent_id: str, query: str | None, tags: Sequence[str], limit: int
    ) -> list[StoredPassage]:
        body = _search_body(agent_id, query, tags, limit)
        rows = await self._run(lambda: self._client.passages.search(**body))
        return [_passage(r.passage, r.score) for r in rows]

    async def aclose(self) -> None:
        await self._offload.aclose(self._grace)
        self._client.close()


def _agent_body(name: str, tags: Sequence[str], options: LettaOptions) -> dict[str, Any]:
    # Provisioned for archival memory only: no base tools, no sleep-time agent.
    return {
        "name": name,
        "tags": list(tags),
        "model": options.model,
        "embedding": options.embedding,
        "include_base_tools": False,
    }


def _search_body(
    agent_id: str, query: str | None, tags: Sequence[str], limit: int
) -> dict[str, Any]:
    body: dict[str, Any] = {"agent_id": agent_id, "limit": limit}
    if query is not None:
        body["query"] = query
    if tags:
        body["tags"] = list(tags)
        body["tag_match_mode"] = "all"
    return body


def _after(after: str | None) -> dict[str, Any]:
    # Omitted, not null, on the first page: the client sends every given keyword.
    return {"after": after} if after else {}
