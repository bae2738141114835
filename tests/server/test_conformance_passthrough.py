"""The whole conformance suite through the wire: passthrough -> `openmem serve` -> provider.

The server is a real uvicorn on a free loopback port (no auth; the suite's namespaces travel
as ``X-OMP-Namespace``), shared by the tests of a class; each test gets a fresh, unopened
``PassthroughProvider`` as the suite requires.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from openmem_conformance import ProviderConformance

from openmem.inmemory import InMemoryProvider
from openmem.passthrough import PassthroughProvider
from openmem.provider import Provider
from openmem.server import ServerSettings, create_app

from .conftest import LiveServer, live_server


def _serve(backend: Provider[Any]) -> Iterator[LiveServer]:
    app = create_app(ServerSettings(auth=False), provider=backend)
    with live_server(app) as server:
        yield server


@pytest.fixture(scope="class")
def inmemory_server() -> Iterator[LiveServer]:
    """`openmem serve` over the in-memory provider."""
    yield from _serve(InMemoryProvider())


@pytest.fixture(scope="class")
def postgres_server(postgres_url: str) -> Iterator[LiveServer]:
    """`openmem serve` over the Postgres provider (real PostgreSQL + pgvector)."""
    from openmem_postgres import PostgresProvider

    yield from _serve(PostgresProvider(embedder="hashing", url=postgres_url, pool_max_size=8))


class TestPassthroughToInMemory(ProviderConformance):
    """Every check, passthrough -> server -> in-memory provider."""

    @pytest.fixture
    def provider(self, inmemory_server: LiveServer) -> PassthroughProvider:
        """A fresh, unopened passthrough provider."""
        return PassthroughProvider(base_url=inmemory_server.url, retries=0)


class TestPassthroughToPostgres(ProviderConformance):
    """Every check, passthrough -> server -> Postgres provider."""

    @pytest.fixture
    def provider(self, postgres_server: LiveServer) -> PassthroughProvider:
        """A fresh, unopened passthrough provider."""
        return PassthroughProvider(base_url=postgres_server.url, retries=0)
