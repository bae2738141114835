"""The quickstart examples run and do what their docstrings say."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run(name: str) -> str:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_async_quickstart_adds_searches_builds_context_and_prints_the_audit_trail() -> None:
    out = run("quickstart.py")
    assert "Prefers dark mode in every editor" in out.split("context")[0]
    assert "[mem_" in out
    assert out.count(" add ") >= 3 or out.count("add      mem_") == 3
    assert "search" in out.split("audit trail")[1]


def test_sync_quickstart_runs() -> None:
    out = run("quickstart_sync.py")
    assert "Prefers tea over coffee" in out
    assert "'update'" in out


def test_letta_example_runs_offline_on_the_contract_fake() -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "letta_backend.py"), "--fake"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "[ui] Prefers dark mode in every editor" in result.stdout.splitlines()[0]
    assert "updated, same id: True: Prefers light mode now" in result.stdout


def test_supermemory_example_runs_offline_on_the_contract_fake() -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "supermemory_backend.py"), "--fake"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "added: queued, queued" in result.stdout
    assert "tagged coding: ['Writes Python with type hints']" in result.stdout
