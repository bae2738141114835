"""Cancel an operation at each of its await points in turn, without knowing its internals.

asyncio runs a task by calling its coroutine's ``send`` once per step; between two steps
the coroutine is suspended at an await point. ``CountingCoroutine`` wraps any coroutine and
counts those steps, and can cancel its own task right after step *k* returns, i.e. while
the operation is suspended at its *k*-th await point — exactly where a production
``task.cancel()`` would land. That is SQLAlchemy's cancellation sweep
(``testing/cancellation.py``) without greenlets or driver patches, so it works for any
provider: asyncpg, httpx, or an SDK on worker threads.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Generator
from typing import Any, TypeVar

__all__ = ["CountingCoroutine", "count_await_points", "run_cancelled_at"]

T = TypeVar("T")


class CountingCoroutine(Coroutine[Any, Any, T]):
    """A coroutine proxy that counts task steps and may cancel its task after step k."""

    def __init__(self, inner: Coroutine[Any, Any, T], *, cancel_after: int | None = None) -> None:
        self._inner = inner
        self.steps = 0
        self.cancel_after = cancel_after
        self.task: asyncio.Task[T] | None = None
        self.cancel_issued = False
        """True once the task was cancelled at the chosen await point."""

    def _after_step(self) -> None:
        if self.cancel_after is not None and self.steps == self.cancel_after and self.task:
            self.cancel_issued = True
            # Inside the task's own step: asyncio cancels the future it is about to wait on,
            # so the CancelledError surfaces at this very await point.
            self.task.cancel()

    def send(self, value: Any) -> Any:
        """One task step; counts it."""
        self.steps += 1
        result = self._inner.send(value)
        self._after_step()
        return result

    def throw(self, *args: Any) -> Any:
        """One task step that raises into the coroutine; counts it."""
        self.steps += 1
        result = self._inner.throw(*args)
        self._after_step()
        return result

    def close(self) -> None:
        """Close the wrapped coroutine."""
        self._inner.close()

    def __await__(self) -> Generator[Any, None, T]:
        return self

    def __next__(self) -> Any:
        return self.send(None)

    def __iter__(self) -> CountingCoroutine[T]:
        return self


async def count_await_points(operation: Callable[[], Coroutine[Any, Any, T]]) -> tuple[T, int]:
    """Run ``operation`` uncancelled; its result and how many times it suspended."""
    counting: CountingCoroutine[T] = CountingCoroutine(operation())
    task: asyncio.Task[T] = asyncio.get_running_loop().create_task(counting)
    result = await task
    return result, counting.steps - 1


async def run_cancelled_at(
    operation: Callable[[], Coroutine[Any, Any, T]], point: int
) -> tuple[str, T | None]:
    """Run ``operation`` and cancel it at await point ``point`` (1-based).

    Returns ``("cancelled", None)`` when it raised ``CancelledError``, ``("finished",
    result)`` when it completed before reaching that point, and ``("swallowed", result)``
    when it was cancelled at the point but returned normally anyway.
    """
    counting: CountingCoroutine[T] = CountingCoroutine(operation(), cancel_after=point)
    task: asyncio.Task[T] = asyncio.get_running_loop().create_task(counting)
    counting.task = task
    try:
        result = await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise  # we ourselves are being cancelled, not just the operation
        return "cancelled", None
    return ("swallowed" if counting.cancel_issued else "finished"), result
