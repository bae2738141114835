"""The reference OMP SDK 0.5.0 in its own virtual environment, and its server.

The reference distribution is also named ``openmem``, so it never enters the project's
environment: ``make reference-env`` builds ``.venv-reference`` from
``../shared/reference/omp-sdk-0.5.0`` (the fixture runs it when the environment is missing,
so these tests never skip for want of it).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..server.conftest import free_port
from ..server.serve_process import serving

ROOT = Path(__file__).resolve().parents[2]
REFERENCE_ENV = ROOT / ".venv-reference"


@pytest.fixture(scope="session")
def reference_env() -> Path:
    """``.venv-reference``, built by ``make reference-env`` when it is not there yet."""
    if not (REFERENCE_ENV / ".built").exists():
        subprocess.run(["make", "reference-env"], cwd=ROOT, check=True, timeout=600)
    return REFERENCE_ENV


@pytest.fixture
def reference_server(reference_env: Path, postgres_database_url: str) -> Iterator[str]:
    """The URL of the reference ``omp-server`` over a fresh PostgreSQL database."""
    port = free_port()
    command = [
        str(reference_env / "bin" / "omp-server"),
        "--provider",
        "postgres",
        "--url",
        postgres_database_url,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    with serving(command, port, name="omp-server", stdout=subprocess.DEVNULL) as url:
        yield url
