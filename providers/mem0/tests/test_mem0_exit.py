"""A process that used the mem0 provider exits promptly (no telemetry stall at exit) and
writes nothing outside its data dir."""

from __future__ import annotations

from pathlib import Path

from openmem_mem0 import Mem0Provider

from openmem.translation.testing import run_in_a_process


def test_process_using_the_provider_exits_promptly(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "NO_PROXY": "*"}
    assert run_in_a_process(tmp_path, Mem0Provider, env) < 10.0
    assert not (tmp_path / ".mem0").exists(), "mem0 wrote outside the data dir"
