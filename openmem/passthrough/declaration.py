"""What a remote OMP server declares, and what of it this client can use.

``GET /capabilities`` answers the server's claim; the ``x-openmem`` marker in it names the
extension routes the server offers. A feature reachable only through an extension route is
only as real as the route, so the client narrows the claim to what it can reach; the claim
itself is kept too, so a conformance run can hold the server to every claim.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from openmem.errors import ProviderError
from openmem.models import Capabilities
from openmem.passthrough.compat import read
from openmem.passthrough.exchange import PROVIDER_NAME

__all__ = ["ServerDeclaration", "read_declaration"]

# Features that only work through the parameters of the extended search (``mode`` and
# ``include_inactive``): without it a server's claim of them cannot be used from here.
_EXTENDED_SEARCH_FEATURES = (
    "vector_search",
    "keyword_search",
    "hybrid_search",
    "temporal",
    "supports_supersession",
)

# Each feature and the extension route it needs.
_FEATURE_ROUTES = (
    ("batch_add", "memories:batch"),
    ("forget_user", "users:forget"),
    ("idempotency", "idempotency-key"),
    ("metadata_filters", "search:post"),
    ("client_keys", "memories:by-key"),
    ("async_ingest", "async-mode"),
)


@dataclass(frozen=True)
class ServerDeclaration:
    """A server's ``/capabilities``: as claimed, and as usable from this client."""

    claimed: Capabilities
    """What the server declared, before narrowing."""
    usable: Capabilities
    """What this client offers over that server: the claim without unreachable features."""
    announced: bool
    """Whether the server announces openmem's extensions (``x-openmem``)."""
    extensions: frozenset[str]
    """The extension routes the server names."""


def read_declaration(payload: Any, *, base_url: str) -> ServerDeclaration:
    """Read a ``/capabilities`` answer; ``ProviderError`` if it is not an OMP server's."""
    if not isinstance(payload, Mapping) or "omp_version" not in payload:
        raise ProviderError(
            f"{base_url} is not an OMP server (no omp_version in /capabilities)",
            provider=PROVIDER_NAME,
        )
    remote = read(Capabilities, payload)
    marker = payload.get("x-openmem")
    named = marker.get("extensions") if isinstance(marker, Mapping) else None
    extensions = frozenset(str(e) for e in named or ())
    features = remote.features.model_dump(by_alias=True)
    for feature, extension in _FEATURE_ROUTES:
        if extension not in extensions:
            features[feature] = False
    if "search:post" not in extensions:
        for feature in _EXTENDED_SEARCH_FEATURES:
            features[feature] = False
    features["cancellation"] = "native"
    # The server infers with its own chat model: for this client that is the backend's.
    infers = features.get("infer", "none") != "none" and "memories:messages" in extensions
    features["infer"] = "backend" if infers else "none"
    data = remote.model_dump(by_alias=True)
    data["features"] = features
    return ServerDeclaration(
        claimed=remote,
        usable=Capabilities.model_validate(data),
        announced=isinstance(marker, Mapping),
        extensions=extensions,
    )
