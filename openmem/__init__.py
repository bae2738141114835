"""openmem: one async memory layer for AI applications, speaking OMP 0.1.

from openmem import AsyncMemory

async with AsyncMemory(provider="inmemory") as mem:
    await mem.add("prefers dark mode", user_id="u1", scope="ui")
    hits = await mem.search("dark mode", "u1")
"""

# Names load on first use (PEP 562): `import openmem` and `openmem --help` stay fast, and a
# program pays only for the parts it touches. The TYPE_CHECKING block gives type checkers the
# same names eagerly.
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from openmem.errors import (
        ClosedError,
        ConfigurationError,
        ConflictError,
        EmbeddingModelMismatchError,
        EventLoopMismatchError,
        IngestionTimeoutError,
        InternalError,
        InvalidRequestError,
        MethodNotAllowedError,
        NotFoundError,
        OMPError,
        OpenMemUsageError,
        PayloadTooLargeError,
        ProviderError,
        ProviderNotFoundError,
        ProviderSaturatedError,
        ProviderUnavailableError,
        RateLimitedError,
        ScopeDeniedError,
        UnauthorizedError,
        UnsupportedCapabilityError,
    )
    from openmem.memory import (
        UNSET,
        AsyncMemory,
    )
    from openmem.models import (
        OMP_VERSION,
        AuditEntry,
        Capabilities,
        CapabilityFeatures,
        CapabilityLimits,
        Citation,
        ContextBlock,
        IngestEvent,
        MemoryInput,
        MemoryKey,
        MemoryPage,
        MemoryPatch,
        MemoryRecord,
        MemorySource,
        SearchHit,
    )
    from openmem.provider import (
        Caller,
        Provider,
        ProviderOptions,
    )
    from openmem.sync import (
        Memory,
    )

_LAZY: dict[str, str] = {
    "ClosedError": "openmem.errors",
    "ConfigurationError": "openmem.errors",
    "ConflictError": "openmem.errors",
    "EmbeddingModelMismatchError": "openmem.errors",
    "EventLoopMismatchError": "openmem.errors",
    "IngestionTimeoutError": "openmem.errors",
    "InternalError": "openmem.errors",
    "InvalidRequestError": "openmem.errors",
    "MethodNotAllowedError": "openmem.errors",
    "NotFoundError": "openmem.errors",
    "OMPError": "openmem.errors",
    "OpenMemUsageError": "openmem.errors",
    "PayloadTooLargeError": "openmem.errors",
    "ProviderError": "openmem.errors",
    "ProviderNotFoundError": "openmem.errors",
    "ProviderSaturatedError": "openmem.errors",
    "ProviderUnavailableError": "openmem.errors",
    "RateLimitedError": "openmem.errors",
    "ScopeDeniedError": "openmem.errors",
    "UnauthorizedError": "openmem.errors",
    "UnsupportedCapabilityError": "openmem.errors",
    "UNSET": "openmem.memory",
    "AsyncMemory": "openmem.memory",
    "OMP_VERSION": "openmem.models",
    "AuditEntry": "openmem.models",
    "Capabilities": "openmem.models",
    "CapabilityFeatures": "openmem.models",
    "CapabilityLimits": "openmem.models",
    "Citation": "openmem.models",
    "IngestEvent": "openmem.models",
    "ContextBlock": "openmem.models",
    "MemoryInput": "openmem.models",
    "MemoryKey": "openmem.models",
    "MemoryPage": "openmem.models",
    "MemoryPatch": "openmem.models",
    "MemoryRecord": "openmem.models",
    "MemorySource": "openmem.models",
    "SearchHit": "openmem.models",
    "Caller": "openmem.provider",
    "Provider": "openmem.provider",
    "ProviderOptions": "openmem.provider",
    "Memory": "openmem.sync",
}

__all__ = [
    "OMP_VERSION",
    "UNSET",
    "AsyncMemory",
    "AuditEntry",
    "Caller",
    "Capabilities",
    "CapabilityFeatures",
    "CapabilityLimits",
    "Citation",
    "ClosedError",
    "ConfigurationError",
    "ConflictError",
    "ContextBlock",
    "EmbeddingModelMismatchError",
    "EventLoopMismatchError",
    "IngestEvent",
    "IngestionTimeoutError",
    "InternalError",
    "InvalidRequestError",
    "Memory",
    "MemoryInput",
    "MemoryKey",
    "MemoryPage",
    "MemoryPatch",
    "MemoryRecord",
    "MemorySource",
    "MethodNotAllowedError",
    "NotFoundError",
    "OMPError",
    "OpenMemUsageError",
    "PayloadTooLargeError",
    "Provider",
    "ProviderError",
    "ProviderNotFoundError",
    "ProviderOptions",
    "ProviderSaturatedError",
    "ProviderUnavailableError",
    "RateLimitedError",
    "ScopeDeniedError",
    "SearchHit",
    "UnauthorizedError",
    "UnsupportedCapabilityError",
    "__version__",
]


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        from openmem.distribution import DISTRIBUTION

        try:
            value: Any = version(DISTRIBUTION)
        except PackageNotFoundError:  # running from a source tree without metadata
            value = "0.0.0"
    elif name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    else:
        raise AttributeError(f"module 'openmem' has no attribute {name!r}")
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
