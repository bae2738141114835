"""The shared conformance suite against the Postgres provider (real PostgreSQL + pgvector)."""

from __future__ import annotations

import pytest
from openmem_conformance import ProviderConformance
from openmem_postgres import PostgresProvider


class TestPostgresConformance(ProviderConformance):
    """Every REQUIRED, OPTIONAL, ROBUSTNESS and HONESTY check of openmem-conformance."""

    @pytest.fixture
    def provider(self, postgres_url: str) -> PostgresProvider:
        """A fresh, unopened provider; the suite gives it a unique namespace."""
        return PostgresProvider(embedder="hashing", url=postgres_url, pool_max_size=4)
