"""Every error the server sends, in the OMP envelope, through ``openmem.errors``.

The routes raise typed ``OMPError``s; the framework's own errors (unknown route, wrong
method, a body or parameter that fails validation) are translated into the same tree here, so
a client sees one shape whatever went wrong: ``{"error": {code, message, type, request_id}}``
with the status from ``ERROR_TABLE``.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from openmem.errors import (
    InvalidRequestError,
    MethodNotAllowedError,
    NotFoundError,
    OMPError,
    PayloadTooLargeError,
    RateLimitedError,
)

_log = logging.getLogger("openmem.server")

__all__ = [
    "answer_error",
    "error_body",
    "error_headers",
    "install_error_handlers",
    "invalid_request_from_fastapi",
    "request_id_of",
]


def request_id_of(request: Request) -> str | None:
    """The request id the server assigned (see the request context middleware)."""
    value = request.scope.get("state", {}).get("request_id")
    return str(value) if value is not None else None


def error_body(exc: OMPError, request_id: str | None) -> bytes:
    """The envelope of ``exc`` as JSON bytes, stamped with the request id."""
    if request_id is not None:
        exc.request_id = request_id
    return json.dumps(exc.to_envelope(), separators=(",", ":"), default=str).encode("utf-8")


def error_headers(exc: OMPError) -> dict[str, str]:
    """Headers that go with an error: ``Retry-After`` (whole seconds) for retryable ones."""
    headers = {"content-type": "application/json"}
    if exc.retry_after is not None:
        headers["retry-after"] = str(max(0, math.ceil(exc.retry_after)))
    elif isinstance(exc, RateLimitedError):
        headers["retry-after"] = "1"
    allow = exc.details.get("allow") if isinstance(exc, MethodNotAllowedError) else None
    if isinstance(allow, str):
        headers["allow"] = allow
    return headers


def error_response(exc: OMPError, request_id: str | None) -> Response:
    """A complete error response for ``exc``."""
    return Response(
        content=error_body(exc, request_id),
        status_code=exc.http_status,
        headers=error_headers(exc),
    )


def answer_error(request: Request, exc: OMPError) -> Response:
    """The error response for ``exc`` in ``request``, counted in the app's metrics."""
    state = getattr(request.app.state, "openmem", None)
    metrics = getattr(state, "metrics", None)
    if metrics is not None:
        metrics.errors.labels(exc.error_code).inc()
    request_id = request_id_of(request)
    cause = exc.__cause__
    if cause is not None and not isinstance(cause, OMPError):
        # The driver's or database's own words stay here, never in the client's message.
        _log.warning("request %s: %s caused by %r", request_id, exc.error_code, cause)
    return error_response(exc, request_id)


MEMORY_BODY_TAG = "memory-input"
CONVERSATION_BODY_TAG = "conversation-input"
BODY_SHAPE_TAGS = frozenset({MEMORY_BODY_TAG, CONVERSATION_BODY_TAG})
"""Discriminator tags of request bodies with several shapes (``routes.AddBody``)."""


def invalid_request_from_fastapi(errors: Sequence[Any]) -> InvalidRequestError:
    """An ``InvalidRequestError`` naming the first field FastAPI's validation refused."""
    first = errors[0] if errors else {}
    # A body of several shapes (add: content or messages) puts its tag in the location.
    loc = [str(part) for part in first.get("loc", ()) if part not in BODY_SHAPE_TAGS]
    where, field_path = (loc[0], loc[1:]) if loc else ("body", [])
    kind = str(first.get("type", ""))
    if kind == "json_invalid":
        return InvalidRequestError("the request body is not valid JSON", field="body")
    if where == "body" and not field_path:
        if kind == "missing":
            return InvalidRequestError("a JSON request body is required", field="body")
        message = str(first.get("msg", "invalid value"))
        return InvalidRequestError(f"body: {_clean(message)}", field="body")
    field = ".".join(field_path) or where
    message = _clean(str(first.get("msg", "invalid value")))
    return InvalidRequestError(f"{field}: {message}", field=field)


def _clean(message: str) -> str:
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return message


def _allowed_methods(request: Request) -> str | None:
    """The methods the spec documents at this path; a static path beats a template.

    Read from the OpenAPI document rather than the router, so that ``/memories/search``
    answers what the spec says, not what ``/memories/{memory_id}`` would also match.
    """
    path = request.scope.get("path", "")
    paths: dict[str, dict[str, object]] = request.app.openapi().get("paths", {})
    if path in paths:
        methods = set(paths[path])
    else:
        methods = set()
        for template, operations in paths.items():
            pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
            if re.fullmatch(pattern, path):
                methods |= set(operations)
    return ", ".join(m.upper() for m in _METHOD_ORDER if m in methods) or None


_METHOD_ORDER = ("get", "post", "patch", "put", "delete")


def install_error_handlers(app: FastAPI) -> None:
    """Route every framework and protocol error through the envelope."""

    async def on_omp_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, OMPError)
        return answer_error(request, exc)

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        error = invalid_request_from_fastapi(exc.errors())
        content_type = request.headers.get("content-type", "")
        if error.field == "body" and "json" not in content_type.lower():
            # FastAPI reads a body without a JSON content type as raw bytes: say so.
            error = InvalidRequestError(
                "the request body must be JSON sent with the header "
                f"'Content-Type: application/json' (got {content_type or 'no content type'})",
                field="body",
            )
        return answer_error(request, error)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        error: OMPError
        if exc.status_code == 404:
            error = NotFoundError("no such route")
        elif exc.status_code == 405:
            allow = _allowed_methods(request)
            error = MethodNotAllowedError(
                f"method {request.method} is not allowed here",
                details={"allow": allow} if allow else None,
            )
        elif exc.status_code == 413:
            error = PayloadTooLargeError("request body too large")
        else:
            error = InvalidRequestError(str(exc.detail))
        return answer_error(request, error)

    app.add_exception_handler(OMPError, on_omp_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
