"""powermem's own inference behind add(messages=..., infer=True), with powermem's LLM pointed
at a FAKE chat-completions server (openmem.llm.fake): powermem runs its own extraction and
update prompts; the memories it reports added come back as records."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openmem_powermem import PowermemProvider

from openmem import AsyncMemory
from openmem.llm.fake import FakeChatServer, FakeReply

CONVERSATION = [{"role": "user", "content": "Hi! I live in Lisbon."}]


def powermem_prompts(body: dict[str, Any]) -> FakeReply:
    """Facts for the extraction prompt, one ADD for the memory-update prompt."""
    text = json.dumps(body.get("messages", []))
    if '\\"memory\\"' in text or "event" in text:
        return FakeReply.json({"memory": [{"id": "0", "text": "Lives in Lisbon", "event": "ADD"}]})
    return FakeReply.json({"facts": ["Lives in Lisbon"]})


@pytest.fixture
def powermem_llm() -> Iterator[FakeChatServer]:
    with FakeChatServer(powermem_prompts) as server:
        yield server


async def test_powermem_infers_with_its_own_llm(
    tmp_path: Path, powermem_llm: FakeChatServer
) -> None:
    provider = PowermemProvider(
        data_dir=str(tmp_path),
        embedder_dim=64,
        llm={
            "provider": "openai",
            "config": {"api_key": "sk-fake", "openai_base_url": powermem_llm.url, "model": "fake"},
        },
    )
    async with AsyncMemory(provider) as mem:
        assert (await mem.capabilities()).features.infer == "backend"
        records = await mem.add(messages=CONVERSATION, user_id="alice", infer=True)
        assert [r.content for r in records] == ["Lives in Lisbon"]
        assert powermem_llm.requests, "powermem did not ask its LLM"
        assert (await mem.get(records[0].id, user_id="alice")).content == "Lives in Lisbon"
