"""The thread tier under load: openmem-mem0 vs mem0's own ``AsyncMemory``, side by side.

Both sides run mem0 OSS on the same kind of store (embedded qdrant in their own directories,
or one pgvector server in their own collections) with the same embedder (openmem's hashing
embedder behind mem0's embedding interface). Each side gets N concurrent adds, then N
concurrent searches, while a ticker task measures how late the event loop wakes it.

    python benchmarks/thread_tier.py --quick          # one run, one JSON line on stdout
    python benchmarks/thread_tier.py                  # 3 runs; JSON + table in results/
    python benchmarks/thread_tier.py --store pgvector --url postgresql://...

Per side: ``errors`` (calls that raised), ``lost`` (adds that reported success but are not
in the store afterwards), ``ops_per_s`` (adds + searches over both phases' wall time) and
``loop_lag_p99_ms`` (p99 of the ticker's lateness over a 1 ms period).

Reading the lag: the loop thread of the openmem side spends little time in openmem code
(about 0.2 s of a 6.5 s search phase, cProfile); what delays the ticker is the GIL. Embedded
qdrant evaluates payload filters in pure Python for every point (about 6 ms per mem0 search
over 500 points), so while a worker thread runs a search the loop waits up to
``sys.getswitchinterval()`` (5 ms) for the GIL, and the cyclic GC's full collections over
qdrant's in-memory points add the spikes. On pgvector the work happens in Postgres and the
lag stays low. The full run records the machine's idle lag and load average beside the result.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
USERS = 10
TICK = 0.001


class Ticker:
    """A task that sleeps ``TICK`` at a time and records how late it wakes up."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + TICK
            await asyncio.sleep(TICK)
            self.lags.append(max(0.0, loop.time() - due))

    def __enter__(self) -> Ticker:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()

    def p99_ms(self) -> float:
        if not self.lags:
            return 0.0
        ordered = sorted(self.lags)
        return round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1e3, 3)


async def at_concurrency(
    n: int, concurrency: int, call: Callable[[int], Awaitable[Any]]
) -> tuple[list[Any], float]:
    """``call(0..n-1)`` with at most ``concurrency`` in flight: (results or errors, seconds)."""
    results: list[Any] = [None] * n
    next_index = iter(range(n))

    async def worker() -> None:
        for i in next_index:
            try:
                results[i] = await call(i)
            except Exception as exc:
                results[i] = exc

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(min(concurrency, n))))
    return results, time.perf_counter() - t0


async def measure(
    n: int,
    add: Callable[[int], Awaitable[Any]],
    search: Callable[[int], Awaitable[Any]],
    count_stored: Callable[[list[Any]], Awaitable[int]],
    concurrency: int | None = None,
) -> dict[str, Any]:
    """N adds then N searches under a ticker; count errors and losses.

    ``concurrency`` None: every call of a phase at once; else at most that many in flight,
    and each verb's own throughput is reported too.
    """
    with Ticker() as ticker:
        t0 = time.perf_counter()
        if concurrency is None:
            added = await asyncio.gather(*(add(i) for i in range(n)), return_exceptions=True)
            searched = await asyncio.gather(*(search(i) for i in range(n)), return_exceptions=True)
            add_s = search_s = None
        else:
            added, add_s = await at_concurrency(n, concurrency, add)
            searched, search_s = await at_concurrency(n, concurrency, search)
        elapsed = time.perf_counter() - t0
    ok = [a for a in added if not isinstance(a, BaseException)]
    errors = sum(isinstance(r, BaseException) for r in [*added, *searched])
    stored = await count_stored(ok)
    result = {
        "errors": errors,
        "lost": len(ok) - stored,
        "ops_per_s": round(2 * n / elapsed, 1),
        "loop_lag_p99_ms": ticker.p99_ms(),
    }
    if add_s is not None and search_s is not None:
        result["add_ops_per_s"] = round(n / add_s, 1)
        result["search_ops_per_s"] = round(n / search_s, 1)
    return result


async def run_openmem(
    n: int,
    store: dict[str, Any],
    dim: int,
    max_workers: int | None = None,
    concurrency: int | None = None,
) -> dict[str, Any]:
    from openmem_mem0 import Mem0Provider

    from openmem import AsyncMemory

    tuning: dict[str, Any] = {"max_workers": max_workers} if max_workers else {}
    provider = Mem0Provider(embedder="hashing", embedder_dim=dim, **store, **tuning)
    async with AsyncMemory(provider, namespace="bench") as mem:

        async def add(i: int) -> Any:
            return await mem.add(
                f"user note number {i} about topic {i % 7}", user_id=f"u{i % USERS}"
            )

        async def search(i: int) -> Any:
            return await mem.search(f"topic {i % 7}", f"u{i % USERS}", limit=5)

        async def count_stored(records: list[Any]) -> int:
            wanted = {r.id for r in records}
            found: set[str] = set()
            for u in range(USERS):
                cursor = None
                while True:
                    page = await mem.list(f"u{u}", limit=500, cursor=cursor)
                    found |= {r.id for r in page.items}
                    cursor = page.next_cursor
                    if cursor is None:
                        break
            return len(wanted & found)

        return await measure(n, add, search, count_stored, concurrency)


