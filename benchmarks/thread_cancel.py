"""The thread tier's cancellation latency: how soon a cancelled caller is released.

A call offloaded to a worker thread cannot be interrupted; openmem abandons the thread and
releases the caller at once. Two measurements, each over calls blocked inside their thread:

- ``offloader``: ``openmem.offload.Offloader.run`` of a function waiting on an event;
- ``mem0``: ``openmem-mem0`` adds and searches (embedded qdrant, hashing embedder) blocked in
  mem0's embedding call.

For each: the time from ``task.cancel()`` to the awaiting caller seeing ``CancelledError``
(p50, p99). Beside them, the OS wake-up lag p99 of a separate process over the same period
(``os_wakeup_lag``): what the machine's scheduler alone adds. Targets: p99 <= 3 ms each, and
every cancelled call abandoned (the caller never waits for its thread).

    uv run python benchmarks/thread_cancel.py [--quick]
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from openmem_mem0 import Mem0Provider
from openmem_postgres.bench import os_wakeup_lag, parse_args, percentile, write_results

from openmem.models import MemoryInput, SearchQuery
from openmem.offload import Offloader
from openmem.provider import Caller

TARGET_P99_MS = 3.0
WAIT = 20.0
ALICE = Caller("bench", "alice")


async def until(predicate: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.001)


async def cancel_latencies(
    rounds: int,
    start: Callable[[int], Awaitable[object]],
    entered: threading.Event,
    gate: threading.Event,
    abandoned: Callable[[], int],
) -> tuple[list[float], int]:
    """Cancel ``rounds`` calls once each is blocked in its thread; the release delays and
    how many of the cancelled calls were abandoned while still running."""
    delays: list[float] = []
    released_early = 0
    for i in range(rounds):
        entered.clear()
        gate.clear()
        task = asyncio.ensure_future(start(i))
        await until(entered.is_set)
        t0 = time.perf_counter()
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            delays.append(time.perf_counter() - t0)
        released_early += abandoned() == 1
        gate.set()
        await until(lambda: abandoned() == 0)
    return delays, released_early


async def offloader_run(rounds: int) -> tuple[list[float], int]:
    entered, gate = threading.Event(), threading.Event()

    def blocked() -> None:
        entered.set()
        gate.wait(WAIT)

    offload = Offloader("bench", max_workers=4, max_abandoned=rounds + 10)
    try:
        return await cancel_latencies(
            rounds, lambda _: offload.run(blocked), entered, gate, lambda: offload.abandoned
        )
    finally:
        await offload.aclose()


class _SlowEmbedding:
    """mem0's embedding model, made to signal entry and wait for ``gate`` on every call."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.entered, self.gate = inner, threading.Event(), threading.Event()

    def embed(self, text: str, memory_action: str | None = None) -> Any:
        self.entered.set()
        self.gate.wait(WAIT)
        return self.inner.embed(text, memory_action)

    def embed_batch(self, texts: list[str], memory_action: str = "add") -> Any:
        return [self.embed(t, memory_action) for t in texts]


async def mem0_run(rounds: int) -> tuple[list[float], int]:
    with tempfile.TemporaryDirectory() as data_dir:
        provider = Mem0Provider(
            embedder="hashing", data_dir=data_dir, embedder_dim=64, max_abandoned=rounds + 10
        )
        await provider.open()
        try:
            await provider.add(ALICE, MemoryInput(content="warm up", user_id="alice"))
            memory = provider.backend.memory  # type: ignore[attr-defined]
            slow = _SlowEmbedding(memory.embedding_model)
            memory.embedding_model = slow

            def start(i: int) -> Awaitable[object]:
                if i % 2:
                    return provider.search(ALICE, SearchQuery(query="anything"))
                return provider.add(ALICE, MemoryInput(content=f"cancelled {i}", user_id="alice"))

            return await cancel_latencies(
                rounds, start, slow.entered, slow.gate, lambda: provider.offload_stats().abandoned
            )
        finally:
            await provider.close()


def summary(delays: list[float], released_early: int, rounds: int) -> dict[str, Any]:
    ms = [d * 1e3 for d in delays]
    return {
        "rounds": rounds,
        "cancelled": len(delays),
        "abandoned_while_running": released_early,
        "p50_ms": round(statistics.median(ms), 3) if ms else None,
        "p99_ms": round(percentile(ms, 99), 3) if ms else None,
    }


async def main() -> None:
    args = parse_args(__doc__.split("\n\n")[0])
    rounds = 100 if args.quick else 500
    async with os_wakeup_lag(30 if args.quick else 90) as wakeup:
        offloader = summary(*await offloader_run(rounds), rounds)
        mem0 = summary(*await mem0_run(rounds), rounds)
    result = {"offloader": offloader, "mem0": mem0, "os_wakeup_lag_p99_ms": wakeup[0]}
    table = [
        (f"{name} cancel p99 ms (p50)", f"{r['p99_ms']} ({r['p50_ms']})", f"<= {TARGET_P99_MS}")
        for name, r in (("offloader", offloader), ("mem0", mem0))
    ]
    table += [
        (f"{name} abandoned while running", f"{r['abandoned_while_running']}/{rounds}", "all")
        for name, r in (("offloader", offloader), ("mem0", mem0))
    ]
    table.append(("OS wake-up lag p99 ms (same period)", f"{wakeup[0]:.3f}", "-"))
    write_results(args.out, "thread_cancel", result, table, args.quick)


if __name__ == "__main__":
    asyncio.run(main())
