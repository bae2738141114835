"""mem0's own inference behind add(messages=..., infer=True), with mem0's LLM pointed at a
FAKE chat-completions server (openmem.llm.fake): the conversation goes to mem0, not to
openmem's pipeline, and the memories mem0 extracted come back as records."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openmem_mem0 import Mem0Provider

from openmem import AsyncMemory
from openmem.errors import UnsupportedCapabilityError
from openmem.llm.fake import FakeChatServer, FakeReply

CONVERSATION = [
    {"role": "user", "content": "Hi! I live in Lisbon."},
    {"role": "assistant", "content": "Nice!"},
]


def mem0_extraction(body: dict[str, Any]) -> FakeReply:
    """mem0 2.x asks for ``{"memory": [{"text": ...}]}`` in one extraction call."""
    return FakeReply.json({"memory": [{"text": "Lives in Lisbon"}]})


@pytest.fixture
def mem0_llm() -> Iterator[FakeChatServer]:
    with FakeChatServer(mem0_extraction) as server:
        yield server


async def test_mem0_infers_with_its_own_llm(tmp_path: Path, mem0_llm: FakeChatServer) -> None:
    provider = Mem0Provider(
        data_dir=str(tmp_path),
        embedder_dim=64,
        llm={
            "provider": "openai",
            "config": {"api_key": "sk-fake", "openai_base_url": mem0_llm.url, "model": "fake"},
        },
    )
    async with AsyncMemory(provider) as mem:
        assert (await mem.capabilities()).features.infer == "backend"
        records = await mem.add(messages=CONVERSATION, user_id="alice", infer=True, scope="me")
        assert [r.content for r in records] == ["Lives in Lisbon"]
        assert records[0].scope == "me"
        assert mem0_llm.requests, "mem0 did not ask its LLM"
        stored = await mem.get(records[0].id, user_id="alice")
        assert stored.content == "Lives in Lisbon"
        assert not (await mem.list("bob")).items


async def test_mem0_without_an_llm_declares_no_inference(tmp_path: Path) -> None:
    async with AsyncMemory(Mem0Provider(data_dir=str(tmp_path), embedder_dim=64)) as mem:
        assert (await mem.capabilities()).features.infer == "none"
        with pytest.raises(UnsupportedCapabilityError):
            await mem.add(messages=CONVERSATION, user_id="alice", infer=True)
