"""The thread tier under load: openmem-mem0 vs mem0's own ``AsyncMemory``, side by side.

Both sides run mem0 OSS on the same kind of store (embedded qdrant in their own directories,
or one pgvector server in their own collections) with the same embedder (openmem's hashing
embedder behind mem0's embedding interface). Each side gets N concurrent adds, then N
concurrent searches, while a ticker task measures how late the event loop wakes it.

    python benchmarks/thread_tier.py --quick          # one run, one JSON line on stdout
    python benchmarks/thread_tier.py                  # 3 runs; JSON + table in results/
    python benchmarks/thread_tier.py --store pgvector --url postgresql://...

Per side: ``errors`` (calls that raised), ``lost`` (adds that reported success but are not
in the store afterwards), ``ops_per_s`` (adds + searches over both phases' wall time),
``loop_lag_p99_ms`` (p99 of the ticker's lateness over a 1 ms period) and, on pgvector,
``candidate_rows`` (rows mem0's vector query returned per search: the work behind a search).

Like for like on pgvector: both collections are ANALYZEd between the add and the search
phase, so each side's plan comes from statistics rather than from whether autovacuum happened
to run (which swung the search ratio 0.5-2x between runs). mem0's own plan then scans the
HNSW graph and filters by user afterwards, so a search sees a fraction of the user's
memories; openmem-mem0 adds a user index, custom plans and iterative scans, so every search
ranks all of them (full pages: the difference is on purpose). A third side,
``mem0_async_same_setup`` (``--store pgvector``), runs mem0's ``AsyncMemory`` on that same
setup, doing the same SQL and reading the same rows as openmem-mem0.

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


class CpuMeter:
    """CPU seconds of this process and, for a PostgreSQL on this machine, of the server.

    Throughput on a shared two-core machine follows whatever else runs; CPU per call does
    not, so it is the like-for-like figure beside ops/s. The server's share is the sum over
    the postmaster's children (its backends), read from /proc; None for a remote server.
    """

    def __init__(self, url: str | None) -> None:
        self._postmaster: int | None = None
        if url is None:
            return
        try:
            import psycopg

            with psycopg.connect(url) as conn:
                row = conn.execute("SELECT pg_backend_pid()").fetchone()
            backend = int(row[0]) if row else 0
            stat = Path(f"/proc/{backend}/stat").read_text()
            self._postmaster = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, ImportError):
            self._postmaster = None

    def _backend_ticks(self) -> dict[int, int] | None:
        """CPU ticks of each client backend (autovacuum and other helpers left out)."""
        if self._postmaster is None:
            return None
        ticks: dict[int, int] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) != self._postmaster:
                    continue
                title = (entry / "cmdline").read_bytes()
            except OSError:
                continue  # a process that just exited
            if b"[local]" in title or b"(" in title:  # "postgres: user db host(port) ..."
                ticks[int(entry.name)] = int(fields[11]) + int(fields[12])
        return ticks

    def snapshot(self) -> tuple[float, dict[int, int] | None]:
        return time.process_time(), self._backend_ticks()

    def since(
        self, before: tuple[float, dict[int, int] | None], calls: int
    ) -> tuple[float, float | None]:
        """Milliseconds of CPU per call since ``before``: (this process, the server or None).

        The server's share counts backends alive at the end (one that connected in between
        from zero); a backend that exited in between is lost, so pools must stay open.
        """
        client, after = self.snapshot()
        server_ms = None
        if after is not None and before[1] is not None:
            old = before[1]
            ticks = sum(now - old.get(pid, 0) for pid, now in after.items())
            server_ms = ticks / os.sysconf("SC_CLK_TCK") / calls * 1e3
        return (client - before[0]) / calls * 1e3, server_ms


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
    between: Callable[[], None] | None = None,
    server: CpuMeter | None = None,
) -> dict[str, Any]:
    """N adds then N searches under a ticker; count errors and losses, CPU per call.

    ``concurrency`` None: every call of a phase at once; else at most that many in flight,
    and each verb's own throughput is reported too.
    """
    meter = server or CpuMeter(None)
    cpu: dict[str, tuple[float, float | None]] = {}
    with Ticker() as ticker:
        t0 = time.perf_counter()
        before = meter.snapshot()
        if concurrency is None:
            added = await asyncio.gather(*(add(i) for i in range(n)), return_exceptions=True)
        else:
            added, add_s = await at_concurrency(n, concurrency, add)
        cpu["add"] = meter.since(before, n)
        add_elapsed = time.perf_counter() - t0
        if between is not None:
            between()
        t1 = time.perf_counter()
        CANDIDATES.clear()
        before = meter.snapshot()
        if concurrency is None:
            searched = await asyncio.gather(*(search(i) for i in range(n)), return_exceptions=True)
        else:
            searched, search_s = await at_concurrency(n, concurrency, search)
        cpu["search"] = meter.since(before, n)
        elapsed = add_elapsed + time.perf_counter() - t1
    ok = [a for a in added if not isinstance(a, BaseException)]
    errors = sum(isinstance(r, BaseException) for r in [*added, *searched])
    stored = await count_stored(ok)
    result = {
        "errors": errors,
        "lost": len(ok) - stored,
        "ops_per_s": round(2 * n / elapsed, 1),
        "loop_lag_p99_ms": ticker.p99_ms(),
    }
    if concurrency is not None:
        result["add_ops_per_s"] = round(n / add_s, 1)
        result["search_ops_per_s"] = round(n / search_s, 1)
    for verb, (client_ms, server_ms) in cpu.items():
        result[f"{verb}_client_cpu_ms"] = round(client_ms, 3)
        if server_ms is not None:
            result[f"{verb}_server_cpu_ms"] = round(server_ms, 3)
    if CANDIDATES:
        result["candidate_rows"] = round(sum(CANDIDATES) / len(CANDIDATES), 1)
    return result


CANDIDATES: list[int] = []
"""Rows mem0's pgvector query returned, one entry per vector search (of the side running)."""


