"""How ``openmem serve`` runs the app under uvicorn: one ``uvicorn.Config`` from the settings."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from openmem.server.header_deadline import header_deadline_protocol
from openmem.server.settings import ServerSettings

__all__ = ["uvicorn_config"]


def uvicorn_config(app: FastAPI, settings: ServerSettings) -> uvicorn.Config:
    """The uvicorn configuration ``openmem serve`` uses for ``app`` and ``settings``."""
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        log_config=None,  # configure_logging set uvicorn's loggers up in the chosen format
        access_log=False,  # ours has no query strings (user ids) and no raw paths
        timeout_graceful_shutdown=int(settings.graceful_timeout),
        limit_concurrency=settings.max_connections,
        lifespan="on",
        server_header=False,
        http=header_deadline_protocol(settings.header_timeout),
    )
