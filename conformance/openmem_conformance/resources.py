"""Process resources a provider can leak: threads, file descriptors, asyncio tasks.

Sockets and pipes are file descriptors, so a leaked connection of any driver shows up in
``/proc/self/fd`` without knowing the driver. Threads of the loop's default executor and of
anyio's shared worker pool are pooled by design (they idle on after their work), so they are
counted apart from threads a provider starts itself.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from dataclasses import dataclass

__all__ = ["ResourceSnapshot", "wait_for_release"]

_POOLED_THREAD_PREFIXES = ("asyncio_", "AnyIO worker thread", "ThreadPoolExecutor-")


def _open_fds() -> int | None:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:  # not Linux: descriptor leaks are not observable this way
        return None


@dataclass(frozen=True)
class ResourceSnapshot:
    """Counts of what is alive at one moment."""

    threads: int
    own_threads: int
    fds: int | None
    tasks: int

    @classmethod
    def take(cls) -> ResourceSnapshot:
        """Count now (inside a running loop, the current task included)."""
        alive = threading.enumerate()
        own = [t for t in alive if not t.name.startswith(_POOLED_THREAD_PREFIXES)]
        try:
            tasks = len(asyncio.all_tasks())
        except RuntimeError:
            tasks = 0
        return cls(threads=len(alive), own_threads=len(own), fds=_open_fds(), tasks=tasks)

    def leaks_since(self, baseline: ResourceSnapshot, *, fd_slack: int = 0) -> list[str]:
        """What grew past ``baseline`` (empty when nothing leaked)."""
        leaks: list[str] = []
        if self.own_threads > baseline.own_threads:
            leaks.append(
                f"{self.own_threads - baseline.own_threads} thread(s) still running "
                f"({', '.join(sorted(_own_thread_names()))})"
            )
        if self.threads > baseline.threads + 64:
            leaks.append(f"thread count grew from {baseline.threads} to {self.threads}")
        if self.fds is not None and baseline.fds is not None and self.fds > baseline.fds + fd_slack:
            leaks.append(
                f"{self.fds - baseline.fds} file descriptor(s) (sockets, pipes) still open"
            )
        if self.tasks > baseline.tasks:
            leaks.append(f"{self.tasks - baseline.tasks} asyncio task(s) still pending")
        return leaks


def _own_thread_names() -> list[str]:
    return [t.name for t in threading.enumerate() if not t.name.startswith(_POOLED_THREAD_PREFIXES)]


async def wait_for_release(
    baseline: ResourceSnapshot, *, grace: float = 5.0, fd_slack: int = 0
) -> list[str]:
    """Poll until nothing leaks past ``baseline`` or ``grace`` seconds pass; the leaks left."""
    deadline = time.monotonic() + grace
    while True:
        leaks = ResourceSnapshot.take().leaks_since(baseline, fd_slack=fd_slack)
        if not leaks or time.monotonic() >= deadline:
            return leaks
        await asyncio.sleep(0.05)
