"""openmem vs the reference OMP SDK 0.5.0 vs mem0 ``AsyncMemory``, on one PostgreSQL.

One peer-neutral harness (``peers_worker.py``) drives each SDK's own async API in its own
process: openmem's postgres provider, the reference SDK (``make reference-env`` builds it into
``.venv-reference``; its distribution is also named ``openmem``) and mem0 ``AsyncMemory``
(``infer=False``, its pgvector store). Same PostgreSQL server (a fresh database per SDK and
round), same texts, users, queries, embedder (a cheap deterministic feature hash, dimension 64
like the reference's default, 384 reported beside it) and each SDK's default pool for a
URL-configured store. Searches are semantic for every SDK (the peers have no other mode).

Rounds are interleaved, and within a round so are the levels: each SDK runs a concurrency level
in a process of its own, on a fresh database, before any SDK runs the next level (the order
rotating), so the runs compared ran seconds apart. The ratios are taken per round and reported
as median [min-max], because the machine may be shared and its speed drifts.

    uv run --no-sync python benchmarks/peers.py [--quick] [--rounds N]

``--quick`` (under 90 s): one round, concurrency 8 and 32, 400 operations each, one user with
1,000 memories. Full: three rounds at concurrency 1, 8, 32, 128 with 2,000 operations each
(``--ops``), one user with 10,000 memories (``--scale``), then one round at dimension 384.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
from openmem_postgres.bench import BENCH_URL_ENV, WORDS, sentence, write_results
from openmem_postgres.embedded import EmbeddedPostgres

ROOT = Path(__file__).resolve().parents[1]
WORKER = Path(__file__).with_name("peers_worker.py")
REFERENCE_PYTHON = ROOT / ".venv-reference" / "bin" / "python"
SDKS = ("openmem", "reference", "mem0")
USERS = 20


@asynccontextmanager
async def server() -> AsyncIterator[str]:
    """A PostgreSQL URL: ``OPENMEM_BENCH_PG_URL``, else an embedded server in a temp dir."""
    url = os.environ.get(BENCH_URL_ENV)
    if url is not None:
        yield url
        return
    data_dir = Path(tempfile.mkdtemp(prefix="openmem-peers-"))
    embedded = EmbeddedPostgres.for_data_dir(data_dir)
    try:
        yield await embedded.acquire()
    finally:
        await embedded.release()
        shutil.rmtree(data_dir, ignore_errors=True)


async def fresh_database(url: str, name: str) -> str:
    """Create database ``name`` on the server of ``url`` (dropped first) and return its URL."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    base, _, query = url.partition("?")
    head = base.rsplit("/", 1)[0]
    return f"{head}/{name}" + (f"?{query}" if query else "")


async def run_worker(sdk: str, job: dict[str, Any], work_dir: Path) -> dict[str, Any]:
    """One SDK's run in its own process; its last stdout line is the result."""
    python = str(REFERENCE_PYTHON) if sdk == "reference" else sys.executable
    if sdk == "reference" and not REFERENCE_PYTHON.exists():
        raise SystemExit("the reference SDK is not built: run `make reference-env` first")
    job_file = work_dir / f"{sdk}.json"
    job_file.write_text(json.dumps({**job, "sdk": sdk, "data_dir": str(work_dir)}))
    env = {**os.environ, "OPENMEM_DATA_DIR": str(work_dir), "MEM0_TELEMETRY": "False"}
    proc = await asyncio.create_subprocess_exec(
        python,
        str(WORKER),
        str(job_file),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=work_dir,
    )
    stdout, stderr = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"{sdk} worker failed:\n{stderr.decode()[-3000:]}")
    warnings = stderr.decode().strip()
    if "errors, first:" in warnings:
        print(f"{sdk}: {warnings[-500:]}", file=sys.stderr)
    return dict(json.loads(stdout.decode().strip().splitlines()[-1]))


