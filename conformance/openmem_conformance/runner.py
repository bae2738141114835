"""Run the checks outside pytest and collect a ``ConformanceReport``.

    report = await validate(lambda: MyProvider(url=...), budget_ms=10)
    print(report.level())

The factory is called once per check and must return a fresh, unopened provider (or an
awaitable of one, or an async generator that yields one and cleans up after). Each check
gets a namespace of its own, unless ``namespace=`` fixes one (an OMP server whose API key
is bound to a namespace); checks never share user ids, so they stay apart either way.
The same ``run_check`` runs underneath the pytest base class, so the two front ends
cannot disagree.
"""

from __future__ import annotations

import inspect
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol

import openmem_conformance.checks  # noqa: F401 - registers the checks
from openmem.memory import AsyncMemory
from openmem.provider import Provider
from openmem_conformance.harness import (
    DEFAULT_BUDGET_MS,
    CheckNotOffered,
    CheckSkipped,
    run_check,
)
from openmem_conformance.registry import CHECKS, Check
from openmem_conformance.report import CheckResult, ConformanceReport, Outcome
from openmem_conformance.source_location import failure_location

__all__ = ["Progress", "ProviderFactory", "provider_from", "run_one", "validate"]

ProviderFactory = Callable[
    [], "Provider[Any] | Awaitable[Provider[Any]] | AsyncIterator[Provider[Any]]"
]


class Progress(Protocol):
    """What the runner reports while it runs (the CLI draws a progress bar from it)."""

    def started(self, check: Check) -> None:
        """A check is about to run."""

    def finished(self, result: CheckResult) -> None:
        """A check ended."""


@asynccontextmanager
async def provider_from(factory: ProviderFactory) -> AsyncIterator[Provider[Any]]:
    """One fresh provider from ``factory``, cleaned up afterwards if it is a generator."""
    made = factory()
    if inspect.isasyncgen(made):
        try:
            provider = await made.__anext__()
            if not isinstance(provider, Provider):
                raise TypeError(f"the provider factory yielded {type(provider).__name__}")
            yield provider
        finally:
            await made.aclose()
        return
    if inspect.isawaitable(made):
        made = await made
    if not isinstance(made, Provider):
        raise TypeError(f"the provider factory returned {type(made).__name__}, not a Provider")
    yield made


async def run_one(
    check: Check,
    factory: ProviderFactory,
    *,
    budget_ms: float = DEFAULT_BUDGET_MS,
    namespace: str | None = None,
) -> CheckResult:
    """Run one check against a fresh provider and return its result (never raises)."""
    details: dict[str, Any] = {}
    started = time.perf_counter()
    provider_class: type[Any] | None = None
    failure: Exception | None = None
    try:
        async with provider_from(factory) as provider:
            provider_class = type(provider)
            await run_check(
                check, provider, budget_ms=budget_ms, namespace=namespace, details=details
            )
    except CheckNotOffered as absent:
        outcome, message = Outcome.NOT_OFFERED, str(absent)
    except CheckSkipped as skip:
        outcome, message = Outcome.SKIPPED, str(skip)
    except AssertionError as exc:
        outcome, message, failure = Outcome.FAILED, str(exc) or "assertion failed", exc
    except Exception as exc:
        frames = traceback.extract_tb(exc.__traceback__)[-3:]
        where = "; ".join(f"{f.name}:{f.lineno}" for f in frames)
        outcome, message = Outcome.FAILED, f"{type(exc).__name__}: {exc} (at {where})"
        failure = exc
    else:
        outcome, message = Outcome.PASSED, ""
    located = ""
    if failure is not None and provider_class is not None:
        located = failure_location(failure, provider_class, check.func)
    return CheckResult(
        name=check.name,
        tier=check.tier,
        outcome=outcome,
        seconds=time.perf_counter() - started,
        message=message,
        details=details,
        where=located,
        troubleshooting=check.troubleshooting if failure is not None else "",
    )


async def _declaration(
    factory: ProviderFactory, namespace: str | None
) -> tuple[str, dict[str, Any] | None]:
    try:
        async with (
            provider_from(factory) as provider,
            AsyncMemory(provider=provider, namespace=namespace or "conformance-probe") as mem,
        ):
            caps = await mem.capabilities()
            return caps.provider, caps.model_dump(mode="json")
    except Exception as exc:
        return f"unavailable ({type(exc).__name__}: {exc})", None


async def validate(
    factory: ProviderFactory,
    *,
    budget_ms: float = DEFAULT_BUDGET_MS,
    checks: Iterable[Check] | None = None,
    progress: Progress | None = None,
    lifespan: Callable[[], AbstractAsyncContextManager[Any]] | None = None,
    namespace: str | None = None,
) -> ConformanceReport:
    """Run ``checks`` (default: all) against providers from ``factory``; the report.

    ``lifespan``, if given, is entered once around the whole run (start a database, say).
    ``namespace`` fixes the namespace of every check (default: a fresh one per check).
    """
    selected = list(CHECKS.values()) if checks is None else list(checks)
    if lifespan is not None:
        async with lifespan():
            return await _validate(factory, budget_ms, selected, progress, namespace)
    return await _validate(factory, budget_ms, selected, progress, namespace)


async def _validate(
    factory: ProviderFactory,
    budget_ms: float,
    selected: list[Check],
    progress: Progress | None,
    namespace: str | None,
) -> ConformanceReport:
    name, capabilities = await _declaration(factory, namespace)
    report = ConformanceReport(provider=name, budget_ms=budget_ms, capabilities=capabilities)
    for check in selected:
        if progress is not None:
            progress.started(check)
        result = await run_one(check, factory, budget_ms=budget_ms, namespace=namespace)
        report.results.append(result)
        if progress is not None:
            progress.finished(result)
    return report
