"""The conformance suite against the in-memory reference provider: it must pass whole."""

from __future__ import annotations

import pytest
from openmem_conformance import ConformanceLevel, ProviderConformance, validate

from openmem.inmemory import InMemoryProvider


class TestInMemoryConformance(ProviderConformance):
    """Every standard test against ``InMemoryProvider``."""

    @pytest.fixture
    async def provider(self) -> InMemoryProvider:
        return InMemoryProvider()


async def test_runner_rates_the_in_memory_provider_native() -> None:
    report = await validate(InMemoryProvider)
    failures = [(r.name, r.message) for r in report.failed()]
    assert not failures
    assert report.level() is ConformanceLevel.NATIVE
