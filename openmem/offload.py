"""Running synchronous SDKs on bounded, cancellable worker threads (the thread tier).

Many memory SDKs (mem0 OSS, powermem) are synchronous. ``Offloader`` lets an async provider
call them without blocking the event loop and without the failure modes of
``asyncio.to_thread`` (see ``openmem.provider``: never the loop's default executor):

- **Its own threads.** Each provider instance owns a ``ThreadPoolExecutor`` named after it;
  one slow provider cannot starve another, or DNS lookups, or the application.
- **Prompt cancellation.** A cancelled caller gets ``CancelledError`` at once (the loop's
  next turn); a call that has not started never starts, a running one is *abandoned*: its
  thread runs to the end and its result or exception is dropped.
- **Abandoned calls are counted by thread, not by token.** anyio's limiter gives its token
  back the moment a thread is abandoned, so a limiter alone lets cancelled threads pile up.
  Here an abandoned call is counted until its thread really returns; past ``max_abandoned``
  new calls are refused with ``ProviderSaturatedError`` (retryable) instead of queueing.
- **Serialisation.** ``serialize=True`` runs one call at a time *on the thread side*
  (a ``threading.Lock`` taken inside the worker), so an abandoned call still holds the lock
  until it returns: a non-thread-safe store (embedded qdrant, faiss) never sees two calls.
- **Per-key serialisation.** ``run_keyed(key, ...)`` serialises calls that share a key (an
  idempotency key): a retry after a cancel waits for the abandoned write and then sees it.
- **Bounded shutdown.** ``aclose(grace)`` waits for running threads up to a deadline, then
  detaches them and says so in the log.
- **A responsive loop.** ``gil_switch_interval`` lowers the interpreter's GIL switch interval
  (process-wide, never raised; see ``lower_gil_switch_interval``): a worker thread running
  Python otherwise keeps the event loop waiting up to CPython's default 5 ms.

Example::

    offload = Offloader("mem0", max_workers=4, max_abandoned=16, serialize=True)
    record = await offload.run(memory.get, memory_id)
    offload.stats().abandoned   # calls cancelled by their caller whose thread still runs
    await offload.aclose(grace=5.0)

Threads left running at interpreter exit are joined by ``concurrent.futures``; a backend
call that never returns therefore delays exit. Give backends their own timeouts.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import logging
import sys
import threading
import time
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

import anyio

from openmem.errors import ClosedError, ProviderSaturatedError

__all__ = ["OffloadStats", "Offloader", "lower_gil_switch_interval"]

logger = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class OffloadStats:
    """A snapshot of an ``Offloader``'s counters (for tests, metrics and health checks)."""

    name: str
    max_workers: int
    max_abandoned: int
    running: int
    """Calls on a worker thread now, live and abandoned (including any waiting for a lock)."""
    queued: int
    """Calls submitted to the executor and waiting for a free thread."""
    abandoned: int
    """Calls whose caller was cancelled while the thread runs on."""
    completed_total: int
    abandoned_total: int
    saturated_total: int
    closed: bool


