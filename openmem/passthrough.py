"""The passthrough provider: any OMP 0.1 server (``openmem serve`` or another) as a backend.

It is the server's error table read from the other side: requests are built from the same
models, answers are validated into them, and an error envelope becomes the same typed
``OMPError`` it was on the server (``error_from_envelope``), so code that catches
``NotFoundError`` in process catches it over the wire too.

- One pooled ``httpx.AsyncClient`` per provider, opened by ``open()`` and closed by
  ``close()``; ``transport=`` swaps the network for tests (``httpx.MockTransport``,
  ``httpx.ASGITransport``).
- Capabilities are read from ``GET /capabilities`` at ``open()``; ``AsyncMemory`` then refuses
  undeclared verbs before any request. Wire extensions of ``openmem serve`` (batch add, body
  search with filters, forget user, ``Idempotency-Key``) are used only when the server
  declares them under ``x-openmem``; otherwise the matching features are reported false.
- Retries with full jitter, for idempotent calls only (reads, and adds that carry an
  idempotency key), on retryable codes and network errors; ``Retry-After`` is honoured.
- Cancellation is native: cancelling the awaiting task abandons the HTTP exchange at once
  and the connection is discarded, not reused.

>>> async with AsyncMemory(base_url="http://127.0.0.1:8080", api_key="omk_...") as mem:
...     await mem.add("prefers dark mode", user_id="u1")
"""

from __future__ import annotations

import asyncio
import builtins
import email.utils
import random
import time
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from openmem.context import estimate_tokens
from openmem.errors import (
    ClosedError,
    OMPError,
    ProviderError,
    ProviderUnavailableError,
    UnsupportedCapabilityError,
    error_from_envelope,
)
from openmem.models import (
    AuditEntry,
    AuditQuery,
    Capabilities,
    ContextBlock,
    ContextQuery,
    ListQuery,
    MemoryInput,
    MemoryPage,
    MemoryPatch,
    MemoryRecord,
    SearchHit,
    SearchQuery,
)
from openmem.provider import Caller, Provider, ProviderOptions

__all__ = ["PassthroughOptions", "PassthroughProvider"]

ModelT = TypeVar("ModelT", bound=BaseModel)

_DEFAULT_NAMESPACE = "default"
_sleep = asyncio.sleep  # indirection so tests can observe backoff without waiting
_USER_AGENT = "openmem-passthrough/0.1"
_GET_QUERY_MAX_LENGTH = 2_000  # what `openmem serve` accepts in GET /memories/search?q=


class PassthroughOptions(ProviderOptions):
    """Options of the passthrough provider."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    base_url: str
    """The OMP server, e.g. ``http://127.0.0.1:8080`` (no trailing path needed)."""
    api_key: SecretStr | None = None
    """Sent as ``Authorization: Bearer <key>``."""
    timeout: float = Field(default=30.0, gt=0)
    """Seconds for the whole answer of one request."""
    connect_timeout: float = Field(default=5.0, gt=0)
    retries: int = Field(default=2, ge=0, le=10)
    """Retries of an idempotent call after a retryable error."""
    backoff: float = Field(default=0.2, ge=0)
    """Base of the exponential backoff, in seconds (full jitter)."""
    max_backoff: float = Field(default=5.0, ge=0)
    max_retry_after: float = Field(default=30.0, ge=0)
    """A ``Retry-After`` longer than this is not waited for: the error is raised."""
    max_connections: int = Field(default=100, ge=1)
    transport: httpx.AsyncBaseTransport | None = Field(default=None, exclude=True, repr=False)
    """An httpx transport to use instead of the network (tests)."""

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        url = httpx.URL(value)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError("base_url must be an http:// or https:// URL")
        return value.rstrip("/")


