"""The infer pipeline: a conversation in, decided memory changes out, applied atomically.

One module, provider-agnostic, used by every provider that declares
``features.infer == "pipeline"``:

1. **extract**: the chat model reads the conversation and lists durable facts
   (prompt ``extract``);
2. **retrieve**: each fact is searched among the same user's active memories in the same
   scope, through the provider's own ``search``;
3. **decide**: the model gets the facts and the memories found (under small integer ids, so
   it cannot invent a real one) and decides ADD / UPDATE / DELETE (supersede) / NONE per
   fact, with a reason (prompt ``decide``); with nothing similar stored every fact is an
   ADD and the model is not asked;
4. **apply**: ``Provider.apply_decisions`` writes every decision and its audit entry (before,
   after, reason, model, prompts) at once, or nothing.

Nothing is written before step 4, so an LLM failure (timeout, 5xx, malformed output) or a
cancellation anywhere in steps 1-3 leaves the store untouched, and step 4 is atomic.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field

from openmem.errors import InvalidResponseError
from openmem.fields import MAX_QUERY_LENGTH
from openmem.llm.client import ChatClient, ChatMessage
from openmem.llm.decisions import INFER_METADATA_KEY, Decision, DecisionEvent, Provenance
from openmem.llm.prompts import Prompt, latest_prompt
from openmem.models import MemoryInput, MemoryRecord, SearchQuery
from openmem.provider import Caller, Provider

__all__ = ["InferencePipeline"]

NO_SIMILAR_REASON = "no similar memory is stored"
MAX_FACTS = 50
"""Facts taken from one conversation; a longer list is cut (a runaway model)."""


class ExtractedFacts(BaseModel):
    """The reply of the extract prompt."""

    facts: list[str] = Field(default_factory=list)


class DecidedFact(BaseModel):
    """One decision as the model writes it (ids are the prompt's small integers)."""

    fact: int
    event: Literal["ADD", "UPDATE", "DELETE", "NONE"]
    memory: int | None = None
    text: str | None = None
    reason: str = ""


class DecideReply(BaseModel):
    """The reply of the decide prompt."""

    decisions: list[DecidedFact]


class InferencePipeline:
    """Extract, retrieve, decide and apply over one chat client; see the module docstring.

    >>> pipeline = InferencePipeline(ChatClient(base_url=..., model="gpt-4o-mini"))
    >>> records = await pipeline.run(provider, caller, messages, template={"scope": "me"})
    """

    def __init__(
        self,
        client: ChatClient,
        *,
        similar: int = 5,
        extract_prompt: Prompt | None = None,
        decide_prompt: Prompt | None = None,
    ) -> None:
        self.client = client
        self.similar = similar
        self.extract_prompt = extract_prompt or latest_prompt("extract")
        self.decide_prompt = decide_prompt or latest_prompt("decide")

    @property
    def provenance(self) -> Provenance:
        """The model and prompt versions recorded on what this pipeline writes."""
        return Provenance(
            model=self.client.model,
            prompts=f"{self.extract_prompt.label}+{self.decide_prompt.label}",
        )

    async def run(
        self,
        provider: Provider[Any],
        caller: Caller,
        messages: Sequence[ChatMessage],
        *,
        template: Mapping[str, Any] | None = None,
        facts: Sequence[str] | None = None,
    ) -> list[MemoryRecord]:
        """Infer from ``messages`` and apply; returns the memories added or updated."""
        decisions = await self.plan(provider, caller, messages, template=template, facts=facts)
        if not decisions:
            return []
        return await provider.apply_decisions(caller, decisions)

    async def plan(
        self,
        provider: Provider[Any],
        caller: Caller,
        messages: Sequence[ChatMessage],
        *,
        template: Mapping[str, Any] | None = None,
        facts: Sequence[str] | None = None,
    ) -> list[Decision]:
        """Steps 1-3: the decisions for ``messages``, nothing written yet.

        ``template`` holds the ``add`` fields every new memory gets (scope, tags, agent_id,
        session_id, metadata, source, ...), ``content`` and ``user_id`` excepted. ``facts``
        skips step 1 with facts already extracted from ``messages`` (``extract``).
        """
        fields = dict(template or {})
        if facts is None:
            facts = await self.extract(messages)
        if not facts:
            return []
        stored = await self._similar(provider, caller, facts, scope=fields.get("scope"))
        if stored:
            reply = await self._decide(facts, stored)
        else:
            reply = [
                DecidedFact(fact=i, event="ADD", reason=NO_SIMILAR_REASON)
                for i in range(len(facts))
            ]
        return self._decisions(caller, facts, stored, reply, fields)

    async def extract(self, messages: Sequence[ChatMessage]) -> list[str]:
        """Step 1: the facts worth remembering in ``messages`` (deduplicated, in order)."""
        transcript = "\n".join(
            f"{m.role}: {m.content}" for m in messages if m.role in ("user", "assistant")
        )
        if not transcript.strip():
            return []
        reply = await self.client.structured(
            [
                ChatMessage(role="system", content=self.extract_prompt.text),
                ChatMessage(role="user", content=f"Conversation:\n{transcript}"),
            ],
            ExtractedFacts,
        )
        facts: list[str] = []
        seen: set[str] = set()
        for fact in reply.facts:
            text = " ".join(fact.replace("\x00", "").split())
            key = text.casefold().rstrip(".")
            if text and key not in seen:
                seen.add(key)
                facts.append(text[:MAX_QUERY_LENGTH])
        return facts[:MAX_FACTS]

    async def _similar(
        self, provider: Provider[Any], caller: Caller, facts: Sequence[str], *, scope: Any
    ) -> list[MemoryRecord]:
        """Step 2: the active memories of this user and scope that resemble any fact."""
        found: dict[str, MemoryRecord] = {}
        for fact in facts:
            query = SearchQuery(query=fact, scope=scope, limit=self.similar)
            for hit in await provider.search(caller, query):
                found.setdefault(hit.memory.id, hit.memory)
        return list(found.values())

    async def _decide(
        self, facts: Sequence[str], stored: Sequence[MemoryRecord]
    ) -> list[DecidedFact]:
        """Step 3: the model's decision for every fact, checked against what it was given."""
        question = json.dumps(
            {
                "memories": [{"id": i, "text": m.content} for i, m in enumerate(stored)],
                "facts": [{"index": i, "text": f} for i, f in enumerate(facts)],
            },
            ensure_ascii=False,
        )

        def check(reply: DecideReply) -> None:
            _check_decisions(reply.decisions, facts=len(facts), memories=len(stored))

        reply = await self.client.structured(
            [
                ChatMessage(role="system", content=self.decide_prompt.text),
                ChatMessage(role="user", content=question),
            ],
            DecideReply,
            check=check,
        )
        return sorted(reply.decisions, key=lambda d: d.fact)

    def _decisions(
        self,
        caller: Caller,
        facts: Sequence[str],
        stored: Sequence[MemoryRecord],
        reply: Sequence[DecidedFact],
        fields: Mapping[str, Any],
    ) -> list[Decision]:
        provenance = self.provenance
        metadata = {
            **dict(fields.get("metadata") or {}),
            INFER_METADATA_KEY: provenance.as_metadata(),
        }
        base = {
            **fields,
            "user_id": caller.user_id,
            "metadata": metadata,
            "source": fields.get("source") or {"type": "extracted", "app": caller.app},
        }
        decisions: list[Decision] = []
        added: set[str] = set()
        for decided in reply:
            fact = facts[decided.fact]
            event: DecisionEvent = decided.event
            target = None
            if event != "ADD" and decided.memory is not None:
                target = stored[decided.memory]
            reason = decided.reason.strip() or "no reason given"
            if event == "ADD":
                key = fact.casefold()
                if key in added:
                    continue
                added.add(key)
                decisions.append(
                    Decision(
                        "ADD", fact, reason, provenance, memory=_memory(base, fact, supersedes=[])
                    )
                )
            elif event == "DELETE":
                assert target is not None
                decisions.append(
                    Decision(
                        "DELETE",
                        fact,
                        reason,
                        provenance,
                        target=target,
                        memory=_memory(base, fact, supersedes=[target.id]),
                    )
                )
            elif event == "UPDATE":
                assert target is not None
                text = " ".join((decided.text or fact).split()) or fact
                decisions.append(
                    Decision("UPDATE", fact, reason, provenance, target=target, content=text)
                )
            else:
                decisions.append(Decision("NONE", fact, reason, provenance, target=target))
        return decisions


def _memory(base: Mapping[str, Any], content: str, *, supersedes: list[str]) -> MemoryInput:
    fields = {**base, "content": content}
    fields["supersedes"] = [*fields.get("supersedes", []), *supersedes]
    return MemoryInput.model_validate(fields)


def _check_decisions(decisions: Sequence[DecidedFact], *, facts: int, memories: int) -> None:
    """Refuse a decide reply that skips a fact or names a memory it was not given."""
    seen = [d.fact for d in decisions]
    if sorted(seen) != list(range(facts)):
        raise InvalidResponseError(
            f"expected exactly one decision for each fact index 0..{facts - 1}, got {seen}",
            provider="llm",
        )
    changed: set[int] = set()
    for d in decisions:
        if d.event == "ADD":
            continue
        if d.memory is None or not 0 <= d.memory < memories:
            raise InvalidResponseError(
                f"fact {d.fact}: {d.event} needs a memory id between 0 and {memories - 1}",
                provider="llm",
            )
        if d.event in ("UPDATE", "DELETE"):
            if d.memory in changed:
                raise InvalidResponseError(
                    f"memory {d.memory} is updated or deleted twice", provider="llm"
                )
            changed.add(d.memory)
