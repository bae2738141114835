"""The README quickstart, run exactly as written: its semantic question finds its memory first.

It runs in a fresh interpreter with the defaults (embedded PostgreSQL, the ONNX MiniLM
embedder), offline, in a temporary data dir, as a user would after ``make bootstrap``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def quickstart_code() -> str:
    section = README.read_text().split("## Quickstart", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match, "the README quickstart has no python block"
    return match.group(1)


def test_the_readme_quickstart_finds_the_espresso_memory_first(tmp_path: Path) -> None:
    code = quickstart_code()
    assert 'mem.search("what beverage does she like?", "ada")' in code
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"OPENMEM_EMBEDDER", "OPENMEM_PROVIDER", "OPENMEM_URL"}
    }
    env.update(OPENMEM_DATA_DIR=str(tmp_path), HF_HUB_OFFLINE="1")
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "Ada loves espresso in the morning"
    assert "Porto" in result.stdout  # the context block of the second question
