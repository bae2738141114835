"""Running synchronous SDKs on bounded, cancellable worker threads (the thread tier).

Many memory SDKs (mem0 OSS, powermem) are synchronous. ``Offloader`` lets an async provider
call them without blocking the event loop and without the failure modes of
``asyncio.to_thread`` (see ``openmem.provider``: never the loop's default executor):

- **Its own threads.** Each provider instance owns a small pool of threads named after it;
  one slow provider cannot starve another, or DNS lookups, or the application. Threads start
  on demand, at most ``max_workers`` for live calls, and idle threads are counted exactly, so
  a burst reuses the threads that just finished instead of starting new ones.
- **Prompt cancellation.** A cancelled caller gets ``CancelledError`` at once (the loop's
  next turn); a call that has not started never starts, a running one is *abandoned*: its
  thread runs to the end and its result or exception is dropped.
- **Abandoned calls are counted by thread.** An abandoned call no longer holds a live slot
  (a new thread may take its place), but it is counted until its thread really returns; past
  ``max_abandoned`` new calls are refused with ``ProviderSaturatedError`` (retryable) instead
  of queueing, so the process never runs more than ``max_workers + max_abandoned`` threads.
- **Serialisation.** ``serialize=True`` runs one call at a time *on the thread side*
  (a ``threading.Lock`` taken inside the worker), so an abandoned call still holds the lock
  until it returns: a non-thread-safe store (embedded qdrant, faiss) never sees two calls.
- **Per-key serialisation.** ``run_keyed(key, ...)`` serialises calls that share a key (an
  idempotency key): a retry after a cancel waits for the abandoned write and then sees it.
- **Bounded shutdown.** ``aclose(grace)`` waits for running threads up to a deadline, then
  detaches them and says so in the log. At interpreter exit, calls still running get up to
  ``EXIT_GRACE`` seconds in all; idle threads never delay exit.
- **A responsive loop.** ``gil_switch_interval`` lowers the interpreter's GIL switch interval
  (process-wide, never raised; see ``lower_gil_switch_interval``): a worker thread running
  Python otherwise keeps the event loop waiting up to CPython's default 5 ms.

The threads are ``openmem.worker_pool``'s: a call costs the loop one lock, a deque append
and one ``call_soon_threadsafe`` (no ``concurrent.futures.Future`` chained to an asyncio
one, no separate limiter).

Example::

    offload = Offloader("mem0", max_workers=4, max_abandoned=16, serialize=True)
    record = await offload.run(memory.get, memory_id)
    offload.stats().abandoned   # calls cancelled by their caller whose thread still runs
    await offload.aclose(grace=5.0)
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import sys
import threading
import time
import weakref
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from openmem.errors import ClosedError, ProviderSaturatedError
from openmem.worker_pool import PooledCall, WorkerPool, deliver_now

__all__ = ["EXIT_GRACE", "OffloadStats", "Offloader", "lower_gil_switch_interval"]

logger = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

EXIT_GRACE = 5.0
"""Seconds the interpreter's exit waits, in all, for offloaded calls still running."""


