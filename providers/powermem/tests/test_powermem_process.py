"""A process using the powermem provider exits promptly and writes only under its data dir."""

from __future__ import annotations

from pathlib import Path

from openmem_powermem import PowermemProvider

from openmem.translation.testing import run_in_a_process


def test_process_exits_promptly_and_writes_only_its_data_dir(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home)}
    close_seconds, exit_seconds = run_in_a_process(tmp_path, PowermemProvider, env)
    # A stall waits for a network timeout (tens of seconds); a loaded machine needs < 1 s.
    assert close_seconds < 5.0
    assert exit_seconds < 5.0
    assert not home.exists(), "powermem wrote into the home directory"
