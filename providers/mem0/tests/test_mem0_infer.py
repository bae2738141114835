"""mem0's own inference behind add(messages=..., infer=True): the shared
``BackendInferenceTests``, with the replies mem0 2.x expects from its LLM."""

from __future__ import annotations

from typing import Any

from openmem_mem0 import Mem0Provider

from openmem.llm.fake import FakeReply
from openmem.translation.testing import BackendInferenceTests


class TestMem0Inference(BackendInferenceTests):
    provider_class = Mem0Provider

    @staticmethod
    def chat_reply(body: dict[str, Any]) -> FakeReply:
        """mem0 2.x asks for ``{"memory": [{"text": ...}]}`` in one extraction call."""
        return FakeReply.json({"memory": [{"text": "Lives in Lisbon"}]})
