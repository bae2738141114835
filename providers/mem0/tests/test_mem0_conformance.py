"""The conformance suite against mem0 OSS (embedded qdrant, hashing embedder), offline."""

from __future__ import annotations

from pathlib import Path

import pytest
from openmem_conformance import ProviderConformance
from openmem_mem0 import Mem0Provider


class TestMem0Conformance(ProviderConformance):
    """mem0 OSS must pass every REQUIRED and ROBUSTNESS check at the level it declares."""

    budget_ms = 3.0

    @pytest.fixture
    def provider(self, tmp_path: Path) -> Mem0Provider:
        return Mem0Provider(embedder="hashing", data_dir=str(tmp_path / "mem0"), embedder_dim=128)
