"""``OffloadedProvider``: a provider whose backend is blocking, on its own bounded threads.

The lifecycle every thread-tier provider shares: an ``Offloader`` sized by the options, the
backend built and opened on it (never on the loop), a failed open mapped to
``provider_unavailable``, a close that waits ``close_grace`` for running threads, and ``_call``,
the one way work reaches the backend (SDK exceptions mapped by ``map_error``).
"""

from __future__ import annotations

import asyncio
from abc import abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import anyio.to_thread

from openmem.errors import OMPError, ProviderError, ProviderUnavailableError
from openmem.offload import Offloader, OffloadStats
from openmem.opening import opening, progress_mode
from openmem.provider import Provider
from openmem.translation.options import TranslationOptions

__all__ = ["OffloadedProvider", "SdkBackend"]


class SdkBackend(Protocol):
    """The least a backend offers: opened and closed on a worker thread, both blocking."""

    def open(self) -> None:
        """Build clients and stores; called once, on a worker thread."""

    def close(self) -> None:
        """Release clients, pools and file locks."""


OptionsT = TypeVar("OptionsT", bound=TranslationOptions)
BackendT = TypeVar("BackendT", bound=SdkBackend)
T = TypeVar("T")


class OffloadedProvider(Provider[OptionsT], Generic[OptionsT, BackendT]):
    """The offloader lifecycle of a provider over a blocking backend (see the module doc)."""

    def __init__(self, options: OptionsT | None = None, /, **kwargs: Any) -> None:
        super().__init__(options, **kwargs)
        self._embedder = self.options.build_embedder()
        self._backend: BackendT | None = None
        self._offload: Offloader | None = None
        self._open_lock = asyncio.Lock()

    third_party: ClassVar[tuple[str, ...]] = ()
    """Top-level packages of the SDK whose log records and warnings are held back while it
    opens (see ``openmem.opening``)."""

    # -- hooks: how to build the backend ---------------------------------------------

    @abstractmethod
    async def build_backend(self, offload: Offloader) -> BackendT:
        """The backend, built but not opened (import heavy SDKs with ``offload.run``)."""

    def serialize_calls(self) -> bool:
        """Whether the SDK must see one call at a time (stores that are not thread-safe)."""
        return True

    async def warm_up(self, offload: Offloader, backend: BackendT) -> None:
        """Pay for lazy imports and first-call setup at open, not under load."""

    def map_error(self, exc: Exception) -> OMPError:
        """The openmem error for an exception the SDK (or its drivers) raised."""
        return ProviderError(f"{self.name} failed: {type(exc).__name__}: {exc}", provider=self.name)

    # -- lifecycle ---------------------------------------------------------------------

    async def open(self) -> None:
        async with self._open_lock:
            if self._backend is not None:
                return
            progress_mode()  # a bad OPENMEM_PROGRESS is a ConfigurationError, not "unavailable"
            options = self.options
            offload = Offloader(
                f"{self.name}-{options.collection}",
                max_workers=options.max_workers,
                max_abandoned=options.max_abandoned,
                gil_switch_interval=options.gil_switch_interval,
                serialize=self.serialize_calls(),
            )
            try:
                with opening(self.name, third_party=self.third_party) as status:
                    status.step(f"importing {self.name}")
                    backend = await self.build_backend(offload)
                    status.step("opening its store")
                    await offload.run(backend.open)  # SDK constructors do I/O: not on the loop
                    status.step("warming up")
                    await self.warm_up(offload, backend)
            except BaseException as exc:
                await offload.aclose(options.close_grace)
                if isinstance(exc, Exception) and not isinstance(exc, OMPError):
                    # Whatever the cause (a bad key, an unreachable store, a locked directory),
                    # the backend cannot be brought up: retryable once the cause is fixed.
                    raise ProviderUnavailableError(
                        f"{self.name} could not be opened: {type(exc).__name__}: {exc}",
                        provider=self.name,
                    ) from exc
                raise
            self._offload = offload
            self._backend = backend

    async def close(self) -> None:
        offload, self._offload = self._offload, None
        backend, self._backend = self._backend, None
        if offload is not None:
            await offload.aclose(self.options.close_grace)
        if backend is not None:
            # The offloader is closed; anyio's own threads, never the loop's default executor.
            await anyio.to_thread.run_sync(backend.close)
        await self._embedder.aclose()

    def offload_stats(self) -> OffloadStats:
        """Worker thread counters: running, abandoned (cancelled but still running), totals."""
        if self._offload is None:
            raise self._not_open()
        return self._offload.stats()

    @property
    def backend(self) -> BackendT:
        """The blocking backend around the SDK's client."""
        if self._backend is None:
            raise self._not_open()
        return self._backend

    async def _call(
        self, work: Callable[[BackendT], T], *, key: tuple[str, str] | None = None
    ) -> T:
        offload, backend = self._offload, self._backend
        if offload is None or backend is None:
            raise self._not_open()
        try:
            return await offload.run_keyed(key, work, backend)
        except (OMPError, asyncio.CancelledError):
            raise
        except Exception as exc:
            raise self.map_error(exc) from exc

    def _not_open(self) -> ProviderUnavailableError:
        return ProviderUnavailableError(f"the {self.name} provider is not open", provider=self.name)
