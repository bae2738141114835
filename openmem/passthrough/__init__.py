"""The passthrough provider: any OMP 0.1 server (``openmem serve`` or another) as a backend.

It is the server's error table read from the other side: requests are built from the same
models, answers are validated into them, and an error envelope becomes the same typed
``OMPError`` it was on the server (``error_from_envelope``), so code that catches
``NotFoundError`` in process catches it over the wire too.

- One pooled ``httpx.AsyncClient`` per provider, opened by ``open()`` and closed by
  ``close()``; ``transport=`` swaps the network for tests (``httpx.MockTransport``,
  ``httpx.ASGITransport``).
- Capabilities are read from ``GET /capabilities`` at ``open()``; ``AsyncMemory`` then refuses
  undeclared verbs before any request. Wire extensions of ``openmem serve`` (batch add, body
  search with filters, forget user, ``Idempotency-Key``) are used only when the server
  declares them under ``x-openmem``; otherwise the matching features are reported false.
- Retries with full jitter, for idempotent calls only (reads, and adds that carry an
  idempotency key), on retryable codes and network errors; ``Retry-After`` is honoured.
- Cancellation is native: cancelling the awaiting task abandons the HTTP exchange at once
  and the connection is discarded, not reused.

>>> async with AsyncMemory(base_url="http://127.0.0.1:8080", api_key="omk_...") as mem:
...     await mem.add("prefers dark mode", user_id="u1")
"""

from openmem.passthrough.options import PassthroughOptions
from openmem.passthrough.provider import PassthroughProvider

__all__ = ["PassthroughOptions", "PassthroughProvider"]
