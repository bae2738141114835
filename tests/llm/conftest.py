"""Fixtures of the inference tests: a fake chat-completions server and a memory using it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from openmem import AsyncMemory
from openmem.llm import ChatClient
from openmem.llm.fake import FakeChatServer


@pytest.fixture
def fake_llm() -> Iterator[FakeChatServer]:
    """A FAKE chat-completions server on an ephemeral port, scripted by each test."""
    with FakeChatServer() as server:
        yield server


@pytest.fixture
async def client(fake_llm: FakeChatServer) -> AsyncIterator[ChatClient]:
    async with ChatClient(
        base_url=fake_llm.url, model="fake-model", timeout=1.0, max_retries=2
    ) as chat:
        yield chat


@pytest.fixture
async def mem(client: ChatClient) -> AsyncIterator[AsyncMemory]:
    async with AsyncMemory(provider="inmemory", llm=client) as memory:
        yield memory