def count_candidate_rows() -> None:
    """Record how many rows each of mem0's pgvector searches returns (both sides use it)."""
    from mem0.vector_stores.pgvector import PGVector

    search = PGVector.search
    if getattr(search, "counts_candidates", False):
        return

    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        rows = search(self, *args, **kwargs)
        CANDIDATES.append(len(rows))
        return rows

    counted.counts_candidates = True  # type: ignore[attr-defined]
    PGVector.search = counted


def analyze(store: dict[str, Any]) -> Callable[[], None] | None:
    """For pgvector: ANALYZE the side's collection, so its plans come from statistics."""
    if store["vector_store"] != "pgvector":
        return None

    def run() -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(store["url"], autocommit=True) as conn:
            conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(store["collection"])))

    return run


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

        return await measure(
            n, add, search, count_stored, concurrency, analyze(store), CpuMeter(store["url"])
        )


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
    n: int,
    store: dict[str, Any],
    dim: int,
    concurrency: int | None = None,
    same_setup: bool = False,
) -> dict[str, Any]:
    """mem0's ``AsyncMemory``; ``same_setup``: on openmem-mem0's pgvector setup (its pool
    settings, user index and cursors, mem0's default pool size), so both sides send the same
    statements and read the same rows."""
    from mem0 import AsyncMemory
    from openmem_mem0._oss import OpenmemEmbedding, _index_users, _iterative_scan_pool
    from openmem_mem0._pgvector_cursors import install_lean_cursors

    from openmem.embedders import HashingEmbedder

    data_dir = Path(store["data_dir"])
    config = mem0_config(store, dim, data_dir)
    pool = None
    if same_setup:
        pool = _iterative_scan_pool(store["url"], 5)  # mem0's own pool holds 5 connections
        vector = config["vector_store"]["config"]
        del vector["connection_string"]
        vector["connection_pool"] = pool
    memory = AsyncMemory.from_config(config)
    memory.embedding_model = OpenmemEmbedding(HashingEmbedder(dim), asyncio.get_running_loop())
    if pool is not None:
        memory.vector_store._ensure_collection()
        _index_users(pool, store["collection"])
        for each in (memory.vector_store, memory.entity_store):
            install_lean_cursors(each, pool)

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
        return await measure(
            n, add, search, count_stored, concurrency, analyze(store), CpuMeter(store["url"])
        )
    finally:
        memory.close()
        client = getattr(memory.vector_store, "client", None)
        if client is not None and hasattr(client, "close"):
            client.close()
        if pool is not None:
            pool.close()


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


def total_cpu_ms(side: dict[str, Any], verb: str) -> float:
    """CPU ms per call of one verb: this process plus the server (when measured)."""
    return float(side[f"{verb}_client_cpu_ms"] + side.get(f"{verb}_server_cpu_ms", 0.0))


def sides_of(store_kind: str) -> list[str]:
    """The sides a run measures: the mem0 same-setup side exists on pgvector only."""
    sides = ["openmem", "mem0_async"]
    if store_kind == "pgvector":
        sides.append("mem0_async_same_setup")
    return sides


