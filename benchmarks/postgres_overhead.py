"""Adapter overhead: ``AsyncMemory.search``/``add`` vs the same SQL through bare asyncpg.

Both sides run on the same pool, with the same statements and the same vectors: the bare
side replays exactly what the provider sent (fresh ids each time), through
``async with pool.acquire(): conn.fetch(...)``. The ratio is openmem's latency over the bare
latency (median of per-operation latencies; the mean is reported too). Target: <= 1.15.

    uv run python benchmarks/postgres_overhead.py [--quick]
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from openmem_postgres.bench import bench_provider, parse_args, sentence, write_results
from ulid import ULID

from openmem import AsyncMemory


async def timed(op: Callable[[], Awaitable[Any]], n: int) -> list[float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        await op()
        samples.append(time.perf_counter() - start)
    return samples


async def main() -> None:
    args = parse_args(__doc__ or "")
    rounds, per_round = (6, 100) if args.quick else (20, 250)
    rng = random.Random(7)
    # No queue workers: their polls go through the runner whose statements are captured here.
    async with bench_provider(pool_min_size=2, pool_max_size=4, ingest_workers=0) as provider:
        mem = AsyncMemory(provider=provider, namespace="bench")
        await mem.initialize()
        users = [f"user-{i}" for i in range(10)]
        for user in users:
            await mem.add_many([sentence(rng) for _ in range(100)], user_id=user)

        # Record the statement and arguments the provider sends, to replay them bare.
        captured: dict[str, tuple[str, tuple[Any, ...]]] = {}
        original_fetch, original_fetchrow = provider.runner.fetch, provider.runner.fetchrow

        async def capture_fetch(sql: str, *a: Any, **kw: Any) -> Any:
            captured["search"] = (sql, a)
            return await original_fetch(sql, *a, **kw)

        async def capture_fetchrow(sql: str, *a: Any) -> Any:
            captured["add"] = (sql, a)
            return await original_fetchrow(sql, *a)

        provider.runner.fetch = capture_fetch  # type: ignore[method-assign]
        provider.runner.fetchrow = capture_fetchrow  # type: ignore[method-assign]
        query, text = "dark mode editor", "the user likes a quiet dark editor"
        await mem.search(query, users[0])
        await mem.add(text, user_id=users[1])
        provider.runner.fetch, provider.runner.fetchrow = original_fetch, original_fetchrow  # type: ignore[method-assign]

        pool = provider.runner.pool
        search_sql, search_args = captured["search"]
        add_sql, add_args = captured["add"]
        search_audit = [i for i, v in enumerate(search_args) if str(v).startswith("aud_")]
        add_audit = [i for i, v in enumerate(add_args) if str(v).startswith("aud_")]

        async def bare_search() -> None:
            a = list(search_args)
            for i in search_audit:
                a[i] = f"aud_{ULID()}"
            async with pool.acquire() as conn:
                await conn.fetch(search_sql, *a)

        async def bare_add() -> None:
            a = list(add_args)
            a[1] = f"mem_{ULID()}"
            for i in add_audit:
                a[i] = f"aud_{ULID()}"
            async with pool.acquire() as conn:
                await conn.fetchrow(add_sql, *a)

        async def ours_search() -> None:
            await mem.search(query, users[0])

        async def ours_add() -> None:
            await mem.add(text, user_id=users[1])

        results: dict[str, dict[str, list[float]]] = {
            "search": {"ours": [], "bare": []},
            "add": {"ours": [], "bare": []},
        }
        pairs = {"search": (ours_search, bare_search), "add": (ours_add, bare_add)}
        for verb, (ours, bare) in pairs.items():
            await timed(ours, 50)  # warm both paths: prepared statements, caches
            await timed(bare, 50)
            # Alternate single operations in random order, so both sides see the same noise
            # from whatever else the machine is doing.
            for _ in range(rounds * per_round):
                order = [("ours", ours), ("bare", bare)]
                rng.shuffle(order)
                for side, op in order:
                    results[verb][side] += await timed(op, 1)
        await mem.close()

    def ratio(verb: str, fn: Callable[[list[float]], float]) -> float:
        return round(fn(results[verb]["ours"]) / fn(results[verb]["bare"]), 3)

    def ms(verb: str, side: str) -> float:
        return round(statistics.median(results[verb][side]) * 1000, 3)

    result: dict[str, Any] = {
        "overhead_ratio_search": ratio("search", statistics.median),
        "overhead_ratio_add": ratio("add", statistics.median),
        "overhead_ratio_search_mean": ratio("search", statistics.fmean),
        "overhead_ratio_add_mean": ratio("add", statistics.fmean),
        "search_ms_p50": {"openmem": ms("search", "ours"), "asyncpg": ms("search", "bare")},
        "add_ms_p50": {"openmem": ms("add", "ours"), "asyncpg": ms("add", "bare")},
        "operations_per_side": rounds * per_round,
    }
    table = [
        ("overhead ratio, search (median)", str(result["overhead_ratio_search"]), "<= 1.15"),
        ("overhead ratio, add (median)", str(result["overhead_ratio_add"]), "<= 1.15"),
        ("overhead ratio, search (mean)", str(result["overhead_ratio_search_mean"]), ""),
        ("overhead ratio, add (mean)", str(result["overhead_ratio_add_mean"]), ""),
        (
            "search p50 ms openmem / asyncpg",
            f"{result['search_ms_p50']['openmem']} / {result['search_ms_p50']['asyncpg']}",
            "",
        ),
        (
            "add p50 ms openmem / asyncpg",
            f"{result['add_ms_p50']['openmem']} / {result['add_ms_p50']['asyncpg']}",
            "",
        ),
    ]
    write_results(args.out, "postgres_overhead", result, table, args.quick)


if __name__ == "__main__":
    asyncio.run(main())