def mem0_config(store: dict[str, Any], dim: int, data_dir: Path) -> dict[str, Any]:
    if store["vector_store"] == "pgvector":
        vector = {
            "provider": "pgvector",
            "config": {
                "connection_string": store["url"],
                "collection_name": store["collection"],
                "embedding_model_dims": dim,
            },
        }
    else:
        vector = {
            "provider": "qdrant",
            "config": {
                "path": str(data_dir / "qdrant"),
                "collection_name": store["collection"],
                "embedding_model_dims": dim,
                "on_disk": True,
            },
        }
    return {
        "vector_store": vector,
        "embedder": {
            "provider": "openai",
            "config": {"api_key": "sk-unused", "embedding_dims": dim},
        },
        "llm": {"provider": "openai", "config": {"api_key": "sk-unused"}},
        "history_db_path": str(data_dir / "history.db"),
    }


async def run_mem0_async(
    n: int, store: dict[str, Any], dim: int, concurrency: int | None = None
) -> dict[str, Any]:
    from mem0 import AsyncMemory
    from openmem_mem0._oss import OpenmemEmbedding

    from openmem.embedders import HashingEmbedder

    data_dir = Path(store["data_dir"])
    memory = AsyncMemory.from_config(mem0_config(store, dim, data_dir))
    memory.embedding_model = OpenmemEmbedding(HashingEmbedder(dim), asyncio.get_running_loop())

    async def add(i: int) -> Any:
        result = await memory.add(
            f"user note number {i} about topic {i % 7}", user_id=f"u{i % USERS}", infer=False
        )
        return result["results"][0]["id"]

    async def search(i: int) -> Any:
        return await memory.search(
            f"topic {i % 7}", top_k=5, filters={"user_id": f"u{i % USERS}"}, threshold=0.0
        )

    async def count_stored(ids: list[Any]) -> int:
        found: set[str] = set()
        try:
            for u in range(USERS):
                rows = await memory.get_all(filters={"user_id": f"u{u}"}, top_k=100_000)
                found |= {r["id"] for r in rows["results"]}
        except Exception:
            # The concurrent run can leave embedded qdrant unable to list; ask id by id.
            found = {i for i in ids if await _exists(memory, i)}
        return len(set(ids) & found)

    try:
        return await measure(n, add, search, count_stored, concurrency)
    finally:
        memory.close()
        client = getattr(memory.vector_store, "client", None)
        if client is not None and hasattr(client, "close"):
            client.close()


async def _exists(memory: Any, memory_id: str) -> bool:
    try:
        return await memory.get(memory_id) is not None
    except Exception:
        return False


async def idle_lag_p99_ms(seconds: float = 2.0) -> float:
    """The machine's noise floor: the ticker's lateness with nothing else running."""
    with Ticker() as ticker:
        await asyncio.sleep(seconds)
    return ticker.p99_ms()


