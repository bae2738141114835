"""What a running server holds, and what each request resolves to before its verb runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from openmem.errors import ProviderUnavailableError
from openmem.llm.pipeline import InferencePipeline
from openmem.models import Capabilities, validate_identifier
from openmem.provider import Caller, Provider
from openmem.server.auth import Principal, authenticate
from openmem.server.envelope import request_id_of
from openmem.server.keys import KeyStore, KeyVerifier, SharedKeyStore
from openmem.server.metrics import ServerMetrics
from openmem.server.settings import ServerSettings

__all__ = ["APP_HEADER", "NAMESPACE_HEADER", "Call", "CallDep", "ServerState", "server_state"]

NAMESPACE_HEADER = "X-OMP-Namespace"
APP_HEADER = "X-OMP-App"

# Declared for the OpenAPI document (the names OMP 0.1 uses); the check itself is ours.
_bearer = HTTPBearer(scheme_name="bearerAuth", auto_error=False)
_api_key = APIKeyHeader(name="X-API-Key", scheme_name="apiKeyAuth", auto_error=False)


@dataclass
class ServerState:
    """The one provider of this process, its declared capabilities, and the key store."""

    settings: ServerSettings
    provider: Provider[Any]
    key_store: KeyStore | None
    metrics: ServerMetrics
    capabilities: Capabilities | None = None
    inference: InferencePipeline | None = None
    """The chat model of ``POST /memories`` with ``messages`` and ``infer: true``."""
    shared_keys: SharedKeyStore | None = None
    """The keys in the provider's database, when they are used instead of ``key_store``."""

    def key_verifier(self) -> KeyVerifier | None:
        """What authenticates requests (None: auth is off)."""
        if self.key_store is None:
            return None
        return self.shared_keys if self.shared_keys is not None else self.key_store

    def caps(self) -> Capabilities:
        """The provider's capabilities as fetched at startup."""
        if self.capabilities is None:
            raise ProviderUnavailableError("the server is not ready")
        return self.capabilities


def server_state(request: Request) -> ServerState:
    """The state of the app serving ``request``."""
    state: ServerState = request.app.state.openmem
    return state


@dataclass(frozen=True)
class Call:
    """One authenticated request: who calls, with which request id, on which server."""

    state: ServerState
    principal: Principal
    request_id: str | None
    app: str | None

    def caller(self, user_id: str) -> Caller:
        """The ``Caller`` the provider receives: the namespace always comes from the key."""
        self.principal.require_user(user_id)
        return Caller(self.principal.namespace, user_id, self.app, self.request_id)

    @property
    def caps(self) -> Capabilities:
        """The provider's capabilities."""
        return self.state.caps()


async def _call(
    request: Request,
    _bearer_credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    _api_key_value: Annotated[str | None, Depends(_api_key)],
) -> Call:
    state = server_state(request)
    requested = request.headers.get(NAMESPACE_HEADER)
    if requested is not None:
        validate_identifier(requested, "namespace")
    principal = authenticate(
        request.headers,
        store=state.key_verifier(),
        default_namespace=state.settings.namespace,
        requested_namespace=requested,
    )
    app = principal.app or request.headers.get(APP_HEADER) or None
    return Call(state, principal, request_id_of(request), app)


CallDep = Annotated[Call, Depends(_call)]
"""The authenticated request, as a route parameter."""
