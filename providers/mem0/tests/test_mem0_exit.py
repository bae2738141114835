"""A process that used the mem0 provider exits promptly (no telemetry stall at exit) and
writes nothing outside its data dir."""

from __future__ import annotations

from pathlib import Path

from openmem_mem0 import Mem0Provider

from openmem.translation.testing import run_in_a_process


def test_process_using_the_provider_exits_promptly(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "NO_PROXY": "*"}
    close_seconds, exit_seconds = run_in_a_process(tmp_path, Mem0Provider, env)
    # A stall waits for a network timeout (tens of seconds); a loaded machine needs < 1 s.
    assert close_seconds < 5.0
    assert exit_seconds < 5.0
    assert not (tmp_path / ".mem0").exists(), "mem0 wrote outside the data dir"
