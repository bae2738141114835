"""powermem's own inference behind add(messages=..., infer=True): the shared
``BackendInferenceTests``, with the replies to powermem's extraction and update prompts."""

from __future__ import annotations

import json
from typing import Any

from openmem_powermem import PowermemProvider

from openmem.llm.fake import FakeReply
from openmem.translation.testing import BackendInferenceTests


class TestPowermemInference(BackendInferenceTests):
    provider_class = PowermemProvider

    @staticmethod
    def chat_reply(body: dict[str, Any]) -> FakeReply:
        """Facts for the extraction prompt, one ADD for the memory-update prompt."""
        text = json.dumps(body.get("messages", []))
        if '\\"memory\\"' in text or "event" in text:
            memory = [{"id": "0", "text": "Lives in Lisbon", "event": "ADD"}]
            return FakeReply.json({"memory": memory})
        return FakeReply.json({"facts": ["Lives in Lisbon"]})
