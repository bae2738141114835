"""Inference: an OpenAI-compatible chat client and the pipeline that turns conversations into
memories (extract facts, find similar memories, decide ADD / UPDATE / DELETE / NONE, apply).

    from openmem.llm import ChatClient
    async with AsyncMemory(provider="postgres", llm=ChatClient(base_url=..., model=...)) as mem:
        await mem.add(messages=[{"role": "user", "content": "I moved to Porto"}],
                      user_id="u1", infer=True)
"""

from openmem.llm.client import ChatClient, ChatMessage, LLMOptions
from openmem.llm.decisions import INFER_METADATA_KEY, Decision, DecisionEvent, Provenance
from openmem.llm.pipeline import InferencePipeline
from openmem.llm.prompts import Prompt, latest_prompt, load_prompt

__all__ = [
    "INFER_METADATA_KEY",
    "ChatClient",
    "ChatMessage",
    "Decision",
    "DecisionEvent",
    "InferencePipeline",
    "LLMOptions",
    "Prompt",
    "Provenance",
    "latest_prompt",
    "load_prompt",
]
