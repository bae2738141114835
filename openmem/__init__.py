"""openmem: one async memory layer for AI applications, speaking OMP 0.1.

from openmem import AsyncMemory

async with AsyncMemory(provider="inmemory") as mem:
    await mem.add("prefers dark mode", user_id="u1", scope="ui")
    hits = await mem.search("dark mode", "u1")
"""

from importlib.metadata import PackageNotFoundError, version

from openmem.distribution import DISTRIBUTION
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
from openmem.memory import UNSET, AsyncMemory
from openmem.models import (
    OMP_VERSION,
    AuditEntry,
    Capabilities,
    CapabilityFeatures,
    CapabilityLimits,
    Citation,
    ContextBlock,
    MemoryInput,
    MemoryPage,
    MemoryPatch,
    MemoryRecord,
    MemorySource,
    SearchHit,
)
from openmem.provider import Caller, Provider, ProviderOptions
from openmem.sync import Memory

try:
    __version__ = version(DISTRIBUTION)
except PackageNotFoundError:  # running from a source tree without metadata
    __version__ = "0.0.0"

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
    "IngestionTimeoutError",
    "InternalError",
    "InvalidRequestError",
    "Memory",
    "MemoryInput",
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
