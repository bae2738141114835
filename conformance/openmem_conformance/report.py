"""Results of a run, the conformance level, and the JSON report.

Each result also says what it grades (``standard``: OMP 0.1 ``core`` or an openmem
``extension``) and the clause of spec/omp.md it proves; the report lists the core failures
with their clauses, and the extensions a foreign OMP server does not offer.

Levels, strongest first:

- **Native**: every REQUIRED, ROBUSTNESS and HONESTY check passes, and so does the check of
  every OPTIONAL capability the provider declares.
- **Compatible**: every REQUIRED check passes.
- **Partial**: some REQUIRED checks pass, some fail.
- **None**: no REQUIRED check passes.
"""

from __future__ import annotations

import enum
import json
import platform
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from openmem_conformance.grading import Standard, grade_of
from openmem_conformance.registry import Tier

__all__ = ["CheckResult", "ConformanceLevel", "ConformanceReport", "Outcome"]

REPORT_VERSION = 1


class Outcome(enum.StrEnum):
    """How one check ended."""

    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"
    """Not applicable: the capability it checks is not declared."""
    NOT_OFFERED = "not offered"
    """A foreign OMP server does not offer the openmem extension the check grades."""


class ConformanceLevel(enum.StrEnum):
    """The badge a run earns (see the module docstring)."""

    NATIVE = "Native"
    COMPATIBLE = "Compatible"
    PARTIAL = "Partial"
    NONE = "None"


@dataclass(frozen=True)
class CheckResult:
    """One check's outcome, with its message and measurements."""

    name: str
    tier: Tier
    outcome: Outcome
    seconds: float
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    where: str = ""
    """On failure: ``file:line`` places in the provider's source to look at."""
    troubleshooting: str = ""
    """On failure: the check's troubleshooting text (what the contract asks for)."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        grade = grade_of(self.name)
        return {
            "name": self.name,
            "tier": self.tier.value,
            "standard": grade.standard.value,
            "clause": grade.clause,
            "outcome": self.outcome.value,
            "seconds": round(self.seconds, 3),
            "message": self.message,
            "details": self.details,
            "where": self.where,
            "troubleshooting": self.troubleshooting,
        }


@dataclass
class ConformanceReport:
    """Every result of one run and the level they add up to."""

    provider: str
    budget_ms: float
    results: list[CheckResult] = field(default_factory=list)
    capabilities: dict[str, Any] | None = None
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def by_tier(self, tier: Tier) -> list[CheckResult]:
        """The results of one tier, in run order."""
        return [r for r in self.results if r.tier is tier]

    def failed(self, tier: Tier | None = None) -> list[CheckResult]:
        """Failed results, of one tier or all."""
        return [
            r
            for r in self.results
            if r.outcome is Outcome.FAILED and (tier is None or r.tier is tier)
        ]

    def passed_required(self) -> bool:
        """True when no REQUIRED check failed (and at least one ran)."""
        required = self.by_tier(Tier.REQUIRED)
        return bool(required) and not self.failed(Tier.REQUIRED)

    def level(self) -> ConformanceLevel:
        """The conformance level these results earn."""
        required = [
            r
            for r in self.by_tier(Tier.REQUIRED)
            if r.outcome not in (Outcome.SKIPPED, Outcome.NOT_OFFERED)
        ]
        if not required or all(r.outcome is Outcome.FAILED for r in required):
            return ConformanceLevel.NONE
        if self.failed(Tier.REQUIRED):
            return ConformanceLevel.PARTIAL
        if self.failed():
            return ConformanceLevel.COMPATIBLE
        return ConformanceLevel.NATIVE

    def to_dict(self) -> dict[str, Any]:
        """The JSON report."""
        counts = {
            tier.value: {
                outcome.value: sum(1 for r in self.by_tier(tier) if r.outcome is outcome)
                for outcome in Outcome
            }
            for tier in Tier
        }
        return {
            "report_version": REPORT_VERSION,
            "provider": self.provider,
            "level": self.level().value,
            "passed_required": self.passed_required(),
            "budget_ms": self.budget_ms,
            "started_at": self.started_at.isoformat(),
            "python": platform.python_version(),
            "counts": counts,
            # A declared capability whose check fails: the declaration overstates.
            "declared_but_failing": [r.name for r in self.failed(Tier.OPTIONAL)],
            "core_failures": [
                {"check": r.name, "clause": grade_of(r.name).clause, "message": r.message}
                for r in self.failed()
                if grade_of(r.name).standard is Standard.CORE
            ],
            "extension_failures": [
                r.name for r in self.failed() if grade_of(r.name).standard is Standard.EXTENSION
            ],
            "not_offered": [r.name for r in self.results if r.outcome is Outcome.NOT_OFFERED],
            "capabilities": self.capabilities,
            "results": [r.to_dict() for r in self.results],
        }

    def write(self, path: str | Path) -> Path:
        """Write the JSON report to ``path``; returns the path."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(self.to_dict(), indent=2, default=str) + "\n")
        return target