@dataclass(frozen=True, slots=True)
class OffloadStats:
    """A snapshot of an ``Offloader``'s counters (for tests, metrics and health checks)."""

    name: str
    max_workers: int
    max_abandoned: int
    running: int
    """Calls on a worker thread now, live and abandoned (including any waiting for a lock)."""
    queued: int
    """Calls waiting for a free thread."""
    abandoned: int
    """Calls whose caller was cancelled while the thread runs on."""
    completed_total: int
    abandoned_total: int
    saturated_total: int
    closed: bool
    threads: int = 0
    """Worker threads alive now (busy or idle)."""


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

    ``max_workers`` calls run at once (1 when ``serialize``); callers beyond that wait, in
    order and cancellably, for a thread. A call whose caller is cancelled while its thread
    runs is abandoned: it no longer holds a slot, but it is counted until the thread returns,
    and while ``max_abandoned`` such threads run, new calls raise ``ProviderSaturatedError``.
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
        # Serialised, a new thread could only wait for the abandoned call's lock: the next
        # call waits in the queue instead, where a cancel withdraws it.
        self._pool = WorkerPool(name, self.max_workers, replace_abandoned=not serialize)
        # An offloader dropped without aclose() still lets its idle threads go.
        weakref.finalize(self, self._pool.close)
        self._serial_lock = threading.Lock()
        self._key_locks = _KeyLocks()
        self._saturated_total = 0
        self._closed = False
        if gil_switch_interval is not None:
            lower_gil_switch_interval(gil_switch_interval)
        _LIVE.add(self)

    # -- counters ----------------------------------------------------------------------

    def stats(self) -> OffloadStats:
        """The current counters."""
        pool = self._pool
        with pool.lock:
            return OffloadStats(
                name=self.name,
                max_workers=self.max_workers,
                max_abandoned=self.max_abandoned,
                running=pool.running,
                queued=pool.queued,
                abandoned=pool.abandoned,
                completed_total=pool.completed_total,
                abandoned_total=pool.abandoned_total,
                saturated_total=self._saturated_total,
                closed=self._closed,
                threads=pool.threads,
            )

    @property
    def abandoned(self) -> int:
        """Calls cancelled by their caller whose worker thread is still running."""
        return self._pool.abandoned

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
        return await self._submit(None, func, args, kwargs)

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
        return await self._submit(key, func, args, kwargs)

    async def _submit(
        self,
        key: Hashable | None,
        func: Callable[..., T],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> T:
        self._admit()
        call = PooledCall(self._guarded, (key, func, args, kwargs), {}, asyncio.get_running_loop())
        try:
            self._pool.submit(call)
        except RuntimeError:  # aclose() closed the pool since _admit() looked
            raise ClosedError(f"the {self.name} provider is closed") from None
        try:
            result: T = await call.future
        except asyncio.CancelledError:
            self._pool.abandon(call)
            raise
        return result

    def _admit(self) -> None:
        if self._closed:
            raise ClosedError(f"the {self.name} provider is closed")
        abandoned = self._pool.abandoned
        if abandoned < self.max_abandoned:
            return
        self._saturated_total += 1
        raise ProviderSaturatedError(
            f"{abandoned} cancelled {self.name} calls are still running on worker threads;"
            " retry later",
            provider=self.name,
            retry_after=1.0,
        )

    def _guarded(
        self,
        key: Hashable | None,
        func: Callable[..., T],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> T:
        # On the worker thread: the locks are held there, so an abandoned call keeps them.
        if key is not None:
            with self._key_locks.hold(key):
                return self._serialized(func, args, kwargs)
        return self._serialized(func, args, kwargs)

    def _serialized(
        self, func: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> T:
        if self.serialize:
            with self._serial_lock:
                return func(*args, **kwargs)
        return func(*args, **kwargs)

    # -- shutdown ----------------------------------------------------------------------

    async def aclose(self, grace: float = 5.0) -> bool:
        """Refuse new calls, wait up to ``grace`` seconds for running threads, then detach.

        Callers still waiting for a thread get ``ClosedError``. Returns True when every
        thread finished in time. Idempotent.
        """
        self._closed = True
        closed = ClosedError(f"the {self.name} provider is closed")
        for call in self._pool.close():
            deliver_now(call, closed)
        deadline = time.monotonic() + grace
        while self._pool.running:
            if time.monotonic() >= deadline:
                logger.warning(
                    "%d %s worker threads still running after %.1fs; detaching them",
                    self._pool.running,
                    self.name,
                    grace,
                )
                return False
            await asyncio.sleep(0.01)
        return True


_LIVE: weakref.WeakSet[Offloader] = weakref.WeakSet()


@atexit.register
def _finish_running_calls() -> None:
    # Worker threads are daemons, so an idle or hung one never blocks exit; a call still
    # running (an abandoned write, say) gets EXIT_GRACE seconds in all to finish its work.
    deadline = time.monotonic() + EXIT_GRACE
    for offloader in list(_LIVE):
        offloader._pool.wait_idle(deadline)
