"""examples/custom_provider passes the suite through both front ends, as a third party would.

The example is not installed in this environment; the runner test registers its entry
point the way an installed distribution would (a ``.dist-info`` on ``sys.path``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "custom_provider"
TIMEOUT = 240


def _env(*paths: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([*map(str, paths), env.get("PYTHONPATH", "")])
    return env


def test_example_passes_its_pytest_subclass() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly"],
        cwd=EXAMPLE,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert " failed" not in run.stdout
    assert " passed" in run.stdout


def test_example_is_rated_native_by_the_runner_through_its_entry_point(tmp_path: Path) -> None:
    dist = tmp_path / "site" / "openmem_notes-0.1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: openmem-notes\nVersion: 0.1.0\n")
    (dist / "entry_points.txt").write_text(
        "[openmem.providers]\nnotes = openmem_notes:NotesProvider\n"
    )
    report = tmp_path / "report.json"
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            "from openmem.cli import main; main()",
            "conformance",
            "--provider",
            "notes",
            "--report",
            str(report),
            "--require-level",
            "native",
        ],
        env=_env(tmp_path / "site", EXAMPLE),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "conformance level: Native" in run.stdout
    data = json.loads(report.read_text())
    assert data["provider"] == "notes"
    assert data["level"] == "Native"
    assert data["counts"]["required"]["failed"] == 0
    assert data["counts"]["optional"]["skipped"] > 0  # notes declares no OPTIONAL capability
