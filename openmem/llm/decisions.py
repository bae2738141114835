"""What the infer pipeline decided, in the form a provider applies it.

The pipeline (``openmem.llm.pipeline``) turns a conversation into a list of ``Decision``; a
provider that declares ``features.infer == "pipeline"`` applies the whole list with
``Provider.apply_decisions``, atomically where it has transactions, and writes one audit
entry per decision whose ``details`` are ``Decision.audit_details()``:

- ``ADD``: store ``memory`` (audit action ``add``).
- ``UPDATE``: rewrite ``target`` to ``content`` (audit action ``update``).
- ``DELETE``: retire ``target`` (its ``valid_to`` becomes now; audit action ``update``) and
  store ``memory``, which names it in ``supersedes`` (audit action ``add``). The old memory
  stays readable by id and in ``include_inactive`` searches: that is the history.
- ``NONE``: write nothing but the audit entry (action ``add``, on ``target``), so the trail
  shows why the conversation changed nothing.

If ``target`` changed or vanished since the pipeline read it, the provider raises
``ConflictError`` and applies none of the decisions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from openmem.models import MemoryInput, MemoryRecord

__all__ = ["INFER_METADATA_KEY", "Decision", "DecisionEvent", "Provenance"]

DecisionEvent = Literal["ADD", "UPDATE", "DELETE", "NONE"]
INFER_METADATA_KEY = "openmem_infer"
"""The metadata key under which an inferred memory records its model and prompts."""


@dataclass(frozen=True)
class Provenance:
    """Which model and which prompt versions produced a decision."""

    model: str
    prompts: str
    """Prompt labels joined by ``+``, e.g. ``extract.v1+decide.v1``."""

    def as_metadata(self) -> dict[str, str]:
        """The value stored under ``INFER_METADATA_KEY`` on every memory it produced."""
        return {"model": self.model, "prompts": self.prompts}


@dataclass(frozen=True)
class Decision:
    """One decision about one extracted fact; see the module docstring for each event."""

    event: DecisionEvent
    fact: str
    reason: str
    provenance: Provenance
    target: MemoryRecord | None = None
    """The stored memory the decision is about (UPDATE, DELETE, NONE)."""
    memory: MemoryInput | None = None
    """What to store (ADD, DELETE)."""
    content: str | None = None
    """The new text of ``target`` (UPDATE)."""

    def __post_init__(self) -> None:
        needs_target = self.event != "ADD"
        if needs_target != (self.target is not None):
            raise ValueError(f"{self.event} {'needs' if needs_target else 'takes no'} target")
        if (self.event in ("ADD", "DELETE")) != (self.memory is not None):
            raise ValueError(f"{self.event}: memory is set for ADD and DELETE only")
        if (self.event == "UPDATE") != (self.content is not None):
            raise ValueError("content is set for UPDATE only")

    @property
    def before(self) -> str | None:
        """The stored text the decision is about, before it."""
        return self.target.content if self.target is not None else None

    @property
    def after(self) -> str | None:
        """The text that is current after the decision."""
        if self.event == "UPDATE":
            return self.content
        if self.memory is not None:
            return self.memory.content
        return self.before

    def audit_details(self, **extra: Any) -> dict[str, Any]:
        """The audit ``details`` of this decision: event, before/after, reason, provenance."""
        return {
            "infer": {
                "event": self.event,
                "fact": self.fact,
                "before": self.before,
                "after": self.after,
                "reason": self.reason,
                "model": self.provenance.model,
                "prompts": self.provenance.prompts,
                **extra,
            }
        }
