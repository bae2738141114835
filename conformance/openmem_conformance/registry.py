"""The check registry: every conformance check, its tier and what it needs declared.

A check is an ``async def`` taking a ``CheckContext``; it passes by returning, fails by
raising ``AssertionError`` (or any other exception), and is skipped when the provider does
not declare what it needs. Both front ends (the pytest base class and the runner) read this
one registry, so they can never disagree about what "conformant" means.

    @check(Tier.OPTIONAL, requires=("verb:audit",))
    async def audit_records_every_verb(ctx: CheckContext) -> None:
        '''Every verb leaves its audit entry.

        Troubleshooting: ...
        '''
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from openmem.models import Capabilities
from openmem_conformance.check_context import CheckContext

__all__ = ["CHECKS", "Check", "CheckFunction", "Tier", "check", "checks_by_tier"]

CheckFunction = Callable[[CheckContext], Awaitable[None]]


class Tier(enum.StrEnum):
    """How much a check weighs in the conformance level."""

    REQUIRED = "required"
    """Every provider must pass: the verb contracts, errors, pagination, scopes, isolation."""
    OPTIONAL = "optional"
    """Run only when the capability is declared; a declared capability must pass."""
    ROBUSTNESS = "robustness"
    """Concurrency, cancellation, bad input: what separates Native from Compatible."""
    HONESTY = "honesty"
    """Declarations match behaviour: undeclared verbs are refused before any I/O."""


@dataclass(frozen=True)
class Check:
    """One conformance check: a name, a tier, its requirements and the function."""

    name: str
    tier: Tier
    func: CheckFunction
    requires: tuple[str, ...] = ()
    """``verb:<verb>``, ``feature:<flag>``, ``cancellation:<native|thread>`` or
    ``infer:<pipeline|backend>``."""
    timeout: float = 60.0
    """Seconds the whole check may take; past that it fails as hung."""
    doc: str = field(default="", compare=False)

    @property
    def summary(self) -> str:
        """The first line of the check's docstring."""
        return self.doc.strip().splitlines()[0] if self.doc.strip() else self.name

    @property
    def troubleshooting(self) -> str:
        """The docstring's "Troubleshooting:" paragraph, on one line: what to fix when it fails."""
        _, found, text = self.doc.partition("Troubleshooting:")
        return " ".join(text.split()) if found else ""

    def unmet(self, capabilities: Capabilities) -> list[str]:
        """The requirements ``capabilities`` does not declare (empty: the check applies)."""
        missing: list[str] = []
        for requirement in self.requires:
            kind, _, name = requirement.partition(":")
            if kind == "verb":
                ok = name in capabilities.verbs
            elif kind == "feature":
                ok = getattr(capabilities.features, name, False) is True
            elif kind == "cancellation":
                ok = capabilities.features.cancellation == name
            elif kind == "infer":
                ok = capabilities.features.infer == name
            else:  # pragma: no cover - a typo in this package
                raise ValueError(f"unknown requirement {requirement!r}")
            if not ok:
                missing.append(requirement)
        return missing


CHECKS: dict[str, Check] = {}
"""Every registered check by name, in registration order (tier by tier)."""


def check(
    tier: Tier, *, requires: tuple[str, ...] = (), timeout: float = 60.0
) -> Callable[[CheckFunction], CheckFunction]:
    """Register an async check function under its own name."""

    def register(func: CheckFunction) -> CheckFunction:
        name = func.__name__
        if name in CHECKS:  # pragma: no cover - a duplicate in this package
            raise ValueError(f"check {name!r} is registered twice")
        CHECKS[name] = Check(
            name=name,
            tier=tier,
            func=func,
            requires=requires,
            timeout=timeout,
            doc=inspect.getdoc(func) or "",
        )
        return func

    return register


def checks_by_tier(tier: Tier) -> list[Check]:
    """The registered checks of one tier, in registration order."""
    return [c for c in CHECKS.values() if c.tier is tier]
