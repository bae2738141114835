"""The conformance suite against powermem (SQLite, hashing embedder), offline."""

from __future__ import annotations

from pathlib import Path

import pytest
from openmem_conformance import ProviderConformance
from openmem_powermem import PowermemProvider


class TestPowermemConformance(ProviderConformance):
    """powermem must pass every REQUIRED and ROBUSTNESS check at the level it declares."""

    budget_ms = 3.0

    @pytest.fixture
    def provider(self, tmp_path: Path) -> PowermemProvider:
        return PowermemProvider(
            embedder="hashing", data_dir=str(tmp_path / "powermem"), embedder_dim=128
        )
