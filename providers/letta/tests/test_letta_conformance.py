"""The conformance suite against Letta, through the official client, on a LOCAL CONTRACT FAKE.

Letta cloud cannot be reached from here: ``openmem_letta.fake.LettaFake`` reproduces its
wire format and ``AsyncLetta`` talks to it unmodified, in process (``httpx.ASGITransport``).
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
from openmem_letta import LettaProvider
from openmem_letta.fake import LettaFake


class TestLettaConformance(ProviderConformance):
    """Letta must pass every REQUIRED, ROBUSTNESS and HONESTY check at the level it declares."""

    budget_ms = 10.0

    @pytest.fixture
    async def provider(self) -> AsyncIterator[LettaProvider]:
        fake = LettaFake(latency=0.002)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(fake.asgi), base_url="http://letta.fake"
        ) as http:
            yield LettaProvider(
                api_key=fake.api_key, base_url="http://letta.fake", http_client=http
            )


def test_the_conformance_cli_reaches_native_against_the_served_fake(tmp_path: Path) -> None:
    """``openmem conformance --provider letta``, over real HTTP, as an operator runs it."""
    fake = LettaFake()
    report = tmp_path / "report.json"
    with fake.serve() as base_url:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "openmem.cli",
                "conformance",
                "--provider",
                "letta",
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
