"""The OpenAPI 3.1 document of the server, as committed in ``spec/openapi.yaml``.

FastAPI derives paths, parameters and bodies from the routes and models; this module adds
what the framework cannot know: every route answers errors in the OMP envelope (never
FastAPI's 422 shape), which statuses each route can send, the protocol's description, and
the removal of the framework's validation-error schemas.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from openmem.errors import ERROR_TABLE
from openmem.models import OMP_VERSION
from openmem.server.wire import ErrorEnvelope

__all__ = ["build_openapi"]

_DESCRIPTION = """\
The Open Memory Protocol (OMP) as openmem serves it. Normative text: `spec/omp.md`.

Every error is `{"error": {"code", "message", "type", "request_id"}}`; branch on `code`.
`X-Request-Id` is echoed when sane (`[A-Za-z0-9._-]{1,64}`), else generated. Authenticate
with `Authorization: Bearer <key>` or `X-API-Key: <key>`; `/capabilities`, `/healthz` and
`/metrics` need no key.
"""

_ERROR_REF = {"$ref": "#/components/schemas/ErrorEnvelope"}
_OPEN_PATHS = frozenset({"/capabilities", "/healthz", "/metrics"})
_STATUS_TEXT = {
    400: "invalid_request, unsupported_capability",
    401: "unauthorized",
    403: "scope_denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict, embedding_model_mismatch",
    413: "payload_too_large",
    429: "rate_limited",
    500: "internal_error",
    502: "provider_error",
    503: "provider_unavailable, provider_saturated",
    504: "ingestion_timeout",
}


def _error_statuses(path: str, method: str, has_body: bool) -> list[int]:
    if path == "/metrics":
        return [405, 500]
    statuses = {405, 500}
    if path in _OPEN_PATHS:
        return sorted(statuses | {503})
    statuses |= {400, 401, 403, 429, 502, 503, 504}
    if "{" in path or method in ("patch", "delete") or path.endswith(":by-key"):
        statuses.add(404)
    if has_body:
        statuses |= {409, 413}
    return sorted(statuses)


def _check_table() -> None:
    # Every status in the table must be described; a new code without a row here would
    # silently fall through to "default".
    missing = {spec.http_status for spec in ERROR_TABLE.values()} - set(_STATUS_TEXT)
    if missing:
        raise RuntimeError(f"openapi: no description for statuses {sorted(missing)}")


def _not_nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """A parameter is present or absent, never ``null``: drop the null branch of ``anyOf``."""
    branches = schema.get("anyOf")
    if not isinstance(branches, list):
        return schema
    kept = [b for b in branches if b != {"type": "null"}]
    if len(kept) != 1 or len(kept) == len(branches):
        return schema
    rest = {k: v for k, v in schema.items() if k != "anyOf"}
    return {**kept[0], **rest}


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """The document, computed once per app and cached on it like FastAPI's own."""
    if app.openapi_schema:
        return app.openapi_schema
    _check_table()
    doc = get_openapi(
        title=app.title,
        version=OMP_VERSION,
        openapi_version="3.1.0",
        description=_DESCRIPTION,
        routes=app.routes,
    )
    schemas: dict[str, Any] = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    envelope = ErrorEnvelope.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in envelope.pop("$defs", {}).items():
        schemas[name] = definition
    schemas["ErrorEnvelope"] = envelope
    for path, operations in doc.get("paths", {}).items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", ()):
                parameter["schema"] = _not_nullable(parameter["schema"])
            responses: dict[str, Any] = operation.setdefault("responses", {})
            responses.pop("422", None)
            for status in _error_statuses(path, method, "requestBody" in operation):
                responses.setdefault(
                    str(status),
                    {
                        "description": _STATUS_TEXT[status],
                        "content": {"application/json": {"schema": _ERROR_REF}},
                    },
                )
            for answer in responses.values():
                headers = answer.setdefault("headers", {})
                headers["X-Request-Id"] = {"$ref": "#/components/headers/X-Request-Id"}
    doc["components"]["headers"] = {
        "X-Request-Id": {
            "description": "The request id: the caller's when sane, else a generated one.",
            "schema": {"type": "string", "pattern": "^[A-Za-z0-9._\\-]{1,64}$"},
        }
    }
    doc["components"]["schemas"] = dict(sorted(schemas.items()))
    app.openapi_schema = doc
    return doc
