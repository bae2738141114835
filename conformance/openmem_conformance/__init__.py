"""openmem-conformance: one contract, proven against every provider.

Two front ends over the same check functions:

- pytest: subclass ``ProviderConformance`` and implement its ``provider`` fixture;
- the runner: ``openmem conformance --provider NAME`` or ``await validate(factory)``.

Checks are grouped by tier (``Tier``): REQUIRED, OPTIONAL (run when declared), ROBUSTNESS
and HONESTY; a run adds up to a ``ConformanceLevel`` (Native, Compatible, Partial, None).
"""

from openmem_conformance.check_context import DEFAULT_BUDGET_MS, CheckContext
from openmem_conformance.harness import CheckSkipped, run_check
from openmem_conformance.recording import RecordingProvider
from openmem_conformance.registry import CHECKS, Check, Tier, checks_by_tier
from openmem_conformance.report import CheckResult, ConformanceLevel, ConformanceReport, Outcome
from openmem_conformance.runner import validate
from openmem_conformance.suite import ProviderConformance

__all__ = [
    "CHECKS",
    "DEFAULT_BUDGET_MS",
    "Check",
    "CheckContext",
    "CheckResult",
    "CheckSkipped",
    "ConformanceLevel",
    "ConformanceReport",
    "Outcome",
    "ProviderConformance",
    "RecordingProvider",
    "Tier",
    "checks_by_tier",
    "run_check",
    "validate",
]