class _KeyLocks:
    """One ``threading.Lock`` per key, created on demand and dropped when unused."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[Hashable, tuple[threading.Lock, int]] = {}

    @contextmanager
    def hold(self, key: Hashable) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.get(key, (threading.Lock(), 0))
            self._locks[key] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                lock, users = self._locks[key]
                if users <= 1:
                    del self._locks[key]
                else:
                    self._locks[key] = (lock, users - 1)


def lower_gil_switch_interval(seconds: float) -> None:
    """Lower the interpreter's GIL switch interval to ``seconds`` (never raise it).

    Python code on a worker thread (an embedded vector store filtering in Python, say) holds
    the GIL, and the interpreter makes it hand the GIL to the event-loop thread only every
    switch interval: 5 ms by default, which is then the loop's lag. 1 ms keeps the loop
    responsive (``benchmarks/thread_tier.py``: loop lag p99 6.7 -> 2.8 ms, same throughput).
    The setting is process-wide, so it is only ever lowered, and logged once.
    """
    if not 0 < seconds < sys.getswitchinterval():
        return
    sys.setswitchinterval(seconds)
    logger.info("GIL switch interval lowered to %.1f ms for responsive offloading", seconds * 1e3)


class Offloader:
    """Bounded, cancellable worker threads for one provider instance.

    ``max_workers`` calls run at once (1 when ``serialize``); callers beyond that wait,
    cancellably, for a slot. A call whose caller is cancelled while its thread runs is
    abandoned: it no longer holds a slot, but it is counted until the thread returns, and
    while ``max_abandoned`` such threads run, new calls raise ``ProviderSaturatedError``.
    The executor has ``max_workers + max_abandoned`` threads, so abandoned threads never
    take the place of live calls and the process never runs more threads than that.
    """

    def __init__(
        self,
        name: str,
        *,
        max_workers: int = 4,
        max_abandoned: int = 32,
        serialize: bool = False,
        gil_switch_interval: float | None = None,
    ) -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        if max_abandoned < 1:
            raise ValueError("max_abandoned must be at least 1")
        self.name = name
        self.serialize = serialize
        self.max_workers = 1 if serialize else max_workers
        self.max_abandoned = max_abandoned
        self._slots = anyio.CapacityLimiter(self.max_workers)
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=self.max_workers + max_abandoned,
            thread_name_prefix=f"openmem-{name}",
        )
        self._serial_lock = threading.Lock()
        self._key_locks = _KeyLocks()
        self._counts = threading.Lock()  # guards the counters below; done-callbacks run off-loop
        self._inflight: set[concurrent.futures.Future[Any]] = set()
        self._running = 0
        self._abandoned = 0
        self._completed_total = 0
        self._abandoned_total = 0
        self._saturated_total = 0
        self._closed = False
        if gil_switch_interval is not None:
            lower_gil_switch_interval(gil_switch_interval)

    # -- counters ----------------------------------------------------------------------

    def stats(self) -> OffloadStats:
        """The current counters."""
        with self._counts:
            return OffloadStats(
                name=self.name,
                max_workers=self.max_workers,
                max_abandoned=self.max_abandoned,
                running=self._running,
                queued=len(self._inflight) - self._running,
                abandoned=self._abandoned,
                completed_total=self._completed_total,
                abandoned_total=self._abandoned_total,
                saturated_total=self._saturated_total,
                closed=self._closed,
            )

    @property
    def abandoned(self) -> int:
        """Calls cancelled by their caller whose worker thread is still running."""
        with self._counts:
            return self._abandoned

    @property
    def closed(self) -> bool:
        """Whether ``aclose()`` was called."""
        return self._closed

    # -- calls -------------------------------------------------------------------------

    async def run(
        self,
        func: Callable[P, T],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Run ``func(*args, **kwargs)`` on a worker thread and return its result.

        Raises ``ClosedError`` after ``aclose()``, ``ProviderSaturatedError`` while
        ``max_abandoned`` abandoned threads still run, and ``CancelledError`` at once when
        the caller is cancelled (the thread's outcome is then dropped).
        """
        return await self._submit(None, func, *args, **kwargs)

    async def run_keyed(
        self,
        key: Hashable | None,
        func: Callable[P, T],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Like ``run``, but calls with the same ``key`` never overlap, abandoned ones included.

        Use it for a check-then-write under an idempotency key: a retry issued after a cancel
        runs only once the abandoned first attempt has finished, so it sees that write.
        """
        return await self._submit(key, func, *args, **kwargs)

    async def _submit(
        self, key: Hashable | None, func: Callable[..., T], *args: Any, **kwargs: Any
    ) -> T:
        self._admit()
        async with self._slots:
            self._admit()
            context = contextvars.copy_context()
            try:
                future = self._executor.submit(context.run, self._call, key, func, args, kwargs)
            except RuntimeError:  # aclose() shut the executor down since _admit() looked
                raise ClosedError(f"the {self.name} provider is closed") from None
            with self._counts:
                self._inflight.add(future)
            future.add_done_callback(self._finished)
            try:
                return await asyncio.wrap_future(future)
            except asyncio.CancelledError:
                # wrap_future already tried future.cancel(): it succeeds only before the
                # thread picked the call up. Otherwise the thread runs on, abandoned.
                self._abandon(future)
                raise

    def _admit(self) -> None:
        if self._closed:
            raise ClosedError(f"the {self.name} provider is closed")
        with self._counts:
            if self._abandoned >= self.max_abandoned:
                self._saturated_total += 1
                abandoned = self._abandoned
            else:
                return
        raise ProviderSaturatedError(
            f"{abandoned} cancelled {self.name} calls are still running on worker threads;"
            " retry later",
            provider=self.name,
            retry_after=1.0,
        )

    def _call(
        self,
        key: Hashable | None,
        func: Callable[..., T],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> T:
        with self._counts:
            self._running += 1
        try:
            if key is not None:
                with self._key_locks.hold(key):
                    return self._serialized(func, args, kwargs)
            return self._serialized(func, args, kwargs)
        finally:
            with self._counts:
                self._running -= 1

    def _serialized(
        self, func: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> T:
        if self.serialize:
            with self._serial_lock:
                return func(*args, **kwargs)
        return func(*args, **kwargs)

    def _abandon(self, future: concurrent.futures.Future[Any]) -> None:
        with self._counts:
            if future.done():
                return
            # Marked under the lock, so _finished (also under it) sees the mark or has run.
            future.openmem_abandoned = True  # type: ignore[attr-defined]
            self._abandoned += 1
            self._abandoned_total += 1

    def _finished(self, future: concurrent.futures.Future[Any]) -> None:
        with self._counts:
            self._inflight.discard(future)
            self._completed_total += 1
            if getattr(future, "openmem_abandoned", False):
                self._abandoned -= 1
        if not future.cancelled() and getattr(future, "openmem_abandoned", False):
            exc = future.exception()
            if exc is not None:
                logger.debug("abandoned %s call failed: %r", self.name, exc)

    # -- shutdown ----------------------------------------------------------------------

    async def aclose(self, grace: float = 5.0) -> bool:
        """Refuse new calls, wait up to ``grace`` seconds for running threads, then detach.

        Returns True when every thread finished in time. Idempotent.
        """
        self._closed = True
        with self._counts:
            pending = [f for f in self._inflight if not f.done()]
        for future in pending:
            future.cancel()  # only those not yet started; the running ones must finish
        clean = True
        deadline = time.monotonic() + grace
        while True:
            with self._counts:
                left = [f for f in self._inflight if not f.done()]
            if not left:
                break
            if time.monotonic() >= deadline:
                clean = False
                logger.warning(
                    "%d %s worker threads still running after %.1fs; detaching them",
                    len(left),
                    self.name,
                    grace,
                )
                break
            await asyncio.sleep(0.01)
        self._executor.shutdown(wait=False, cancel_futures=True)
        return clean