class PassthroughProvider(Provider[PassthroughOptions]):
    """A provider that speaks OMP over HTTP to a remote server."""

    name: ClassVar[str] = "passthrough"
    Options = PassthroughOptions

    def __init__(self, options: PassthroughOptions | None = None, /, **kwargs: Any) -> None:
        super().__init__(options, **kwargs)
        self._client: httpx.AsyncClient | None = None
        self._capabilities: Capabilities | None = None
        self._extensions: frozenset[str] = frozenset()
        self._closed = False

    # -- lifecycle ---------------------------------------------------------------------

    def _http(self) -> httpx.AsyncClient:
        if self._closed:
            raise ClosedError("the passthrough provider is closed")
        if self._client is None:
            opts = self.options
            headers = {"accept": "application/json", "user-agent": _USER_AGENT}
            if opts.api_key is not None:
                headers["authorization"] = f"Bearer {opts.api_key.get_secret_value()}"
            self._client = httpx.AsyncClient(
                base_url=opts.base_url,
                transport=opts.transport,
                timeout=httpx.Timeout(opts.timeout, connect=opts.connect_timeout),
                limits=httpx.Limits(max_connections=opts.max_connections),
                headers=headers,
                follow_redirects=False,
            )
        return self._client

    async def open(self) -> None:
        """Create the connection pool and read the server's capabilities."""
        self._http()
        if self._capabilities is None:
            try:
                await self._fetch_capabilities()
            except BaseException:
                # A failed open leaves nothing behind: callers do not close what never opened.
                client, self._client = self._client, None
                if client is not None:
                    await asyncio.shield(client.aclose())
                raise

    async def close(self) -> None:
        """Close the pool; idempotent."""
        self._closed = True
        client, self._client = self._client, None
        if client is not None:
            await asyncio.shield(client.aclose())

    async def health(self) -> None:
        """``GET /healthz``; raises ``ProviderUnavailableError`` unless it answers 200."""
        try:
            await self._send("GET", "/healthz", verb="health", idempotent=False)
        except OMPError as exc:
            if isinstance(exc, ProviderUnavailableError):
                raise
            raise ProviderUnavailableError(f"health check failed: {exc.message}") from exc

    # -- capabilities ------------------------------------------------------------------

    async def _fetch_capabilities(self) -> Capabilities:
        response = await self._send("GET", "/capabilities", verb="capabilities", idempotent=True)
        payload = _json(response)
        if not isinstance(payload, Mapping) or "omp_version" not in payload:
            raise ProviderError(
                f"{self.options.base_url} is not an OMP server (no omp_version in /capabilities)",
                provider=self.name,
            )
        remote = _validate(Capabilities, payload)
        marker = payload.get("x-openmem")
        extensions = marker.get("extensions") if isinstance(marker, Mapping) else None
        self._extensions = frozenset(str(e) for e in extensions or ())
        features = remote.features.model_dump(by_alias=True)
        # A feature reachable only through an extension route is only as real as the route.
        for feature, extension in (
            ("batch_add", "memories:batch"),
            ("forget_user", "users:forget"),
            ("idempotency", "idempotency-key"),
            ("metadata_filters", "search:post"),
        ):
            if extension not in self._extensions:
                features[feature] = False
        features["cancellation"] = "native"
        data = remote.model_dump(by_alias=True)
        data["features"] = features
        self._capabilities = Capabilities.model_validate(data)
        return self._capabilities

    async def capabilities(self) -> Capabilities:
        """The remote server's capabilities (read once, at ``open()``)."""
        if self._capabilities is None:
            return await self._fetch_capabilities()
        return self._capabilities

    # -- verbs -------------------------------------------------------------------------

    async def add(self, caller: Caller, item: MemoryInput) -> MemoryRecord:
        """``POST /memories`` (201); the idempotency key travels as ``Idempotency-Key``."""
        body = item.model_dump(mode="json", exclude_none=True, by_alias=True)
        key = body.pop("idempotency_key", None)
        headers = {"idempotency-key": key} if key is not None else None
        response = await self._send(
            "POST",
            "/memories",
            verb="add",
            caller=caller,
            json=body,
            headers=headers,
            idempotent=key is not None,
        )
        return _validate(MemoryRecord, _json(response))

    async def add_many(
        self, caller: Caller, items: Sequence[MemoryInput]
    ) -> builtins.list[MemoryRecord]:
        """``POST /memories:batch`` when the server offers it, else one add after another."""
        if "memories:batch" not in self._extensions:
            return [await self.add(caller, item) for item in items]
        bodies = [item.model_dump(mode="json", exclude_none=True, by_alias=True) for item in items]
        response = await self._send(
            "POST",
            "/memories:batch",
            verb="add_many",
            caller=caller,
            json={"user_id": caller.user_id, "items": bodies},
            idempotent=all(item.idempotency_key is not None for item in items),
        )
        payload = _json(response)
        raw = payload.get("items") if isinstance(payload, Mapping) else None
        if not isinstance(raw, builtins.list):
            raise ProviderError("malformed batch answer from the OMP server", provider=self.name)
        return [_validate(MemoryRecord, record) for record in raw]

    async def get(self, caller: Caller, memory_id: str) -> MemoryRecord:
        """``GET /memories/{id}`` with ``X-User-Id``."""
        response = await self._send(
            "GET", _memory_path(memory_id), verb="get", caller=caller, idempotent=True
        )
        return _validate(MemoryRecord, _json(response))

    async def update(self, caller: Caller, memory_id: str, patch: MemoryPatch) -> MemoryRecord:
        """``PATCH /memories/{id}``: the merge patch as sent, explicit nulls kept."""
        body = patch.model_dump(mode="json", exclude_unset=True, by_alias=True)
        body["user_id"] = caller.user_id
        response = await self._send(
            "PATCH",
            _memory_path(memory_id),
            verb="update",
            caller=caller,
            json=body,
            idempotent=False,
        )
        return _validate(MemoryRecord, _json(response))

    async def delete(self, caller: Caller, memory_id: str) -> None:
        """``DELETE /memories/{id}`` (204). Not retried: a retry could answer not_found."""
        await self._send(
            "DELETE", _memory_path(memory_id), verb="delete", caller=caller, idempotent=False
        )

    async def forget_user(self, caller: Caller) -> int:
        """``DELETE /users/{user_id}/memories``; how many memories were deleted."""
        if "users:forget" not in self._extensions:
            raise UnsupportedCapabilityError(
                "the OMP server does not offer forget_user", provider=self.name
            )
        response = await self._send(
            "DELETE",
            f"/users/{quote(caller.user_id, safe='')}/memories",
            verb="forget_user",
            caller=caller,
            idempotent=True,
        )
        payload = _json(response)
        deleted = payload.get("deleted") if isinstance(payload, Mapping) else None
        if not isinstance(deleted, int):
            raise ProviderError("malformed forget_user answer", provider=self.name)
        return deleted

    async def list(self, caller: Caller, query: ListQuery) -> MemoryPage:
        """``GET /memories`` with the query as parameters; the cursor is passed through."""
        params: dict[str, Any] = {"user_id": caller.user_id, "limit": query.limit}
        _put(params, "scope", query.scope)
        _put(params, "since", query.since.isoformat() if query.since else None)
        _put(params, "until", query.until.isoformat() if query.until else None)
        _put(params, "cursor", query.cursor)
        _put_tags(params, query.tags, self._extended)
        response = await self._send(
            "GET", "/memories", verb="list", caller=caller, params=params, idempotent=True
        )
        return _validate(MemoryPage, _json(response))

    @property
    def _extended(self) -> bool:
        return "search:post" in self._extensions

    async def search(self, caller: Caller, query: SearchQuery) -> builtins.list[SearchHit]:
        """``GET /memories/search?q=...``, or the body form for filters and long queries."""
        # The body form carries filters, and queries too long for a URL (when offered).
        long_query = len(query.query) > _GET_QUERY_MAX_LENGTH and self._extended
        if query.filters or long_query:
            if not self._extended:
                raise UnsupportedCapabilityError(
                    "the OMP server does not offer metadata filters", provider=self.name
                )
            body = query.model_dump(mode="json", exclude_none=True, by_alias=True)
            body["user_id"] = caller.user_id
            response = await self._send(
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
            response = await self._send(
                "GET",
                "/memories/search",
                verb="search",
                caller=caller,
                params=params,
                idempotent=True,
            )
        return [_validate(SearchHit, hit) for hit in _unwrap(_json(response), "results")]

    async def context(self, caller: Caller, query: ContextQuery) -> ContextBlock:
        """``POST /context``."""
        body = query.model_dump(mode="json", exclude_none=True, by_alias=True)
        if not body.get("tags"):
            body.pop("tags", None)
        body["user_id"] = caller.user_id
        response = await self._send(
            "POST", "/context", verb="context", caller=caller, json=body, idempotent=True
        )
        return _validate(ContextBlock, _json(response))

    async def audit(self, caller: Caller, query: AuditQuery) -> builtins.list[AuditEntry]:
        """``GET /audit`` -> ``{"entries": [...]}``."""
        params: dict[str, Any] = {"user_id": caller.user_id, "limit": query.limit}
        _put(params, "app", query.app)
        _put(params, "action", query.action)
        _put(params, "since", query.since.isoformat() if query.since else None)
        response = await self._send(
            "GET", "/audit", verb="audit", caller=caller, params=params, idempotent=True
        )
        return [_validate(AuditEntry, entry) for entry in _unwrap(_json(response), "entries")]

    # -- the exchange ------------------------------------------------------------------

    async def _send(
        self,
        method: str,
        path: str,
        *,
        verb: str,
        idempotent: bool,
        caller: Caller | None = None,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        client = self._http()
        request_headers = _caller_headers(caller)
        request_headers.update(headers or {})
        attempt = 0
        while True:
            cause: Exception | None = None
            try:
                response = await client.request(
                    method, path, params=params, json=json, headers=request_headers
                )
            except httpx.TimeoutException as exc:
                cause = exc
                error: OMPError = ProviderUnavailableError(
                    f"{verb}: the OMP server did not answer within {self.options.timeout}s",
                    provider=self.name,
                )
            except httpx.TransportError as exc:
                cause = exc
                error = ProviderUnavailableError(
                    f"{verb}: cannot reach the OMP server at {self.options.base_url} "
                    f"({type(exc).__name__})",
                    provider=self.name,
                )
            else:
                if 200 <= response.status_code < 300:
                    return response
                error = self._error_from(response)
            delay = self._retry_delay(error, attempt) if idempotent else None
            if delay is None:
                raise error from cause
            await _sleep(delay)
            attempt += 1

    def _retry_delay(self, error: OMPError, attempt: int) -> float | None:
        opts = self.options
        if attempt >= opts.retries or not error.retryable:
            return None
        if error.retry_after is not None:
            return error.retry_after if error.retry_after <= opts.max_retry_after else None
        # Full jitter: spreads retries of many clients over the whole window.
        return random.uniform(0, min(opts.max_backoff, opts.backoff * 2**attempt))

    def _error_from(self, response: httpx.Response) -> OMPError:
        status = response.status_code
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if isinstance(payload, Mapping) and isinstance(payload.get("error"), Mapping):
            error = error_from_envelope(payload, status=status, provider=self.name)
        else:
            snippet = response.text[:200].strip()
            kind = "redirect" if 300 <= status < 400 else "answer"
            error = error_from_envelope(
                {"error": {"message": f"HTTP {status} {kind} from the OMP server: {snippet}"}},
                status=status if status >= 400 else 502,
                provider=self.name,
            )
        if error.request_id is None:
            error.request_id = response.headers.get("x-request-id")
        retry_after = _retry_after(response.headers.get("retry-after"))
        if retry_after is not None:
            error.retry_after = retry_after
        return error


def _caller_headers(caller: Caller | None) -> dict[str, str]:
    if caller is None:
        return {}
    headers = {"x-user-id": caller.user_id}
    if caller.request_id:
        headers["x-request-id"] = caller.request_id
    if caller.app:
        headers["x-omp-app"] = caller.app
    # "default" means "whatever the server decides" (the API key's namespace).
    if caller.namespace != _DEFAULT_NAMESPACE:
        headers["x-omp-namespace"] = caller.namespace
    return headers


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


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise ProviderError(
            f"the OMP server answered HTTP {response.status_code} without JSON",
            provider=PassthroughProvider.name,
        ) from exc


def _unwrap(payload: Any, key: str) -> builtins.list[Any]:
    # OMP 0.1 wraps lists ({"results": [...]}); some servers answer a bare list.
    if isinstance(payload, Mapping):
        payload = payload.get(key)
    if not isinstance(payload, builtins.list):
        raise ProviderError(
            f"malformed answer from the OMP server (expected {key!r})",
            provider=PassthroughProvider.name,
        )
    return payload


def _record(payload: Any) -> Any:
    # OMP 0.1 servers send null for empty lists and maps; openmem's models use [] and {}.
    if isinstance(payload, Mapping):
        payload = dict(payload)
        for name, empty in (("tags", []), ("supersedes", []), ("metadata", {})):
            if payload.get(name, empty) is None:
                payload[name] = empty
    return payload


def _hit(payload: Any) -> Any:
    # Some OMP 0.1 servers score by raw cosine similarity, in [-1, 1]; the contract is [0, 1].
    if isinstance(payload, Mapping):
        payload = dict(payload)
        payload["memory"] = _record(payload.get("memory"))
        score = payload.get("score")
        if isinstance(score, int | float) and not isinstance(score, bool):
            payload["score"] = min(1.0, max(0.0, float(score)))
    return payload


def _compatible(model: type[BaseModel], payload: Any) -> Any:
    """Read OMP 0.1 answers of other servers into openmem's stricter models."""
    if not isinstance(payload, Mapping):
        return payload
    if model is MemoryRecord:
        return _record(payload)
    if model is SearchHit:
        return _hit(payload)
    if model is MemoryPage and isinstance(payload.get("items"), builtins.list):
        return {**payload, "items": [_record(item) for item in payload["items"]]}
    if model is ContextBlock:
        fixed = dict(payload)
        if fixed.get("citations") is None:
            fixed["citations"] = []
        if fixed.get("token_count") is None and isinstance(fixed.get("text"), str):
            fixed["token_count"] = estimate_tokens(fixed["text"])
        return fixed
    return payload


def _validate(model: type[ModelT], payload: Any) -> ModelT:
    try:
        return model.model_validate(_compatible(model, payload))
    except ValidationError as exc:
        raise ProviderError(
            f"malformed {model.__name__} from the OMP server: {exc.errors()[0].get('msg')}",
            provider=PassthroughProvider.name,
        ) from exc