def one_run(
    n: int,
    store_kind: str,
    url: str | None,
    dim: int,
    max_workers: int | None = None,
    concurrency: int | None = None,
    rotate: int = 0,
) -> dict[str, Any]:
    """Every side once, in one process, each on a fresh store; the order rotates by
    ``rotate``, so no side always runs on the warmer (or busier) machine."""
    with tempfile.TemporaryDirectory() as tmp:
        suffix = os.urandom(3).hex()
        os.environ.setdefault("MEM0_DIR", str(Path(tmp) / "mem0-home"))
        os.environ["MEM0_TELEMETRY"] = "False"
        if store_kind == "pgvector":
            count_candidate_rows()
        sides = sides_of(store_kind)
        sides = sides[rotate % len(sides) :] + sides[: rotate % len(sides)]

        def store(side: str) -> dict[str, Any]:
            short = {"openmem": "om", "mem0_async": "m0", "mem0_async_same_setup": "m0s"}[side]
            data_dir = Path(tmp) / side
            data_dir.mkdir(parents=True)
            return {
                "vector_store": store_kind,
                "url": url,
                "data_dir": str(data_dir),
                "collection": f"bench_{short}_{suffix}",
            }

        async def every_side() -> dict[str, Any]:
            results: dict[str, Any] = {}
            for side in sides:
                if side == "openmem":
                    results[side] = await run_openmem(n, store(side), dim, max_workers, concurrency)
                else:
                    results[side] = await run_mem0_async(
                        n, store(side), dim, concurrency, same_setup=side.endswith("setup")
                    )
            return results

        return asyncio.run(every_side())


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
            rotate=r,
        )
        run["idle_loop_lag_p99_ms"] = asyncio.run(idle_lag_p99_ms())
        runs.append(run)
    sides = sides_of(args.store)
    keys = ["errors", "lost", "ops_per_s", "loop_lag_p99_ms"]
    if args.concurrency:
        keys += ["add_ops_per_s", "search_ops_per_s"]
    keys += ["add_client_cpu_ms", "search_client_cpu_ms"]
    if args.store == "pgvector":
        keys += ["candidate_rows", "add_server_cpu_ms", "search_server_cpu_ms"]
    summary: dict[str, Any] = {
        side: {
            key: round(statistics.median(run[side].get(key, 0) for run in runs), 3) for key in keys
        }
        for side in sides
    }
    if args.concurrency:
        # Ratios per run (the sides ran back to back), then their median and spread.
        for peer in sides[1:]:
            label = "openmem_vs_mem0" + peer.removeprefix("mem0_async")
            summary[label] = {}
            for verb in ("add", "search"):
                ratios = [
                    run["openmem"][f"{verb}_ops_per_s"] / run[peer][f"{verb}_ops_per_s"]
                    for run in runs
                ]
                summary[label][verb] = round(statistics.median(ratios), 2)
                summary[label][f"{verb}_range"] = [round(min(ratios), 2), round(max(ratios), 2)]
                # CPU per call (this process + the server), theirs over ours: > 1 is cheaper.
                cpu = [
                    total_cpu_ms(run[peer], verb) / total_cpu_ms(run["openmem"], verb)
                    for run in runs
                ]
                summary[label][f"{verb}_cpu_theirs_over_ours"] = round(statistics.median(cpu), 2)
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
        "| side | errors | lost | ops/s | add ops/s | search ops/s | loop lag p99 (ms) "
        "| candidate rows / search | CPU ms / add (client + server) "
        "| CPU ms / search (client + server) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for side in sides:
        s = summary[side]
        cpu = {
            verb: f"{s[f'{verb}_client_cpu_ms']:.2f} + {s.get(f'{verb}_server_cpu_ms', 0):.2f}"
            for verb in ("add", "search")
        }
        lines.append(
            f"| {side} | {s['errors']} | {s['lost']} | {s['ops_per_s']} "
            f"| {s.get('add_ops_per_s', '-')} | {s.get('search_ops_per_s', '-')} "
            f"| {s['loop_lag_p99_ms']} | {s.get('candidate_rows', '-')} "
            f"| {cpu['add']} | {cpu['search']} |"
        )
    if args.concurrency:
        lines.append("")
        for peer in sides[1:]:
            ratio = summary["openmem_vs_mem0" + peer.removeprefix("mem0_async")]
            lines.append(
                f"openmem-mem0 / {peer}, median of the per-run ratios [min-max]: adds "
                f"{ratio['add']}x {ratio['add_range']}, searches {ratio['search']}x "
                f"{ratio['search_range']} (target >= 1); CPU per call, theirs / ours: adds "
                f"{ratio['add_cpu_theirs_over_ours']}x, searches "
                f"{ratio['search_cpu_theirs_over_ours']}x."
            )
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
