"""The conformance suite against Supermemory, through the official client, on a LOCAL CONTRACT FAKE.

Supermemory cannot be reached from here: ``openmem_supermemory.fake.SupermemoryFake`` reproduces its
wire format and ``AsyncSupermemory`` talks to it unmodified, in process (``httpx.ASGITransport``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from openmem_conformance import ProviderConformance
from openmem_supermemory import SupermemoryProvider
from openmem_supermemory.fake import SupermemoryFake


class TestSupermemoryConformance(ProviderConformance):
    """Supermemory passes every REQUIRED, ROBUSTNESS and HONESTY check at its declared level."""

    budget_ms = 10.0

    @pytest.fixture
    async def provider(self) -> AsyncIterator[SupermemoryProvider]:
        fake = SupermemoryFake(latency=0.002)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(fake.asgi), base_url="http://supermemory.fake"
        ) as http:
            yield SupermemoryProvider(
                api_key=fake.api_key, base_url="http://supermemory.fake", http_client=http
            )


def test_the_conformance_cli_reaches_native_against_the_served_fake(tmp_path: Path) -> None:
    """``openmem conformance --provider supermemory``, over real HTTP, as an operator runs it."""
    fake = SupermemoryFake(latency=0.002)
    report = tmp_path / "report.json"
    with fake.serve() as base_url:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "openmem.cli",
                "conformance",
                "--provider",
                "supermemory",
                "-o",
                f"base_url={base_url}",
                "-o",
                f"api_key={fake.api_key}",
                "--require-level",
                "native",
                "--report",
                str(report),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "OPENMEM_DATA_DIR": str(tmp_path)},
            check=False,
        )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(report.read_text())
    assert result["level"] == "Native"
    failed = [r["name"] for r in result["results"] if r["outcome"] not in ("passed", "skipped")]
    assert failed == []
    assert fake.api_key not in done.stdout + done.stderr
