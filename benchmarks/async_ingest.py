"""Queued adds: acknowledged-add latency beside the synchronous add, and the drain rate.

Two measurements on one PostgreSQL, with the default (semantic, ONNX) embedder unless
``--embedder`` says otherwise:

1. Latency of ``add(..., async_mode=True)`` (the job row written, the caller answered) and
   of the synchronous ``add`` (embedded, written, indexed), interleaved one by one in one
   process on one store, so machine load hits both sides alike. Target: the async p50 at
   least 3x lower.
2. Drain rate: memories per second written by 1, 2 and 4 ``openmem worker`` processes
   (one job at a time each), from the first enqueue until every event is ``SUCCEEDED``.

    uv run python benchmarks/async_ingest.py [--quick] [--embedder hashing]

The machine is shared: read the ratios, and the load average printed with the results.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

from openmem_postgres.bench import percentile, sentence, start_server, write_results

from openmem import AsyncMemory

_RESULTS = Path(__file__).resolve().parent / "results"


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short run")
    parser.add_argument("--embedder", default="onnx", help="onnx (default) or hashing")
    parser.add_argument("--out", type=Path, default=_RESULTS)
    return parser.parse_args()


async def _latencies(mem: AsyncMemory, n: int, rng: random.Random) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {"async": [], "sync": []}
    for i in range(n):
        # Alternate which side goes first, so neither always meets a warmer cache.
        order = ("async", "sync") if i % 2 == 0 else ("sync", "async")
        for side in order:
            text = sentence(rng)
            start = time.perf_counter()
            await mem.add(text, user_id=f"user-{i % 10}", async_mode=side == "async")
            samples[side].append((time.perf_counter() - start) * 1000)
    return samples


async def _drain(url: str, embedder: str, processes: int, jobs: int, rng: random.Random) -> float:
    namespace = f"drain{processes}"
    env = {**os.environ, "OPENMEM_PROGRESS": "never"}
    workers = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "openmem.cli",
            "worker",
            "--url",
            url,
            "--workers",
            "1",
            "-o",
            f"embedder={embedder}",
            "-o",
            "ingest_poll_interval=0.05",
            env=env,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(processes)
    ]
    try:
        for proc in workers:  # ready once it says so (model loaded, listening)
            assert proc.stderr is not None
            while True:
                line = await asyncio.wait_for(proc.stderr.readline(), 300)
                if not line:
                    raise RuntimeError("an openmem worker exited before it was ready")
                if b"draining" in line:
                    break
        async with AsyncMemory(
            provider="postgres", url=url, embedder=embedder, namespace=namespace,
            ingest_workers=0, pool_max_size=4,
        ) as mem:  # fmt: skip
            start = time.perf_counter()
            queued = []
            for first in range(0, jobs, 50):
                queued += await asyncio.gather(
                    *(
                        mem.add(sentence(rng), user_id="drainer", async_mode=True)
                        for _ in range(first, min(first + 50, jobs))
                    )
                )
            await mem.wait_for_ingest(
                [r.event_id for r in queued if r.event_id], user_id="drainer", timeout=1800
            )
            return jobs / (time.perf_counter() - start)
    finally:
        for proc in workers:
            if proc.returncode is None:
                proc.terminate()
        for proc in workers:
            await proc.wait()


async def main() -> None:
    args = _args()
    adds, jobs = (150, 300) if args.quick else (1000, 1500)
    rng = random.Random(7)
    root = Path(tempfile.mkdtemp(prefix="openmem-bench-async-"))
    url, server = start_server(root)
    try:
        async with AsyncMemory(
            provider="postgres", url=url, embedder=args.embedder, namespace="latency",
            ingest_workers=0, pool_max_size=4,
        ) as mem:  # fmt: skip
            # Warm up both paths (model load, plans, caches) before measuring.
            await _latencies(mem, 20, rng)
            samples = await _latencies(mem, adds, rng)
        drain = {str(k): await _drain(url, args.embedder, k, jobs, rng) for k in (1, 2, 4)}
    finally:
        if server is not None:
            server.cleanup()
        shutil.rmtree(root, ignore_errors=True)

    p50 = {side: percentile(values, 50) for side, values in samples.items()}
    p99 = {side: percentile(values, 99) for side, values in samples.items()}
    ratio = p50["sync"] / p50["async"]
    result = {
        "embedder": args.embedder,
        "adds_per_side": adds,
        "ack_ms": {"async_p50": p50["async"], "async_p99": p99["async"]},
        "sync_ms": {"p50": p50["sync"], "p99": p99["sync"]},
        "sync_over_async_p50": round(ratio, 2),
        "drain_jobs": jobs,
        "drain_memories_per_s": {k: round(v, 1) for k, v in drain.items()},
    }
    table = [
        ("async add ack p50 / p99 (ms)", f"{p50['async']:.2f} / {p99['async']:.2f}", ""),
        ("sync add p50 / p99 (ms)", f"{p50['sync']:.2f} / {p99['sync']:.2f}", ""),
        ("sync p50 / async p50", f"{ratio:.1f}x", ">= 3x"),
        *(
            (f"drain, {k} worker process(es) (memories/s)", f"{v:.0f}", "")
            for k, v in drain.items()
        ),
    ]
    write_results(args.out, "async_ingest", result, table, args.quick)


if __name__ == "__main__":
    asyncio.run(main())
