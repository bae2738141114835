"""The whole conformance suite through the wire: passthrough -> `openmem serve` -> provider.

The server is `openmem serve` in a process of its own on a free loopback port (no auth; the
suite's namespaces travel as ``X-OMP-Namespace``), shared by the tests of a class; each test
gets a fresh, unopened ``PassthroughProvider`` as the suite requires. A server on a thread of
this process would share its GIL and descriptors, so the suite's cancellation timing and
leak checks would measure the server as well as the passthrough.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from openmem_conformance import ProviderConformance

from openmem.passthrough import PassthroughProvider

from .serve_process import openmem_serve


@pytest.fixture(scope="class")
def inmemory_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of `openmem serve` over the in-memory provider."""
    with openmem_serve("inmemory", tmp_path_factory.mktemp("serve-inmemory")) as url:
        yield url


@pytest.fixture(scope="class")
def postgres_server(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of `openmem serve` over the Postgres provider (real PostgreSQL + pgvector)."""
    options = {"url": postgres_url, "embedder": "hashing", "pool_max_size": "8"}
    data = tmp_path_factory.mktemp("serve-postgres")
    with openmem_serve("postgres", data, options=options) as url:
        yield url


class TestPassthroughToInMemory(ProviderConformance):
    """Every check, passthrough -> server -> in-memory provider."""

    @pytest.fixture
    def provider(self, inmemory_server: str) -> PassthroughProvider:
        """A fresh, unopened passthrough provider."""
        return PassthroughProvider(base_url=inmemory_server, retries=0)


class TestPassthroughToPostgres(ProviderConformance):
    """Every check, passthrough -> server -> Postgres provider."""

    @pytest.fixture
    def provider(self, postgres_server: str) -> PassthroughProvider:
        """A fresh, unopened passthrough provider."""
        return PassthroughProvider(base_url=postgres_server, retries=0)