def workload(n: int, scale: int, queries: int, seed: int) -> dict[str, Any]:
    """Texts (unique: each ends with its number), queries and the one-user set."""
    rng = random.Random(seed)
    return {
        "texts": [f"{sentence(rng)} {i}" for i in range(n)],
        "queries": [" ".join(rng.sample(WORDS, 3)) for _ in range(200)],
        "users": USERS,
        "scale_texts": [f"{sentence(rng)} note {i}" for i in range(scale)],
        "scale_queries": [" ".join(rng.sample(WORDS, 3)) for _ in range(queries)],
    }


def spread(values: list[float]) -> dict[str, float]:
    """Median and range of per-round values."""
    return {
        "median": round(statistics.median(values), 2),
        "min": round(min(values), 2),
        "max": round(max(values), 2),
    }


def fmt(s: dict[str, float], unit: str = "") -> str:
    return f"{s['median']:,}{unit} [{s['min']:,}-{s['max']:,}]"


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    quick = args.quick
    concurrency = [8, 32] if quick else [1, 8, 32, 128]
    n = 400 if quick else args.ops
    scale = 1000 if quick else args.scale
    rounds = 1 if quick else args.rounds
    dims = [64] if quick else [64, 384]
    runs: dict[int, list[dict[str, dict[str, Any]]]] = {dim: [] for dim in dims}
    work_root = Path(tempfile.mkdtemp(prefix="openmem-peers-work-"))
    started = time.perf_counter()
    try:
        async with server() as url:
            for dim in dims:
                for r in range(rounds if dim == 64 else 1):
                    data = workload(n, scale if r == 0 else 0, 50 if quick else 100, seed=r)
                    results: dict[str, dict[str, Any]] = {sdk: {"throughput": {}} for sdk in SDKS}
                    # Every SDK runs a level before any runs the next (the order rotating),
                    # so the SDKs compared at a level ran seconds apart, not minutes: this
                    # machine's speed drifts, the same code's CPU per search 0.17 to 0.27 ms
                    # from one minute to the next (benchmarks/results/profile.md).
                    for step, level in enumerate(concurrency):
                        job = {"dim": dim, "concurrency": [level], **data, "scale_texts": []}
                        for sdk in _rotated(r + step):
                            name = f"peers_d{dim}_r{r}_c{level}_{sdk}"
                            done = await _run_on_fresh_database(url, name, sdk, job, work_root)
                            results[sdk]["throughput"].update(done["throughput"])
                            print(f"dim {dim} round {r} c={level} {sdk}: done", file=sys.stderr)
                    if data["scale_texts"]:
                        job = {"dim": dim, "concurrency": [], **data}
                        for sdk in _rotated(r):
                            name = f"peers_d{dim}_r{r}_one_user_{sdk}"
                            done = await _run_on_fresh_database(url, name, sdk, job, work_root)
                            results[sdk]["one_user"] = done["one_user"]
                            print(f"dim {dim} round {r} one user {sdk}: done", file=sys.stderr)
                    runs[dim].append(results)
    finally:
        shutil.rmtree(work_root, ignore_errors=True)
    settings = {"ops": n, "one_user": scale, "rounds": rounds, "concurrency": concurrency}
    return {"runs": runs, "seconds": round(time.perf_counter() - started, 1), "settings": settings}


def _rotated(turn: int) -> tuple[str, ...]:
    """The SDKs in the order of this turn: each goes first every third turn."""
    return SDKS[turn % 3 :] + SDKS[: turn % 3]


async def _run_on_fresh_database(
    url: str, name: str, sdk: str, job: dict[str, Any], work_root: Path
) -> dict[str, Any]:
    """``sdk``'s run of ``job`` on a new database ``name`` of ``url`` (dropped after)."""
    work_dir = work_root / name
    work_dir.mkdir()
    database_url = await fresh_database(url, name)
    try:
        return await run_worker(sdk, {**job, "url": database_url}, work_dir)
    finally:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        finally:
            await conn.close()


