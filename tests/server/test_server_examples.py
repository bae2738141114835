"""The server examples run: the curl quickstart and the FastAPI app."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import free_port

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.skipif(shutil.which("curl") is None, reason="the quickstart needs curl")
def test_server_quickstart_calls_every_verb(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PROVIDER": "inmemory",
        "PORT": str(free_port()),
        "OPENMEM_DATA_DIR": str(tmp_path),
    }
    result = subprocess.run(
        ["bash", str(EXAMPLES / "server_quickstart.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for expected in (
        '"omp_version":"0.1"',
        '{"results":[',
        '{"entries":[',
        '{"deleted":3}',
        "[HTTP 204]",
        '"code":"not_found"',
        '"code":"unauthorized"',
        '"field":"content"',
        "openmem_http_requests_total",
    ):
        assert expected in out, f"{expected!r} missing from the quickstart output"


def test_fastapi_example_recalls_what_it_was_told() -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "fastapi_app.py")],
        env={**os.environ, "OPENMEM_PROVIDER": "inmemory"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    last_turn = result.stdout.split("> Which editor theme")[1]
    assert "I prefer dark mode in every editor" in last_turn
