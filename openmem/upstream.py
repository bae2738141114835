"""How a hosted service's HTTP answer becomes an openmem error.

Providers over hosted APIs (Letta, Supermemory, ...) receive the service's status code,
error body and headers through the service's own client library; this module is the one
place that turns them into the typed errors of ``openmem.errors``, so every such provider
maps them alike:

=====================  ==============================  ======================================
service answers        openmem raises                  why
=====================  ==============================  ======================================
400, 422               ``InvalidRequestError``         the request was refused as malformed
401, 403               ``ProviderUnavailableError``    the *configured* key was refused: the
                                                       operator must fix it, not the caller
404                    ``NotFoundError``
409                    ``ConflictError``
413                    ``PayloadTooLargeError``
429                    ``RateLimitedError``            ``retry_after`` from ``Retry-After``
500                    ``ProviderError``
502, 503, 504          ``ProviderUnavailableError``    retryable
=====================  ==============================  ======================================

Messages carry the status and the service's own short explanation, never request headers:
an API key cannot reach an error, a log line or a repr through here.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from typing import Any

from openmem.errors import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    OMPError,
    PayloadTooLargeError,
    ProviderError,
    ProviderUnavailableError,
    RateLimitedError,
)

__all__ = ["error_for_status", "explanation_of", "retry_after_seconds"]

_MAX_DETAIL = 300


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """Seconds to wait from ``Retry-After`` (seconds or an HTTP date) or ``retry-after-ms``."""
    if not headers:
        return None
    lowered = {k.lower(): v for k, v in headers.items()}
    millis = lowered.get("retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000.0)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_tz(value)
        if parsed is None:
            return None
        return max(0.0, email.utils.mktime_tz(parsed) - time.time())


def explanation_of(body: Any) -> str:
    """The service's short explanation from an error body (``detail``, ``message``, ``error``)."""
    if isinstance(body, Mapping):
        for key in ("detail", "message", "error", "title"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value[:_MAX_DETAIL]
            if isinstance(value, list) and value:
                first = value[0]
                if isinstance(first, Mapping) and isinstance(first.get("msg"), str):
                    return str(first["msg"])[:_MAX_DETAIL]
    if isinstance(body, str):
        return body[:_MAX_DETAIL]
    return ""


def error_for_status(
    status: int,
    *,
    provider: str,
    body: Any = None,
    headers: Mapping[str, str] | None = None,
) -> OMPError:
    """The openmem error for an HTTP error answer of a hosted service (see the table above)."""
    detail = explanation_of(body)
    message = f"{provider} answered {status}" + (f": {detail}" if detail else "")
    if status in (400, 422):
        return InvalidRequestError(message, provider=provider)
    if status in (401, 403):
        return ProviderUnavailableError(
            f"{provider} refused the configured API key ({status}); check api_key",
            provider=provider,
        )
    if status == 404:
        return NotFoundError(message, provider=provider)
    if status == 409:
        return ConflictError(message, provider=provider)
    if status == 413:
        return PayloadTooLargeError(message, provider=provider)
    if status == 429:
        return RateLimitedError(
            message, provider=provider, retry_after=retry_after_seconds(headers)
        )
    if status in (502, 503, 504):
        return ProviderUnavailableError(message, provider=provider)
    return ProviderError(message, provider=provider)