def summarise(measured: dict[str, Any], quick: bool) -> tuple[dict[str, Any], list[Any]]:
    runs: dict[int, list[dict[str, dict[str, Any]]]] = measured["runs"]
    result: dict[str, Any] = {
        "seconds": measured["seconds"],
        "machine_load": os.getloadavg()[0],
        "settings": measured["settings"],
    }
    table: list[tuple[str, str, str]] = []
    for dim, rounds in runs.items():
        levels = list(rounds[0]["openmem"]["throughput"])
        for verb in ("add", "search"):
            for level in levels:
                per_sdk = {
                    sdk: spread([r[sdk]["throughput"][level][f"{verb}_ops_s"] for r in rounds])
                    for sdk in SDKS
                }
                ratios = {
                    peer: spread(
                        [
                            r["openmem"]["throughput"][level][f"{verb}_ops_s"]
                            / r[peer]["throughput"][level][f"{verb}_ops_s"]
                            for r in rounds
                        ]
                    )
                    for peer in ("reference", "mem0")
                }
                result[f"d{dim}_{verb}_c{level}"] = {"ops_s": per_sdk, "openmem_vs": ratios}
                table.append(
                    (
                        f"dim {dim}, {verb} ops/s, c={level}",
                        " · ".join(f"{sdk} {fmt(per_sdk[sdk])}" for sdk in SDKS),
                        f"openmem/reference {fmt(ratios['reference'], 'x')}, "
                        f"openmem/mem0 {fmt(ratios['mem0'], 'x')}",
                    )
                )
            for level in levels:
                lag = {
                    sdk: spread([r[sdk]["throughput"][level][f"{verb}_lag_p99_ms"] for r in rounds])
                    for sdk in SDKS
                }
                result[f"d{dim}_{verb}_c{level}"]["loop_lag_p99_ms"] = lag
                table.append(
                    (
                        f"dim {dim}, loop lag p99 during {verb}, c={level}",
                        " · ".join(f"{sdk} {fmt(lag[sdk], ' ms')}" for sdk in SDKS),
                        "openmem <= 2 ms at c=32",
                    )
                )
        errors = sum(
            level["errors"]
            for r in rounds
            for sdk in SDKS
            for level in r[sdk]["throughput"].values()
        )
        result[f"d{dim}_errors"] = errors
        scale = {sdk: rounds[0][sdk].get("one_user") for sdk in SDKS}
        if all(scale.values()):
            result[f"d{dim}_one_user"] = scale
            table.append(
                (
                    f"dim {dim}, one user with {scale['openmem']['memories']:,}: search p95 / "
                    "recall@10",
                    " · ".join(
                        f"{sdk} {s['search_p95_ms']} ms / {s['recall_at_10']}"
                        for sdk, s in scale.items()
                        if s is not None
                    ),
                    "openmem p95 <= reference, recall >= 0.95",
                )
            )
    c32 = "d64_{}_c32"
    result["add_c32_vs_reference"] = result[c32.format("add")]["openmem_vs"]["reference"]["median"]
    result["search_c32_vs_reference"] = result[c32.format("search")]["openmem_vs"]["reference"][
        "median"
    ]
    result["add_c32_vs_mem0"] = result[c32.format("add")]["openmem_vs"]["mem0"]["median"]
    result["search_c32_vs_mem0"] = result[c32.format("search")]["openmem_vs"]["mem0"]["median"]
    result["loop_lag_p99_ms"] = max(
        result[c32.format(verb)]["loop_lag_p99_ms"]["openmem"]["median"]
        for verb in ("add", "search")
    )
    return result, table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short run (under 90 s)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (full mode)")
    parser.add_argument("--ops", type=int, default=2000, help="adds (and searches) per level")
    parser.add_argument("--scale", type=int, default=10_000, help="memories of the one user")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    measured = asyncio.run(measure(args))
    result, table = summarise(measured, args.quick)
    # The last line printed is the summary: the ratios first, then the rest.
    headline = {
        key: result[key]
        for key in (
            "add_c32_vs_reference",
            "search_c32_vs_reference",
            "add_c32_vs_mem0",
            "search_c32_vs_mem0",
            "loop_lag_p99_ms",
        )
    }
    write_results(args.out, "peers", {**headline, **result}, table, args.quick)


if __name__ == "__main__":
    main()
