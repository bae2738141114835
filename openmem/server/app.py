"""``create_app(settings)``: any provider as an OMP 0.1 HTTP server.

One provider per process, opened in the app's lifespan and closed after the last in-flight
request has drained. The OpenAPI document the app serves is ``spec/openapi.yaml``, byte for
byte once rendered (``python -m openmem.server.spec --check``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from importlib.metadata import version
from pathlib import Path
from typing import Any

import anyio
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.responses import Response

from openmem.config import resolve_config
from openmem.distribution import DISTRIBUTION
from openmem.errors import ConfigurationError, OMPError, ProviderUnavailableError
from openmem.llm.conversation import LLMArg, as_pipeline, owns_client
from openmem.models import Capabilities
from openmem.provider import Provider
from openmem.server.api_key_routes import router as api_keys_router
from openmem.server.docs_pages import install_docs_pages
from openmem.server.envelope import answer_error, install_error_handlers
from openmem.server.events import router as events_router
from openmem.server.key_routes import key_router
from openmem.server.keys import KeyStore
from openmem.server.metrics import CONTENT_TYPE, ServerMetrics
from openmem.server.middleware import RequestContextMiddleware
from openmem.server.openapi import build_openapi
from openmem.server.routes import router
from openmem.server.settings import (
    SERVER_CONFIG_ENV,
    ServerSettings,
    load_server_settings,
    provider_table,
)
from openmem.server.state import ServerState, server_state
from openmem.server.webhooks import router as webhooks_router
from openmem.server.wire import Health
from openmem.tracing import instrument_app, trace_verbs

__all__ = [
    "SERVER_EXTENSIONS",
    "app_from_env",
    "create_app",
    "served_capabilities",
    "uses_database_keys",
]

SERVER_EXTENSIONS = (
    "memories:batch",
    "search:post",
    "users:forget",
    "idempotency-key",
    "namespace-header",
    "memories:messages",
    "async-mode",
    "webhooks",
    "memories:by-key",
)
"""The wire extensions this server offers beyond OMP 0.1 (declared in ``x-openmem``)."""

_log = logging.getLogger("openmem.server")


def served_capabilities(
    provider_caps: Capabilities, *, auth: bool, inference: bool = False
) -> Capabilities:
    """The provider's capabilities plus the ``x-openmem`` declaration of this server.

    ``infer: pipeline`` is declared only when the server has a chat model (``inference``).
    """
    data = provider_caps.model_dump(mode="json", by_alias=True)
    if data["features"].get("infer") == "pipeline" and not inference:
        data["features"]["infer"] = "none"
    data["x-openmem"] = {
        "server": version(DISTRIBUTION),
        "extensions": list(SERVER_EXTENSIONS),
        "auth": "api_key" if auth else "none",
    }
    return Capabilities.model_validate(data)


def uses_database_keys(state: ServerState) -> bool:
    """Whether this server keeps its API keys in the provider's database (``key_backend``)."""
    backend = state.settings.key_backend
    if backend != "auto":
        return backend == "database"
    if not hasattr(state.provider, "open_shared_keys") or state.key_store is None:
        return False
    return not state.key_store.has_active_keys()


def _require_keys(present: bool, where: str) -> None:
    if not present:
        raise ConfigurationError(
            f"no API keys in {where}: create one with `openmem keys create --namespace NAME`"
            " (`--database` for the provider's database), or serve on loopback with --no-auth"
        )


