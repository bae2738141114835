"""One OMP server over HTTP: the pooled client, retries, and error answers read back as errors.

Every answer that is not 2xx becomes the typed ``OMPError`` of ``openmem.errors`` through the
same table the server wrote it with (``error_from_envelope``); an answer without an envelope
(a proxy's page) is mapped by its status. Idempotent calls are retried with full jitter on
retryable codes and network errors, waiting ``Retry-After`` when the server sends one.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import Mapping
from typing import Any

import httpx

from openmem.errors import (
    ClosedError,
    OMPError,
    ProviderError,
    ProviderUnavailableError,
    error_from_envelope,
)
from openmem.passthrough.options import PassthroughOptions
from openmem.provider import Caller

__all__ = ["PROVIDER_NAME", "Exchange", "read_json"]

PROVIDER_NAME = "passthrough"
_DEFAULT_NAMESPACE = "default"
_USER_AGENT = "openmem-passthrough/0.1"
_sleep = asyncio.sleep  # indirection so tests can observe backoff without waiting


class Exchange:
    """The HTTP side of the passthrough provider: one pooled client, created lazily."""

    def __init__(self, options: PassthroughOptions) -> None:
        self._options = options
        self._client: httpx.AsyncClient | None = None
        self._closed = False

    def client(self) -> httpx.AsyncClient:
        """The pooled client (created on first use, no I/O); ``ClosedError`` after close."""
        if self._closed:
            raise ClosedError("the passthrough provider is closed")
        if self._client is None:
            opts = self._options
            headers = {"accept": "application/json", "user-agent": _USER_AGENT}
            if opts.api_key is not None:
                headers["authorization"] = f"Bearer {opts.api_key.get_secret_value()}"
            self._client = httpx.AsyncClient(
                base_url=opts.base_url,
                transport=opts.transport,
                timeout=httpx.Timeout(opts.timeout, connect=opts.connect_timeout),
                limits=httpx.Limits(
                    max_connections=opts.max_connections,
                    keepalive_expiry=opts.keepalive_expiry,
                ),
                headers=headers,
                follow_redirects=False,
            )
        return self._client

    @property
    def has_pool(self) -> bool:
        """Whether a client (and so possibly open connections) exists."""
        return self._client is not None

    async def discard(self) -> None:
        """Close the pool but stay usable (after a failed open)."""
        client, self._client = self._client, None
        if client is not None:
            await asyncio.shield(client.aclose())

    async def aclose(self) -> None:
        """Close the pool for good; idempotent."""
        self._closed = True
        await self.discard()

    async def send(
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
        """One request; the 2xx answer, or the typed error after any retries."""
        client = self.client()
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
                    f"{verb}: the OMP server did not answer within {self._options.timeout}s",
                    provider=PROVIDER_NAME,
                )
            except httpx.TransportError as exc:
                cause = exc
                error = ProviderUnavailableError(
                    f"{verb}: cannot reach the OMP server at {self._options.base_url} "
                    f"({type(exc).__name__})",
                    provider=PROVIDER_NAME,
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
        opts = self._options
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
            error = error_from_envelope(payload, status=status, provider=PROVIDER_NAME)
        else:
            snippet = response.text[:200].strip()
            kind = "redirect" if 300 <= status < 400 else "answer"
            error = error_from_envelope(
                {"error": {"message": f"HTTP {status} {kind} from the OMP server: {snippet}"}},
                status=status if status >= 400 else 502,
                provider=PROVIDER_NAME,
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


def read_json(response: httpx.Response) -> Any:
    """The JSON body of a 2xx answer; ``ProviderError`` when it is not JSON."""
    try:
        return response.json()
    except ValueError as exc:
        raise ProviderError(
            f"the OMP server answered HTTP {response.status_code} without JSON",
            provider=PROVIDER_NAME,
        ) from exc