def one_run(
    n: int,
    store_kind: str,
    url: str | None,
    dim: int,
    max_workers: int | None = None,
    concurrency: int | None = None,
    mem0_first: bool = False,
) -> dict[str, Any]:
    """Both sides once, in one process, each on a fresh store (in either order)."""
    with tempfile.TemporaryDirectory() as tmp:
        suffix = os.urandom(3).hex()
        ours: dict[str, Any] = {
            "vector_store": store_kind,
            "url": url,
            "data_dir": str(Path(tmp) / "openmem"),
            "collection": f"bench_om_{suffix}",
        }
        theirs = {**ours, "data_dir": str(Path(tmp) / "mem0"), "collection": f"bench_m0_{suffix}"}
        Path(theirs["data_dir"]).mkdir(parents=True)
        os.environ.setdefault("MEM0_DIR", str(Path(tmp) / "mem0-home"))
        os.environ["MEM0_TELEMETRY"] = "False"

        async def both() -> dict[str, Any]:
            if mem0_first:
                mem0_result = await run_mem0_async(n, theirs, dim, concurrency)
            openmem_result = await run_openmem(n, ours, dim, max_workers, concurrency)
            if not mem0_first:
                mem0_result = await run_mem0_async(n, theirs, dim, concurrency)
            return {"openmem": openmem_result, "mem0_async": mem0_result}

        return asyncio.run(both())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one run, one JSON line")
    parser.add_argument("-n", type=int, default=500, help="concurrent adds (and searches)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--store", choices=["qdrant", "pgvector"], default="qdrant")
    parser.add_argument("--url", help="PostgreSQL URL for --store pgvector")
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--max-workers", type=int, help="openmem-mem0 worker threads (pgvector)")
    parser.add_argument(
        "--concurrency",
        type=int,
        help="calls in flight per phase (default: all N at once); reports each verb's ops/s",
    )
    parser.add_argument(
        "--switch-interval",
        type=float,
        help="sys.setswitchinterval() for the run (CPython's default is 0.005 s)",
    )
    args = parser.parse_args()
    if args.switch_interval:
        sys.setswitchinterval(args.switch_interval)
    if args.store == "pgvector" and not args.url:
        parser.error("--store pgvector needs --url")
    logging.disable(logging.WARNING)  # mem0 warns about spaCy/fastembed on every call
    warnings.simplefilter("ignore")
    if args.quick:
        result = one_run(args.n, args.store, args.url, args.dim, args.max_workers, args.concurrency)
        print(json.dumps(result))
        return
    runs = []
    for r in range(args.runs):
        # The order alternates, so neither side always runs on the warmer (or busier) machine.
        run = one_run(
            args.n,
            args.store,
            args.url,
            args.dim,
            args.max_workers,
            args.concurrency,
            mem0_first=r % 2 == 1,
        )
        run["idle_loop_lag_p99_ms"] = asyncio.run(idle_lag_p99_ms())
        runs.append(run)
    keys = ["errors", "lost", "ops_per_s", "loop_lag_p99_ms"]
    if args.concurrency:
        keys += ["add_ops_per_s", "search_ops_per_s"]
    summary: dict[str, Any] = {
        side: {key: statistics.median(run[side][key] for run in runs) for key in keys}
        for side in ("openmem", "mem0_async")
    }
    if args.concurrency:
        # Ratios per run (the sides ran back to back), then their median.
        summary["openmem_vs_mem0"] = {
            verb: round(
                statistics.median(
                    run["openmem"][f"{verb}_ops_per_s"] / run["mem0_async"][f"{verb}_ops_per_s"]
                    for run in runs
                ),
                2,
            )
            for verb in ("add", "search")
        }
    report = {
        "benchmark": "thread_tier",
        "n": args.n,
        "concurrency": args.concurrency,
        "store": args.store,
        "embedder": f"hashing-{args.dim}",
        "python": sys.version.split()[0],
        "switch_interval_s": sys.getswitchinterval(),
        "load_average": os.getloadavg(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "runs": runs,
        "median": summary,
    }
    RESULTS.mkdir(exist_ok=True)
    stem = "thread_tier" if args.store == "qdrant" else f"thread_tier_{args.store}"
    if args.switch_interval:
        stem += f"_switch{args.switch_interval * 1e3:g}ms"
    if args.concurrency:
        stem += f"_c{args.concurrency}"
    (RESULTS / f"{stem}.json").write_text(json.dumps(report, indent=2) + "\n")
    in_flight = f"at most {args.concurrency} in flight" if args.concurrency else "all at once"
    lines = [
        f"# thread tier: {args.n} adds then {args.n} searches, {in_flight} "
        f"({args.store}, hashing-{args.dim}, {report['machine']}; median of {args.runs} runs)",
        "",
        "| side | errors | lost | ops/s | add ops/s | search ops/s | loop lag p99 (ms) |",
        "|---|---|---|---|---|---|---|",
    ]
    for side in ("openmem", "mem0_async"):
        s = summary[side]
        lines.append(
            f"| {side} | {s['errors']} | {s['lost']} | {s['ops_per_s']} "
            f"| {s.get('add_ops_per_s', '-')} | {s.get('search_ops_per_s', '-')} "
            f"| {s['loop_lag_p99_ms']} |"
        )
    if args.concurrency:
        ratio = summary["openmem_vs_mem0"]
        lines += [
            "",
            f"openmem-mem0 / mem0 AsyncMemory, median of the per-run ratios: adds "
            f"{ratio['add']}x, searches {ratio['search']}x (target >= 1).",
        ]
    idle = statistics.median(run["idle_loop_lag_p99_ms"] for run in runs)
    lines += [
        "",
        f"Idle loop lag p99 on this machine at the time: {idle} ms (noise floor).",
        f"Load average: {report['load_average']}; GIL switch interval {sys.getswitchinterval()} s.",
    ]
    (RESULTS / f"{stem}.md").write_text("\n".join(lines) + "\n")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
