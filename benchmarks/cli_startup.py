"""``openmem --help`` against bare Python start-up, measured side by side in one run.

Each round starts ``python -c pass`` and ``python -m openmem.cli --help`` alternately (so
machine load hits both alike) and keeps the difference; the result is the median difference
over the rounds. Target: under 0.5 s more than starting Python (issue 18).

Both run with bytecode caching on (``PYTHONDONTWRITEBYTECODE`` removed, one warm-up round
first), as after ``pip install``, which compiles bytecode; without a cache every start
compiles click and the rest from source.

    uv run python benchmarks/cli_startup.py [--quick]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

from openmem_postgres.bench import parse_args, write_results

TARGET_S = 0.5


CACHED_BYTECODE_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def elapsed(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, env=CACHED_BYTECODE_ENV)
    return time.perf_counter() - start


def main() -> None:
    args = parse_args(__doc__ or "")
    rounds = 5 if args.quick else 20
    bare_runs: list[float] = []
    help_runs: list[float] = []
    elapsed([sys.executable, "-m", "openmem.cli", "--help"])  # warm-up: writes the bytecode
    for _ in range(rounds):
        bare_runs.append(elapsed([sys.executable, "-c", "pass"]))
        help_runs.append(elapsed([sys.executable, "-m", "openmem.cli", "--help"]))
    differences = [h - b for h, b in zip(help_runs, bare_runs, strict=True)]
    extra = statistics.median(differences)
    result = {
        "rounds": rounds,
        "bare_python_s_median": round(statistics.median(bare_runs), 3),
        "openmem_help_s_median": round(statistics.median(help_runs), 3),
        "help_over_bare_s_median": round(extra, 3),
        "target_s": TARGET_S,
        "met": extra < TARGET_S,
    }
    table = [
        ("bare python -c pass (median s)", str(result["bare_python_s_median"]), ""),
        ("openmem --help (median s)", str(result["openmem_help_s_median"]), ""),
        ("help over bare (median s)", str(result["help_over_bare_s_median"]), f"< {TARGET_S}"),
    ]
    write_results(args.out, "cli_startup", result, table, args.quick)
    if not result["met"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
