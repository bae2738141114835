"""``examples/langgraph_agent.py`` runs as written and remembers across threads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "langgraph_agent.py"


def test_the_second_thread_recalls_what_the_first_was_told(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLE)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"PATH": "", "OPENMEM_DATA_DIR": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1] == (
        "[friday/alice] what do I drink every morning? -> "
        "You told me: I drink green tea every morning"
    )
    assert lines[2].endswith("I don't know that yet.")
