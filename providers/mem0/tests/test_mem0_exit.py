"""A process that used the mem0 provider exits promptly (no telemetry stall at exit) and
writes nothing outside its data dir."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

SCRIPT = """
import asyncio, sys
from openmem.models import MemoryInput, SearchQuery
from openmem.provider import Caller
from openmem_mem0 import Mem0Provider

async def main():
    provider = Mem0Provider(data_dir=sys.argv[1], embedder_dim=64)
    await provider.open()
    caller = Caller("ns", "u1")
    await provider.add(caller, MemoryInput(content="exit quickly", user_id="u1"))
    await provider.search(caller, SearchQuery(query="exit"))
    await provider.close()

asyncio.run(main())
"""


def test_process_using_the_provider_exits_promptly(tmp_path: Path) -> None:
    env_free = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "NO_PROXY": "*"}
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    t0 = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "data")],
        cwd=workdir,
        env=env_free,
        capture_output=True,
        timeout=60,
        check=False,
    )
    elapsed = time.monotonic() - t0
    print(f"mem0 provider process wall time: {elapsed:.2f} s")
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert elapsed < 10.0
    assert not (tmp_path / ".mem0").exists(), "mem0 wrote outside the data dir"
    assert list(workdir.iterdir()) == [], "mem0 wrote into the current directory"
