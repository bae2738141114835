"""Scale: search latency and recall@10 at 10k and 100k memories over 1,000 users.

Memories are ingested with ``add_many`` (batches of 100; the ingest rate is reported). At
each size, semantic searches for random users are timed through ``AsyncMemory.search``
(p50/p95), and recall@10 is measured against an exact scan of that user's rows (a hit
counts when its exact distance is within the true 10th distance, so ties are not errors).
Recall is reported for the plan PostgreSQL chooses (``recall_at_10``) and with the HNSW
index forced (``enable_sort = off``: ``recall_at_10_hnsw``). Targets: recall@10 >= 0.95, p95
growing less than 2x from 10k to 100k. Finally one heavy user gets a tenth as many
memories again, so that the planner picks the HNSW index, and is measured the same way.
``--quick`` runs the 10k size only.

    uv run python benchmarks/postgres_scale.py [--quick]
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import time
from typing import Any

from openmem_postgres.bench import bench_provider, parse_args, percentile, write_results

from openmem import AsyncMemory

VOCABULARY = [f"w{i}" for i in range(2000)]
USERS = 1000


def sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(VOCABULARY) for _ in range(10))


async def ingest(mem: AsyncMemory, per_user: int, rng: random.Random) -> float:
    """Add ``per_user`` memories to every user, in ``add_many`` calls of at most 100 items,
    four calls in flight; rows per second."""
    calls = []
    for u in range(USERS):
        texts = [sentence(rng) for _ in range(per_user)]
        calls += [(f"user-{u}", texts[i : i + 100]) for i in range(0, per_user, 100)]
    began = time.perf_counter()
    for i in range(0, len(calls), 4):
        await asyncio.gather(
            *(mem.add_many(items, user_id=user) for user, items in calls[i : i + 4])
        )
    return per_user * USERS / (time.perf_counter() - began)


async def measure(
    mem: AsyncMemory, queries: int, rng: random.Random, user: str | None = None
) -> dict[str, Any]:
    """Latency and recall of ``queries`` searches, for random users (or ``user``)."""
    fixed_user = user
    provider: Any = mem.provider
    schema = provider.statements.schema
    latencies: list[float] = []
    recalls: list[float] = []
    forced: list[float] = []
    plans: dict[str, int] = {}
    captured: dict[str, tuple[str, tuple[Any, ...]]] = {}
    original = provider.runner.fetch

    async def capture(sql: str, *a: Any, **kw: Any) -> Any:
        captured["last"] = (sql, a)
        return await original(sql, *a, **kw)

    for _ in range(queries):
        user = fixed_user or f"user-{rng.randrange(USERS)}"
        page = await mem.list(user, limit=50)
        words = rng.choice(page.items).content.split()
        query = " ".join(rng.sample(words, 3))
        provider.runner.fetch = capture
        start = time.perf_counter()
        hits = await mem.search(query, user, mode="semantic", limit=10)
        latencies.append((time.perf_counter() - start) * 1000)
        provider.runner.fetch = original
        sql, args = captured["last"]
        vector = (await provider.embedder.embed([query]))[0]

        async def exact(conn: Any, user: str = user, vector: Any = vector) -> dict[str, float]:
            rows = await conn.fetch(
                f"SELECT id, (embedding <=> $3::vector) AS d FROM {schema}.memories"
                " WHERE namespace = $1 AND user_id = $2",
                mem.namespace,
                user,
                vector,
            )
            return {r["id"]: r["d"] for r in rows}

        distances = await provider.runner.run(exact)
        ranked = sorted(distances.values())
        cutoff = ranked[min(10, len(ranked)) - 1] + 1e-6
        want = min(10, len(ranked))

        def recall(
            ids: list[str], cutoff: float = cutoff, distances: Any = distances, want: int = want
        ) -> float:
            return sum(1 for i in ids if distances.get(i, 9.0) <= cutoff) / want

        recalls.append(recall([h.memory.id for h in hits]))

        async def hnsw_only(conn: Any, sql: str = sql, args: Any = args) -> list[str]:
            async with conn.transaction():
                # A plan the connection cached earlier was made with sorting allowed, and
                # cached plans ignore later planner settings: plan this one afresh.
                await conn.execute(
                    "SET LOCAL enable_sort = off; SET LOCAL plan_cache_mode = force_custom_plan"
                )
                fresh = [
                    f"aud_bench_{time.perf_counter_ns()}_{i}" if str(v).startswith("aud_") else v
                    for i, v in enumerate(args)
                ]
                plan = await conn.fetchval(f"EXPLAIN (FORMAT JSON) {sql}", *fresh)
                rows = await conn.fetch(sql, *fresh)
            return [json.dumps(plan), *[r["id"] for r in rows]]

        async def chosen_plan(conn: Any, sql: str = sql, args: Any = args) -> str:
            fresh = [
                f"aud_plan_{time.perf_counter_ns()}_{i}" if str(v).startswith("aud_") else v
                for i, v in enumerate(args)
            ]
            return json.dumps(await conn.fetchval(f"EXPLAIN (FORMAT JSON) {sql}", *fresh))

        plan = await provider.runner.run(chosen_plan)
        kind = "hnsw" if "memories_hnsw_" in plan else "btree/exact"
        plans[kind] = plans.get(kind, 0) + 1
        forced_result = await provider.runner.run(hnsw_only)
        assert "memories_hnsw_" in forced_result[0], "the HNSW index was not used when forced"
        forced.append(recall(forced_result[1:]))
    return {
        "search_p50_ms": round(statistics.median(latencies), 3),
        "search_p95_ms": round(percentile(latencies, 95), 3),
        "recall_at_10": round(statistics.fmean(recalls), 4),
        "recall_at_10_hnsw": round(statistics.fmean(forced), 4),
        "plans": plans,
    }


async def main() -> None:
    args = parse_args(__doc__ or "")
    sizes = [10_000] if args.quick else [10_000, 100_000]
    queries = 60 if args.quick else 200
    rng = random.Random(3)
    result: dict[str, Any] = {"users": USERS}
    # No queue workers: their polls go through the runner this benchmark captures the
    # search's statement from (a captured poll failed the forced-HNSW check now and then).
    async with bench_provider(pool_min_size=2, ingest_workers=0) as provider:
        mem = AsyncMemory(provider=provider, namespace="bench-scale")
        await mem.initialize()
        done = 0
        rates = []
        for size in sizes:
            rates.append(await ingest(mem, (size - done) // USERS, rng))
            done = size

            async def analyze(conn: Any) -> None:
                await conn.execute(f"ANALYZE {provider.statements.schema}.memories")

            await provider.runner.run(analyze)
            result[str(size)] = await measure(mem, queries, rng)
        # One heavy user (a tenth of the rows): the planner uses the HNSW index for it.
        heavy = sizes[-1] // 10
        for start in range(0, heavy, 100):
            await mem.add_many(
                [sentence(rng) for _ in range(min(100, heavy - start))], user_id="user-heavy"
            )
        await provider.runner.run(analyze)
        result["heavy_user"] = {
            "memories": heavy,
            **await measure(mem, queries // 2, rng, user="user-heavy"),
        }
        await mem.close()
    result["ingest_rows_s"] = round(statistics.fmean(rates), 1)
    if len(sizes) == 2:
        result["p95_growth_10k_to_100k"] = round(
            result["100000"]["search_p95_ms"] / result["10000"]["search_p95_ms"], 3
        )
    table = [("ingest rows/s (add_many, 4 calls in flight)", str(result["ingest_rows_s"]), "")]
    for size in sizes:
        r = result[str(size)]
        table += [
            (f"{size:,}: search p50 / p95 ms", f"{r['search_p50_ms']} / {r['search_p95_ms']}", ""),
            (f"{size:,}: recall@10 (chosen plan)", str(r["recall_at_10"]), ">= 0.95"),
            (f"{size:,}: recall@10 (HNSW forced)", str(r["recall_at_10_hnsw"]), ">= 0.95"),
            (f"{size:,}: plans chosen", json.dumps(r["plans"]), ""),
        ]
    r = result["heavy_user"]
    table += [
        (
            f"heavy user ({r['memories']:,} memories): search p50 / p95 ms",
            f"{r['search_p50_ms']} / {r['search_p95_ms']}",
            "",
        ),
        ("heavy user: recall@10 (chosen plan)", str(r["recall_at_10"]), ">= 0.95"),
        ("heavy user: recall@10 (HNSW forced)", str(r["recall_at_10_hnsw"]), ">= 0.95"),
        ("heavy user: plans chosen", json.dumps(r["plans"]), ""),
    ]
    if "p95_growth_10k_to_100k" in result:
        table.append(("p95 growth 10k -> 100k", str(result["p95_growth_10k_to_100k"]), "< 2"))
    write_results(args.out, "postgres_scale", result, table, args.quick)


if __name__ == "__main__":
    asyncio.run(main())
