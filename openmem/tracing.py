"""OpenTelemetry spans, one per verb, with the extra ``openmem-layer[otel]``.

``trace_verbs(provider)`` wraps the verbs of one provider instance (``add``, ``search``, ...)
so each call is a span ``openmem.<verb>`` in the current context: under the server's request
span when the server was instrumented, and above the asyncpg or httpx spans of the call when
those libraries are (``instrument_libraries()``; ``openmem serve`` does both). Spans go to the
application's tracer provider (configure an SDK and exporter as usual); without one a verb
makes no span at all. Without OpenTelemetry installed nothing is wrapped.

Attributes: ``openmem.provider``, ``openmem.verb``, ``openmem.namespace``,
``openmem.user_hash`` (SHA-256 of the user id, first 16 hex digits: never the id itself),
``openmem.result_count``, and on failure ``openmem.error_code``. Never content, queries or
metadata.
"""

from __future__ import annotations

import contextvars
import functools
import hashlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from openmem.errors import OMPError

if TYPE_CHECKING:
    from openmem.provider import Caller, Provider

__all__ = [
    "TRACED_VERBS",
    "instrument_app",
    "instrument_libraries",
    "trace_verbs",
    "tracing_available",
    "user_hash",
]

TRACED_VERBS = (
    "add",
    "add_many",
    "get",
    "update",
    "delete",
    "get_by_key",
    "delete_by_key",
    "list",
    "search",
    "context",
    "audit",
    "forget_user",
)
TRACER_NAME = "openmem"
_MARK = "_openmem_traced"
P = TypeVar("P", bound="Provider[Any]")
A = TypeVar("A")
# Set while a traced verb runs: a provider's verb that calls another of its verbs (add ->
# add_many) is still one span.
_IN_VERB: contextvars.ContextVar[bool] = contextvars.ContextVar("openmem_in_verb", default=False)


def tracing_available() -> bool:
    """Whether the OpenTelemetry API is installed (the ``otel`` extra)."""
    try:
        import opentelemetry.trace  # noqa: F401
    except ImportError:
        return False
    return True


def user_hash(user_id: str) -> str:
    """The user id as it appears in spans: a short SHA-256, never the id."""
    return hashlib.sha256(user_id.encode("utf-8")).hexdigest()[:16]


def _result_count(result: object) -> int:
    if result is None:
        return 0
    if isinstance(result, bool):
        return int(result)
    if isinstance(result, int):
        return result  # forget_user: how many memories were deleted
    if isinstance(result, list):
        return len(result)
    for field in ("items", "results", "citations", "entries"):
        value = getattr(result, field, None)
        if isinstance(value, list):
            return len(value)
    return 1


def trace_verbs(provider: P) -> P:
    """Wrap ``provider``'s verbs in spans (on this instance only); idempotent, no-op without
    OpenTelemetry."""
    if not tracing_available() or getattr(provider, _MARK, False):
        return provider
    from opentelemetry import trace

    tracer = trace.get_tracer(TRACER_NAME)
    for verb in TRACED_VERBS:
        method = getattr(provider, verb, None)
        if method is not None:
            setattr(provider, verb, _traced(tracer, provider, verb, method))
    setattr(provider, _MARK, True)
    return provider


def _traced(
    tracer: Any, provider: Provider[Any], verb: str, method: Callable[..., Awaitable[Any]]
) -> Callable[..., Awaitable[Any]]:
    from opentelemetry import trace
    from opentelemetry.trace import ProxyTracerProvider, SpanKind, Status, StatusCode

    @functools.wraps(method)
    async def traced(caller: Caller, *args: Any, **kwargs: Any) -> Any:
        # No SDK configured (the API's proxy provider): a span would record nothing, and
        # making one costs about a tenth of a search's Python time. Checked per call, so a
        # provider configured later is honoured from its first call on.
        if _IN_VERB.get() or isinstance(trace.get_tracer_provider(), ProxyTracerProvider):
            return await method(caller, *args, **kwargs)
        attributes = {
            "openmem.provider": str(getattr(provider, "name", type(provider).__name__)),
            "openmem.verb": verb,
            "openmem.namespace": caller.namespace,
            "openmem.user_hash": user_hash(caller.user_id),
        }
        with tracer.start_as_current_span(
            f"openmem.{verb}",
            kind=SpanKind.INTERNAL,
            attributes=attributes,
            record_exception=False,  # an exception's message may quote content
            set_status_on_exception=False,
        ) as span:
            token = _IN_VERB.set(True)
            try:
                result = await method(caller, *args, **kwargs)
            except OMPError as exc:
                span.set_attribute("openmem.error_code", exc.error_code)
                span.set_status(Status(StatusCode.ERROR, exc.error_code))
                raise
            except BaseException as exc:
                span.set_attribute("openmem.error_code", type(exc).__name__)
                span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                raise
            finally:
                _IN_VERB.reset(token)
            span.set_attribute("openmem.result_count", _result_count(result))
            return result

    return traced


def instrument_app(app: A) -> A:
    """Wrap an ASGI app in OpenTelemetry's server middleware (one span per request, incoming
    ``traceparent`` honoured); the app unchanged without the ``otel`` extra."""
    try:
        from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
    except ImportError:
        return app
    app_with_middleware: Any = app
    app_with_middleware.add_middleware(OpenTelemetryMiddleware)
    return app


def instrument_libraries() -> list[str]:
    """Turn on the asyncpg and httpx instrumentations that are installed; their names."""
    done: list[str] = []
    try:
        from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

        instrumentor: Any = AsyncPGInstrumentor()  # type: ignore[no-untyped-call]
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument()
        done.append("asyncpg")
    except ImportError:
        pass
    try:
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

        instrumentor = HTTPXClientInstrumentor()
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument()
        done.append("httpx")
    except ImportError:
        pass
    return done
