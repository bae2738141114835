"""The error tree of openmem and the one table that maps it to the wire.

Two families, never mixed:

Protocol errors: something about the data or the backend. Each has a stable ``code``, an
OMP ``type``, an HTTP status and a retry hint, all read from ``ERROR_TABLE``. The server
and the passthrough client translate through that table, so the wire cannot drift::

    OMPError
    ├── InvalidRequestError          invalid_request         400  invalid
    │   └── EmbeddingModelMismatchError  embedding_model_mismatch  409  invalid
    ├── ConflictError                conflict                409  invalid
    ├── MethodNotAllowedError        method_not_allowed      405  invalid
    ├── PayloadTooLargeError         payload_too_large       413  invalid
    ├── UnsupportedCapabilityError   unsupported_capability  400  invalid
    ├── UnauthorizedError            unauthorized            401  auth
    ├── ScopeDeniedError             scope_denied            403  auth
    ├── NotFoundError                not_found               404  not_found
    ├── RateLimitedError             rate_limited            429  rate_limited     retryable
    └── ProviderError                provider_error          502  provider_error
        ├── ProviderUnavailableError provider_unavailable    503  provider_error   retryable
        ├── ProviderSaturatedError   provider_saturated      503  provider_error   retryable
        ├── IngestionTimeoutError    ingestion_timeout       504  provider_error   retryable
        ├── InvalidResponseError     invalid_response        502  provider_error
        └── InternalError            internal_error          500  provider_error

Misuse errors: the program used the SDK wrongly. They are ``RuntimeError`` / ``ValueError``
subclasses, carry no wire code and never cross the wire::

    OpenMemUsageError (RuntimeError)
    ├── EventLoopMismatchError       an instance used from a second event loop
    └── ClosedError                  a verb after close()
    ConfigurationError (ValueError)
    └── ProviderNotFoundError        no provider registered under that name

A memory of another user is always ``NotFoundError``, never ``ScopeDeniedError``: the error
must not reveal that the id exists.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

ErrorType = Literal["invalid", "auth", "not_found", "rate_limited", "provider_error"]

__all__ = [
    "ERROR_TABLE",
    "ClosedError",
    "ConfigurationError",
    "ConflictError",
    "EmbeddingModelMismatchError",
    "ErrorSpec",
    "ErrorType",
    "EventLoopMismatchError",
    "IngestionTimeoutError",
    "InternalError",
    "InvalidRequestError",
    "InvalidResponseError",
    "MethodNotAllowedError",
    "NotFoundError",
    "OMPError",
    "OpenMemUsageError",
    "PayloadTooLargeError",
    "ProviderError",
    "ProviderNotFoundError",
    "ProviderSaturatedError",
    "ProviderUnavailableError",
    "RateLimitedError",
    "ScopeDeniedError",
    "UnauthorizedError",
    "UnsupportedCapabilityError",
    "error_from_envelope",
]


@dataclass(frozen=True)
class ErrorSpec:
    """One row of the error table: how a stable code looks on the wire."""

    code: str
    error_class: type[OMPError]
    type: ErrorType
    http_status: int
    retryable: bool


class OMPError(Exception):
    """A protocol error with a stable code; the base of every data and backend error."""

    code: ClassVar[str] = "provider_error"

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        request_id: str | None = None,
        field: str | None = None,
        details: Mapping[str, Any] | None = None,
        retry_after: float | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.request_id = request_id
        self.field = field
        self.details: dict[str, Any] = dict(details or {})
        self.retry_after = retry_after
        # An unknown code from a remote server is kept verbatim on the nearest class.
        self._code_override = code

    @property
    def error_code(self) -> str:
        """The stable code as sent on the wire (the class code unless a remote sent another)."""
        return self._code_override or type(self).code

    @property
    def spec(self) -> ErrorSpec:
        """The table row for this error."""
        return ERROR_TABLE.get(self.error_code) or ERROR_TABLE[type(self).code]

    @property
    def type(self) -> ErrorType:
        """The OMP error type (auth, invalid, not_found, rate_limited, provider_error)."""
        return self.spec.type

    @property
    def http_status(self) -> int:
        """The HTTP status this error is sent with."""
        return self.spec.http_status

    @property
    def retryable(self) -> bool:
        """Whether the same call may safely be retried."""
        return self.spec.retryable

    def to_envelope(self) -> dict[str, Any]:
        """The OMP error envelope: ``{"error": {code, message, type, ...}}``."""
        body: dict[str, Any] = {
            "code": self.error_code,
            "message": self.message,
            "type": self.type,
        }
        if self.request_id is not None:
            body["request_id"] = self.request_id
        if self.provider is not None:
            body["provider"] = self.provider
        if self.field is not None:
            body["field"] = self.field
        if self.details:
            body["details"] = self.details
        return {"error": body}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.error_code!r}, message={self.message!r})"


class InvalidRequestError(OMPError):
    """The request is malformed or a field is out of range; ``field`` names it."""

    code = "invalid_request"


class EmbeddingModelMismatchError(InvalidRequestError):
    """Stored memories were embedded with another model; run ``openmem reembed``."""

    code = "embedding_model_mismatch"


class ConflictError(OMPError):
    """The request conflicts with stored state (an idempotency key reused for other content)."""

    code = "conflict"


class MethodNotAllowedError(OMPError):
    """The route exists but not with this HTTP method."""

    code = "method_not_allowed"


class PayloadTooLargeError(OMPError):
    """The request body is larger than the server accepts."""

    code = "payload_too_large"


class UnsupportedCapabilityError(OMPError):
    """The provider does not declare this verb or feature; raised before any I/O."""

    code = "unsupported_capability"


class UnauthorizedError(OMPError):
    """Missing, unknown or revoked credentials."""

    code = "unauthorized"


class ScopeDeniedError(OMPError):
    """The credentials are valid but not for this user, scope or verb."""

    code = "scope_denied"


class NotFoundError(OMPError):
    """No such memory for this user (another user's memory is also "not found")."""

    code = "not_found"


class RateLimitedError(OMPError):
    """Too many requests; retry after ``retry_after`` seconds."""

    code = "rate_limited"


class ProviderError(OMPError):
    """The backend failed in a way that is not the caller's fault."""

    code = "provider_error"


class ProviderUnavailableError(ProviderError):
    """The backend cannot be reached or is not ready; retry with backoff."""

    code = "provider_unavailable"


class ProviderSaturatedError(ProviderError):
    """Too many calls are in flight or abandoned on this provider; retry later."""

    code = "provider_saturated"


class IngestionTimeoutError(ProviderError):
    """An asynchronously ingested memory did not become readable in time."""

    code = "ingestion_timeout"


class InvalidResponseError(ProviderError):
    """A backend (an LLM) answered, but not in the shape asked for, even after a repair."""

    code = "invalid_response"


class InternalError(ProviderError):
    """An unexpected failure inside openmem itself."""

    code = "internal_error"


def _row(cls: type[OMPError], type_: ErrorType, status: int, retryable: bool) -> ErrorSpec:
    return ErrorSpec(cls.code, cls, type_, status, retryable)


ERROR_TABLE: Mapping[str, ErrorSpec] = {
    spec.code: spec
    for spec in (
        _row(InvalidRequestError, "invalid", 400, False),
        _row(EmbeddingModelMismatchError, "invalid", 409, False),
        _row(ConflictError, "invalid", 409, False),
        _row(MethodNotAllowedError, "invalid", 405, False),
        _row(PayloadTooLargeError, "invalid", 413, False),
        _row(UnsupportedCapabilityError, "invalid", 400, False),
        _row(UnauthorizedError, "auth", 401, False),
        _row(ScopeDeniedError, "auth", 403, False),
        _row(NotFoundError, "not_found", 404, False),
        _row(RateLimitedError, "rate_limited", 429, True),
        _row(ProviderError, "provider_error", 502, False),
        _row(ProviderUnavailableError, "provider_error", 503, True),
        _row(ProviderSaturatedError, "provider_error", 503, True),
        _row(IngestionTimeoutError, "provider_error", 504, True),
        _row(InvalidResponseError, "provider_error", 502, False),
        _row(InternalError, "provider_error", 500, False),
    )
}
"""Every stable code: its class, OMP type, HTTP status and whether a retry is safe."""


def error_from_envelope(
    payload: Mapping[str, Any], *, status: int | None = None, provider: str | None = None
) -> OMPError:
    """Rebuild the typed error from an OMP envelope received over the wire.

    An unknown code maps to the class of its HTTP status family and keeps the code verbatim.
    """
    body = payload.get("error")
    if not isinstance(body, Mapping):
        body = {}
    code = str(body.get("code") or "")
    message = str(body.get("message") or (f"HTTP {status}" if status else "unknown error"))
    spec = ERROR_TABLE.get(code)
    if spec is not None:
        cls: type[OMPError] = spec.error_class
        override = None
    else:
        cls = _class_for_status(status)
        override = code or None
    details = body.get("details")
    field = body.get("field")
    return cls(
        message,
        provider=str(body["provider"]) if body.get("provider") else provider,
        request_id=str(body["request_id"]) if body.get("request_id") else None,
        field=str(field) if isinstance(field, str) else None,
        details=details if isinstance(details, Mapping) else None,
        code=override,
    )


_STATUS_FALLBACK: Mapping[int, type[OMPError]] = {
    400: InvalidRequestError,
    401: UnauthorizedError,
    403: ScopeDeniedError,
    404: NotFoundError,
    405: MethodNotAllowedError,
    409: ConflictError,
    413: PayloadTooLargeError,
    429: RateLimitedError,
    500: InternalError,
    502: ProviderError,
    503: ProviderUnavailableError,
    504: IngestionTimeoutError,
}


def _class_for_status(status: int | None) -> type[OMPError]:
    if status is not None and status in _STATUS_FALLBACK:
        return _STATUS_FALLBACK[status]
    if status is not None and 400 <= status < 500:
        return InvalidRequestError
    return ProviderError


class OpenMemUsageError(RuntimeError):
    """The SDK was used wrongly; a bug in the calling program, not a data error."""


class EventLoopMismatchError(OpenMemUsageError):
    """An AsyncMemory was used from an event loop other than the one it is bound to."""


class ClosedError(OpenMemUsageError):
    """A verb was called after ``close()``."""


class ConfigurationError(ValueError):
    """The configuration is invalid: an unknown option, a bad value or a missing provider."""


class ProviderNotFoundError(ConfigurationError):
    """No provider is registered under the requested name."""
