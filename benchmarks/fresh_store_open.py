"""Five processes opening one fresh pgvector store through openmem-mem0 at once.

mem0 creates the ``vector`` extension and its tables lazily and without a lock; five
processes doing that at once used to fail 62 of 600 adds with ``UniqueViolation`` on
``CREATE EXTENSION vector`` or on the collection's row type. openmem-mem0 creates them at
open under an advisory lock. Each round makes a database without the extension; five
processes import everything, wait at a barrier, then open the same collection together and
add 120 memories each (600 in all, all at once within a process).

    uv run python benchmarks/fresh_store_open.py [--quick] [--rounds N]

Uses ``OPENMEM_BENCH_PG_URL`` when set, else an embedded server in a temporary directory.
Target: no open and no add fails, in every round.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from openmem_postgres.bench import start_server

RESULTS = Path(__file__).parent / "results"
PROCESSES = 5
ADDS = 120


async def child(url: str, index: int, data_dir: str) -> dict[str, Any]:
    """One process: ready after imports, then (on ``go``) open and add ``ADDS`` memories."""
    from openmem_mem0 import Mem0Provider

    from openmem.models import MemoryInput
    from openmem.provider import Caller

    provider = Mem0Provider(
        embedder="hashing",
        embedder_dim=64,
        vector_store="pgvector",
        url=url,
        collection="shared",
        data_dir=data_dir,
    )
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    errors: list[str] = []
    try:
        await provider.open()
    except Exception as exc:
        return {"opened": False, "added": 0, "errors": [f"open: {exc!r}"[:300]]}
    caller = Caller("bench", f"p{index}")
    adds = [
        provider.add(caller, MemoryInput(content=f"fact {index} {i}", user_id=f"p{index}"))
        for i in range(ADDS)
    ]
    results = await asyncio.gather(*adds, return_exceptions=True)
    errors += [f"add: {r!r}"[:300] for r in results if isinstance(r, BaseException)]
    await provider.close()
    added = sum(not isinstance(r, BaseException) for r in results)
    return {"opened": True, "added": added, "errors": errors}


async def one_round(admin_url: str, tmp: Path) -> dict[str, Any]:
    """A fresh database, five processes at its store at once; what failed."""
    import asyncpg

    name = f"m0open_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))
    env = {**os.environ, "OPENMEM_PROGRESS": "never"}
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--child",
            url,
            str(i),
            str(tmp / f"{name}-{i}"),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=env,
        )
        for i in range(PROCESSES)
    ]
    try:
        for proc in procs:  # the barrier: every process has imported everything
            assert proc.stdout is not None
            line = await asyncio.wait_for(proc.stdout.readline(), 300)
            if line.strip() != b"ready":
                raise RuntimeError(f"a child did not start: {line!r}")
        started = time.perf_counter()
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write(b"go\n")
            await proc.stdin.drain()
        outputs = [await asyncio.wait_for(proc.communicate(), 300) for proc in procs]
        seconds = time.perf_counter() - started
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
        admin = await asyncpg.connect(admin_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
    reports = [json.loads(out.decode().strip().splitlines()[-1]) for out, _ in outputs]
    return {
        "opened": sum(r["opened"] for r in reports),
        "added": sum(r["added"] for r in reports),
        "failed_adds": PROCESSES * ADDS - sum(r["added"] for r in reports),
        "errors": [e for r in reports for e in r["errors"]][:10],
        "seconds": round(seconds, 2),
    }


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        url, index, data_dir = sys.argv[2], int(sys.argv[3]), sys.argv[4]
        print(json.dumps(asyncio.run(child(url, index, data_dir))), flush=True)
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rounds = 1 if args.quick else args.rounds
    with tempfile.TemporaryDirectory() as tmp:
        url, server = start_server(Path(tmp))
        try:
            results = [asyncio.run(one_round(url, Path(tmp))) for _ in range(rounds)]
        finally:
            if server is not None:
                server.cleanup()
    report = {
        "benchmark": "fresh_store_open",
        "processes": PROCESSES,
        "adds_per_process": ADDS,
        "rounds": results,
        "failed_opens": sum(PROCESSES - r["opened"] for r in results),
        "failed_adds": sum(r["failed_adds"] for r in results),
        "load_average": os.getloadavg(),
    }
    stem = "fresh_store_open_quick" if args.quick else "fresh_store_open"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{stem}.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [
        f"# {PROCESSES} processes opening one fresh pgvector store at once ({rounds} rounds)",
        "",
        "| round | processes opened | adds stored | adds failed | seconds |",
        "|---|---|---|---|---|",
        *(
            f"| {i + 1} | {r['opened']}/{PROCESSES} | {r['added']}/{PROCESSES * ADDS} "
            f"| {r['failed_adds']} | {r['seconds']} |"
            for i, r in enumerate(results)
        ),
        "",
        f"Target: no failure (before the advisory lock: 62 of 600 adds failed). "
        f"Load average at the end: {report['load_average']}.",
        "",
    ]
    (RESULTS / f"{stem}.md").write_text("\n".join(lines))
    print(json.dumps({k: report[k] for k in ("failed_opens", "failed_adds")}))


if __name__ == "__main__":
    main()
