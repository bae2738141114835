"""One provider, opened once, bound to one event loop: the lifecycle under ``AsyncMemory``.

The binding happens at the first ``enter()`` (``__aenter__``, ``initialize()`` or a verb);
a call from any other loop raises ``EventLoopMismatchError`` before the provider sees it.
The provider is opened once under a lock, its capabilities read once and cached. Verbs
start through ``admit()``: a few per loop iteration (``openmem.admission``).
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from openmem.admission import LoopAdmission
from openmem.errors import ClosedError, EventLoopMismatchError
from openmem.heap import tune_garbage_collector
from openmem.models import Capabilities
from openmem.provider import Provider

__all__ = ["LOOP_MISMATCH_MESSAGE", "ProviderBinding"]

LOOP_MISMATCH_MESSAGE = (
    "AsyncMemory is bound to a different event loop: create the AsyncMemory inside the "
    "coroutine that uses it (one per asyncio.run() or per thread with its own loop), or use "
    "Memory, the synchronous API, which is safe from any thread"
)


class ProviderBinding:
    """The open/closed state of one provider and the event loop it belongs to."""

    def __init__(self, provider: Provider[Any], *, freeze_gc_at_open: bool = False) -> None:
        self.provider = provider
        self._freeze_gc_at_open = freeze_gc_at_open
        self._loop: asyncio.AbstractEventLoop | None = None
        self._open_lock: asyncio.Lock | None = None
        self._admission = LoopAdmission()
        self._capabilities: Capabilities | None = None
        self._opened = False
        self._closed = False

    @property
    def closed(self) -> bool:
        """True once ``close()`` (or ``close_unopened()``) has been called."""
        return self._closed

    @property
    def state(self) -> Literal["new", "open", "closed"]:
        """``new`` before the provider is opened, ``open`` while it is, ``closed`` after."""
        return "closed" if self._closed else "open" if self._opened else "new"

    def enter(self) -> None:
        """Refuse a closed binding or a foreign loop; bind to the running loop the first time."""
        if self._closed:
            raise ClosedError("AsyncMemory is closed")
        self._check_loop()

    async def admit(self) -> None:
        """``enter()``, then this call's turn: a few verb calls start per loop iteration, so a
        burst of them spreads over iterations (``openmem.admission``)."""
        self.enter()
        await self._admission.enter()

    async def ready(self) -> Capabilities:
        """``enter()``, then open the provider (once) and return its cached capabilities."""
        self.enter()
        if self._capabilities is not None and self._opened:
            return self._capabilities
        assert self._open_lock is not None
        async with self._open_lock:
            if self._closed:
                raise ClosedError("AsyncMemory is closed")
            if not self._opened:
                await self.provider.open()
                self._opened = True
                if self._freeze_gc_at_open:
                    tune_garbage_collector()
            if self._capabilities is None:
                self._capabilities = await self.provider.capabilities()
        return self._capabilities

    async def close(self) -> None:
        """Close the provider if it was opened; idempotent."""
        if self._closed:
            return
        if self._loop is not None and self._opened:
            self._check_loop()
        self._closed = True
        if self._opened:
            self._opened = False
            await self.provider.close()

    def close_unopened(self) -> None:
        """Mark a binding that never opened its provider as closed; nothing to release."""
        if not self._opened:
            self._closed = True

    def _check_loop(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
            self._open_lock = asyncio.Lock()
        elif self._loop is not loop:
            raise EventLoopMismatchError(LOOP_MISMATCH_MESSAGE)
