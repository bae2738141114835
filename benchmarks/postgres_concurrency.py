"""Throughput at concurrency 1, 8 and 32, and event-loop lag under 32 concurrent adds.

2,000 adds, then 2,000 searches, over 20 users, at each concurrency level (fresh namespace
per level). A 1 ms ticker task measures how late the loop wakes it while the c=32 adds run:
its p99 is ``loop_lag_p99_ms``. Targets: 0 errors, loop lag p99 <= 2 ms.

    uv run python benchmarks/postgres_concurrency.py [--quick]
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

from openmem_postgres.bench import (
    bench_provider,
    os_wakeup_lag,
    parse_args,
    percentile,
    sentence,
    write_results,
)

from openmem import AsyncMemory


async def run_at(concurrency: int, ops: list[Callable[[], Awaitable[Any]]]) -> tuple[float, int]:
    """Run ``ops`` with at most ``concurrency`` in flight; (ops per second, errors)."""
    queue = list(reversed(ops))
    errors = 0

    async def worker() -> None:
        nonlocal errors
        while queue:
            op = queue.pop()
            try:
                await op()
            except Exception:
                errors += 1

    start = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(concurrency))), 600)
    return len(ops) / (time.perf_counter() - start), errors


async def ticker(lags: list[float], stop: asyncio.Event) -> None:
    interval = 0.001
    while not stop.is_set():
        start = time.perf_counter()
        await asyncio.sleep(interval)
        lags.append(max(0.0, time.perf_counter() - start - interval) * 1000)


async def main() -> None:
    args = parse_args(__doc__ or "")
    n = 600 if args.quick else 2000
    rng = random.Random(5)
    add_ops_s: dict[str, float] = {}
    search_ops_s: dict[str, float] = {}
    errors = 0
    lags: list[float] = []
    os_lag_p99 = float("nan")
    async with bench_provider(pool_min_size=2) as provider:
        for concurrency in (1, 8, 32):
            mem = AsyncMemory(provider=provider, namespace=f"bench-c{concurrency}")
            await mem.initialize()
            users = [f"user-{i}" for i in range(20)]

            def add(user: str, text: str, mem: AsyncMemory = mem) -> Callable[[], Awaitable[Any]]:
                return lambda: mem.add(text, user_id=user)

            def search(
                user: str, text: str, mem: AsyncMemory = mem
            ) -> Callable[[], Awaitable[Any]]:
                return lambda: mem.search(text, user)

            def text() -> str:
                return sentence(rng)

            adds = [add(users[i % 20], text()) for i in range(n)]
            searches = [search(users[i % 20], text()) for i in range(n)]
            if concurrency == 32:
                stop = asyncio.Event()
                tick = asyncio.create_task(ticker(lags, stop))
                async with os_wakeup_lag(3) as os_lag:
                    rate, failed = await run_at(concurrency, adds)
                    stop.set()
                    await tick
                os_lag_p99 = os_lag[0]
            else:
                rate, failed = await run_at(concurrency, adds)
            add_ops_s[str(concurrency)] = round(rate, 1)
            errors += failed
            rate, failed = await run_at(concurrency, searches)
            search_ops_s[str(concurrency)] = round(rate, 1)
            errors += failed
            await mem.close()

    result = {
        "add_ops_s": add_ops_s,
        "search_ops_s": search_ops_s,
        "loop_lag_p99_ms": round(percentile(lags, 99), 3),
        "loop_lag_p50_ms": round(percentile(lags, 50), 3),
        "loop_lag_max_ms": round(max(lags), 3),
        "os_wakeup_lag_p99_ms": round(os_lag_p99, 3),
        "errors": errors,
        "operations_per_level": n,
    }
    table = [
        *((f"add ops/s at c={c}", str(v), "") for c, v in add_ops_s.items()),
        *((f"search ops/s at c={c}", str(v), "") for c, v in search_ops_s.items()),
        ("loop lag p99 ms (c=32 adds)", str(result["loop_lag_p99_ms"]), "<= 2"),
        ("loop lag max ms", str(result["loop_lag_max_ms"]), ""),
        (
            "OS wake-up lag p99 ms of another process meanwhile",
            str(result["os_wakeup_lag_p99_ms"]),
            "",
        ),
        ("errors", str(errors), "0"),
    ]
    write_results(args.out, "postgres_concurrency", result, table, args.quick)


if __name__ == "__main__":
    asyncio.run(main())
