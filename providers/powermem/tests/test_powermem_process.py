"""A process using the powermem provider exits promptly and writes only under its data dir."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

SCRIPT = """
import asyncio, sys
from openmem.models import MemoryInput, SearchQuery
from openmem.provider import Caller
from openmem_powermem import PowermemProvider

async def main():
    provider = PowermemProvider(data_dir=sys.argv[1], embedder_dim=64)
    await provider.open()
    caller = Caller("ns", "u1")
    await provider.add(caller, MemoryInput(content="exit quickly", user_id="u1"))
    await provider.search(caller, SearchQuery(query="exit"))
    await provider.close()

asyncio.run(main())
"""


def test_process_exits_promptly_and_writes_only_its_data_dir(tmp_path: Path) -> None:
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    t0 = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "data")],
        cwd=workdir,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path / "home")},
        capture_output=True,
        timeout=60,
        check=False,
    )
    elapsed = time.monotonic() - t0
    print(f"powermem provider process wall time: {elapsed:.2f} s")
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert elapsed < 10.0
    assert list(workdir.iterdir()) == [], "powermem wrote into the current directory"
    assert not (tmp_path / "home").exists(), "powermem wrote into the home directory"