def create_app(
    settings: ServerSettings | None = None,
    *,
    provider: Provider[Any] | None = None,
    provider_options: Mapping[str, Any] | None = None,
    config_file: Path | None = None,
    key_store: KeyStore | None = None,
    llm: LLMArg = None,
) -> FastAPI:
    """The OMP server app for one provider.

    ``provider`` is an instance to serve (opened and closed by the app); without it the
    provider is configured like the SDK: ``provider_options`` > ``config_file`` > the
    ``OPENMEM_*`` environment. No I/O happens here: the lifespan opens the provider.
    ``llm`` is the chat model of ``infer`` (else ``settings.llm_url``/``llm_model``).
    """
    settings = settings or ServerSettings()
    if provider is None:
        file = provider_table(config_file) if config_file is not None else None
        provider = resolve_config(kwargs=provider_options, file=file).build_provider()
    if settings.auth and key_store is None:
        key_store = KeyStore(settings.resolved_keys_path)
    state = ServerState(
        settings=settings,
        provider=trace_verbs(provider),
        key_store=key_store if settings.auth else None,
        metrics=ServerMetrics(),
        inference=as_pipeline(llm if llm is not None else settings.llm_options()),
    )
    # A client or pipeline handed in belongs to the caller; one built from options is ours.
    owns_llm = owns_client(llm if llm is not None else settings.llm_options())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if state.key_store is not None and not uses_database_keys(state):
            _require_keys(state.key_store.has_active_keys(), str(state.key_store.path))
        await state.provider.open()
        try:
            if state.key_store is not None and uses_database_keys(state):
                opener = getattr(state.provider, "open_shared_keys", None)
                if opener is None:
                    raise ConfigurationError(
                        f"key_backend='database' needs a provider with a database, not "
                        f"{state.provider.name!r}"
                    )
                state.shared_keys = await opener()
                _require_keys(state.shared_keys.has_active_keys(), "the database")
                _log.info("API keys: in the provider's database, shared by every replica")
            caps = await state.provider.capabilities()
            state.capabilities = served_capabilities(
                caps, auth=state.key_store is not None, inference=state.inference is not None
            )
            _log.info("serving provider %r", caps.provider)
            yield
        finally:
            state.capabilities = None
            with anyio.CancelScope(shield=True):
                try:
                    await state.provider.close()
                finally:
                    if state.inference is not None and owns_llm:
                        await state.inference.client.aclose()

    app = FastAPI(
        title="Open Memory Protocol (openmem)",
        version="0.1",
        lifespan=lifespan,
        redirect_slashes=False,
        docs_url=None,  # served by install_docs_pages, assets local (no CDN)
        redoc_url=None,
    )
    app.state.openmem = state
    install_docs_pages(app)
    install_error_handlers(app)
    app.include_router(router)
    app.include_router(events_router)
    app.include_router(webhooks_router)
    app.include_router(key_router)
    app.include_router(api_keys_router)
    _add_open_routes(app)
    app.openapi = lambda: build_openapi(app)  # type: ignore[method-assign]
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=False,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "X-API-Key",
                "X-User-Id",
                "X-Request-Id",
                "Idempotency-Key",
            ],
        )
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.max_body_bytes,
        metrics=state.metrics,
        body_timeout=settings.body_timeout,
        max_in_flight=settings.max_in_flight,
    )
    return instrument_app(app)  # outermost: the request span encloses everything


def app_from_env() -> FastAPI:
    """An app configured from the environment alone, for ASGI servers and process managers.

    ``uvicorn --factory openmem.server.app:app_from_env`` (or gunicorn with uvicorn workers).
    ``OPENMEM_SERVER_CONFIG`` names a TOML file; ``OPENMEM_SERVER_*`` and ``OPENMEM_*`` fill
    the rest. The ASGI server decides where it binds, so ``auth`` must stay on unless that is
    loopback: this factory refuses ``OPENMEM_SERVER_AUTH=false`` with a non-loopback
    ``OPENMEM_SERVER_HOST``.
    """
    config = os.environ.get(SERVER_CONFIG_ENV)
    config_file = Path(config) if config else None
    settings = load_server_settings(file=config_file)
    settings.check_exposure()
    return create_app(settings, config_file=config_file)


def _add_open_routes(app: FastAPI) -> None:
    """The routes that need no key: capabilities, health and metrics."""

    @app.get(
        "/capabilities",
        response_model=Capabilities,
        summary="What the provider declares",
        tags=["meta"],
    )
    async def get_capabilities(request: Request) -> Capabilities:
        """The provider's verbs, features and limits (no key needed)."""
        return server_state(request).caps()

    @app.get(
        "/healthz",
        response_model=Health,
        summary="Whether the provider answers",
        tags=["meta"],
    )
    async def healthz(request: Request) -> Response:
        """200 when the provider answers its health probe in time, else 503 (no key needed)."""
        state = server_state(request)
        try:
            state.caps()
            with anyio.fail_after(state.settings.health_timeout):
                await state.provider.health()
        except TimeoutError:
            error: OMPError = ProviderUnavailableError("the provider health check timed out")
            return answer_error(request, error)
        except OMPError as exc:
            error = (
                exc
                if exc.http_status == 503
                else ProviderUnavailableError(f"health check failed: {exc.message}")
            )
            return answer_error(request, error)
        except Exception as exc:  # a provider's health() must not turn into a 500
            _log.warning("health check failed: %s", type(exc).__name__)
            error = ProviderUnavailableError("health check failed")
            return answer_error(request, error)
        return JSONResponse(Health().model_dump())

    @app.get(
        "/metrics",
        summary="Prometheus metrics",
        tags=["meta"],
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE: {"schema": {"type": "string"}}}}},
    )
    async def metrics(request: Request) -> Response:
        """Request counts, latencies, in-flight requests and disconnects (text format)."""
        return Response(server_state(request).metrics.render(), media_type=CONTENT_TYPE)
