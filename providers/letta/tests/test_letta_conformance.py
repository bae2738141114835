"""The conformance suite against Letta, through the official client, on a LOCAL CONTRACT FAKE.

Letta cloud cannot be reached from here: ``openmem_letta.fake.LettaFake`` reproduces its
wire format and ``AsyncLetta`` talks to it unmodified, in process (``httpx.ASGITransport``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

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
        fake = LettaFake()
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(fake.asgi), base_url="http://letta.fake"
        ) as http:
            yield LettaProvider(api_key=fake.api_key, base_url="http://letta.fake", http_client=http)
