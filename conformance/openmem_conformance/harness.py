"""How a check runs: one fresh provider behind ``AsyncMemory``, a namespace of its own, bounds.

``run_check`` is the single way a check is executed, by the pytest base class and by the
runner alike: it wraps the fresh provider in ``AsyncMemory`` under a namespace of its own,
reads the declared capabilities, skips the check when a requirement is not declared, and
bounds the whole check with ``asyncio.timeout`` so a hang fails instead of stalling.
"""

from __future__ import annotations

import asyncio
from typing import Any

from openmem.memory import AsyncMemory
from openmem.provider import Provider
from openmem_conformance.check_context import (
    DEFAULT_BUDGET_MS,
    CheckContext,
    eventually,
    unique_token,
)
from openmem_conformance.grading import Standard, grade_of, offers_openmem_extensions
from openmem_conformance.registry import Check
from openmem_conformance.resources import ResourceSnapshot

__all__ = [
    "DEFAULT_BUDGET_MS",
    "CheckContext",
    "CheckNotOffered",
    "CheckSkipped",
    "eventually",
    "run_check",
    "unique_token",
]


class CheckSkipped(Exception):
    """The provider does not declare what the check needs; the reason says what."""


class CheckNotOffered(CheckSkipped):
    """A foreign OMP server does not offer the openmem extension the check grades."""


async def run_check(
    check: Check,
    provider: Provider[Any],
    *,
    budget_ms: float = DEFAULT_BUDGET_MS,
    namespace: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Run ``check`` against a fresh, unopened ``provider``; raise on failure or skip.

    The provider is opened through ``AsyncMemory`` on the running loop and closed at the
    end, whatever happens. ``CheckSkipped`` means a requirement is not declared.
    """
    namespace = namespace or f"conf-{unique_token()}"
    baseline = ResourceSnapshot.take()
    mem = AsyncMemory(provider=provider, namespace=namespace)
    deadline = asyncio.timeout(check.timeout)
    try:
        async with deadline:
            capabilities = await mem.capabilities()
            grade = grade_of(check.name)
            if grade.standard is Standard.EXTENSION and not offers_openmem_extensions(provider):
                raise CheckNotOffered(
                    f"not offered: an openmem extension ({grade.clause}) this OMP server "
                    "does not announce"
                )
            missing = check.unmet(capabilities)
            if missing:
                raise CheckSkipped(f"not declared in capabilities(): {', '.join(missing)}")
            ctx = CheckContext(
                mem=mem,
                raw=provider,
                capabilities=capabilities,
                namespace=namespace,
                budget_ms=budget_ms,
                baseline=baseline,
            )
            try:
                await check.func(ctx)
            finally:
                if details is not None:
                    details.update(ctx.details)
    except TimeoutError as exc:
        if not deadline.expired():
            raise  # a TimeoutError of the provider's own, not the check's deadline
        raise AssertionError(
            f"check {check.name} did not finish within {check.timeout:g} s: a verb hangs"
        ) from exc
    finally:
        try:
            async with asyncio.timeout(30):
                await mem.close()
        except TimeoutError as exc:
            raise AssertionError("close() did not finish within 30 s") from exc
