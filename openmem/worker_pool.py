"""A small pool of daemon threads that runs calls for asyncio callers, in order.

The machinery under ``openmem.offload.Offloader`` (which adds the policy: admission,
serialisation, per-key locks, counters, shutdown). Compared with a ``ThreadPoolExecutor``
behind ``asyncio.wrap_future``:

- **Exact idle accounting.** A thread counts as idle from the moment it looks for work, and
  a call starts a new thread only when the idle threads cannot take every queued call, so a
  burst reuses the threads that just finished instead of starting new ones.
- **Live threads are bounded, abandoned ones are not counted against them.** A call whose
  caller left while it runs is *abandoned*: its thread runs on, and a new thread may take its
  place (at most ``max_live`` threads run calls whose caller still waits). A surplus thread
  exits once its abandoned call returns.
- **One hop back.** The result reaches the caller's asyncio future through one
  ``call_soon_threadsafe``; an abandoned call's outcome is dropped on the thread.
- **Exit is never blocked by an idle thread** (they are daemons); ``wait_idle`` lets the
  interpreter's exit give running calls a bounded grace.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Final

__all__ = ["PooledCall", "WorkerPool"]

logger = logging.getLogger(__name__)

# The states of a call; moved only under its pool's lock.
_QUEUED: Final = 0
_RUNNING: Final = 1
_ABANDONED: Final = 2
_DONE: Final = 3


class PooledCall:
    """One call: what to run (in the submitter's context) and the future its caller awaits."""

    __slots__ = ("args", "context", "func", "future", "kwargs", "loop", "state")

    def __init__(
        self,
        func: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.func = func
        self.args = args
        self.kwargs = kwargs
        self.loop = loop
        self.future: asyncio.Future[Any] = loop.create_future()
        self.context = contextvars.copy_context()
        self.state = _QUEUED


def _spent(*args: Any, **kwargs: Any) -> None:
    """What a finished call holds instead of its callable (which may keep its caller alive)."""


def _deliver(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    """Runs on the caller's loop: hand the outcome over unless the caller already left."""
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class WorkerPool:
    """Daemon threads named ``openmem-<name>`` running ``PooledCall``s first in, first out."""

    def __init__(self, name: str, max_live: int, *, replace_abandoned: bool = True) -> None:
        self.name = name
        self.max_live = max_live
        self.replace_abandoned = replace_abandoned
        """False: an abandoned call keeps its slot until it returns (a serialised backend,
        whose next call could only wait for it: queued, that call stays cancellable and is
        never abandoned itself)."""
        # One lock guards the queue, the thread counts and the counters; the loop holds it
        # for a few field updates per call, a worker between calls.
        self._lock = threading.Lock()
        self._work_ready = threading.Condition(self._lock)
        self._all_returned = threading.Condition(self._lock)
        self._queue: collections.deque[PooledCall] = collections.deque()
        self._threads = 0
        self._idle = 0
        self.running = 0
        """Calls on a thread now, live and abandoned."""
        self.abandoned = 0
        """Calls whose caller left while their thread runs on."""
        self.completed_total = 0
        self.abandoned_total = 0
        self._closed = False

    @property
    def lock(self) -> threading.Lock:
        """The pool's lock: hold it to read several counters at one instant."""
        return self._lock

    @property
    def queued(self) -> int:
        """Calls waiting for a thread."""
        return len(self._queue)

    @property
    def threads(self) -> int:
        """Threads alive now, busy or idle."""
        return self._threads

    def submit(self, call: PooledCall) -> None:
        """Queue ``call``; ``RuntimeError`` once closed. Call from the caller's loop."""
        with self._lock:
            if self._closed:
                raise RuntimeError(f"the {self.name} worker pool is closed")
            self._queue.append(call)
            start = self._needs_thread()
            if not start:
                self._work_ready.notify()
        if start:
            self._start_thread()

    def abandon(self, call: PooledCall) -> None:
        """The caller left: a queued call never starts, a running one is abandoned."""
        with self._lock:
            if call.state == _QUEUED:
                self._queue.remove(call)
                call.state = _DONE
                return
            if call.state != _RUNNING:
                return  # its outcome was already handed over
            call.state = _ABANDONED
            self.abandoned += 1
            self.abandoned_total += 1
        # Its slot is free again, but callers cancelled in the same batch (a task group
        # unwinding) leave the queue on this loop turn: decide on a new thread after them,
        # or a fresh thread would start calls whose callers are already on their way out.
        call.loop.call_soon(self._replace_abandoned)

    def _replace_abandoned(self) -> None:
        with self._lock:
            start = not self._closed and self._needs_thread()
        if start:
            self._start_thread()

    def close(self) -> list[PooledCall]:
        """Refuse new calls, let idle threads exit; returns the calls that never started."""
        with self._lock:
            self._closed = True
            dropped = list(self._queue)
            self._queue.clear()
            for call in dropped:
                call.state = _DONE
            self._work_ready.notify_all()
        return dropped

    def wait_idle(self, deadline: float) -> bool:
        """Block until no call runs or ``deadline`` (monotonic) passes; True when none runs."""
        with self._lock:
            while self.running and (left := deadline - time.monotonic()) > 0:
                self._all_returned.wait(left)
            return not self.running

    # -- the threads -------------------------------------------------------------------

    def _needs_thread(self) -> bool:
        """Under the lock: reserve a new thread if the idle ones cannot take the queue."""
        if self._idle >= len(self._queue):
            return False
        if self._live_threads() >= self.max_live:
            return False  # a busy live thread takes the call when it finishes
        self._threads += 1
        return True

    def _live_threads(self) -> int:
        """Under the lock: threads counted against ``max_live``."""
        return self._threads - self.abandoned if self.replace_abandoned else self._threads

    def _start_thread(self) -> None:
        threading.Thread(target=self._work, name=f"openmem-{self.name}", daemon=True).start()

    def _work(self) -> None:
        lock = self._lock
        lock.acquire()
        try:
            while True:
                while not self._queue:
                    if self._closed:
                        return
                    self._idle += 1
                    self._work_ready.wait()
                    self._idle -= 1
                call = self._queue.popleft()
                call.state = _RUNNING
                self.running += 1
                lock.release()
                try:
                    self._run(call)
                finally:
                    lock.acquire()
                    self.running -= 1
                    self.completed_total += 1
                    if call.state == _ABANDONED:
                        self.abandoned -= 1
                        call.state = _DONE
                    if not self.running:
                        self._all_returned.notify_all()
                del call  # an idle thread keeps nothing alive (the caller's offloader)
                if self._live_threads() > self.max_live:
                    return  # it replaced an abandoned thread that has now returned
        finally:
            self._threads -= 1
            lock.release()

    def _run(self, call: PooledCall) -> None:
        result: Any = None
        error: BaseException | None = None
        try:
            result = call.context.run(call.func, *call.args, **call.kwargs)
        except BaseException as exc:  # the caller's to handle, whatever it is
            error = exc
        # Only the outcome is left to hand over: drop what the call referenced (the caller's
        # offloader among them) before the caller can resume, so a caller that drops its
        # offloader right after its last result sees it finalised by the next collection,
        # not whenever this thread gets the CPU again.
        call.func, call.args, call.kwargs = _spent, (), {}
        with self._lock:
            abandoned = call.state == _ABANDONED
            if not abandoned:
                call.state = _DONE  # from here on, a cancel of the caller abandons nothing
        if abandoned:
            if error is not None:
                logger.debug("abandoned %s call failed: %r", self.name, error)
            return
        with contextlib.suppress(RuntimeError):  # the caller's loop closed: nobody waits
            call.loop.call_soon_threadsafe(_deliver, call.future, result, error)


def deliver_now(call: PooledCall, error: BaseException) -> None:
    """On the caller's loop: fail a call that will never run (dropped at close)."""
    _deliver(call.future, None, error)
