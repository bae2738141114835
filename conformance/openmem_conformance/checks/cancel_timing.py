"""ROBUSTNESS: cancellation at random moments — prompt, and nothing outlives the provider."""

from __future__ import annotations

import asyncio
import math
import random
import statistics
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from openmem.memory import AsyncMemory
from openmem_conformance.check_context import CheckContext
from openmem_conformance.recording import RecordingProvider
from openmem_conformance.registry import Tier, check
from openmem_conformance.resources import wait_for_release

SAMPLES_PER_VERB = 24
AFTER_CANCEL_TIMEOUT = 5.0
MOMENTS = ("before its first step", "after one loop turn", "at a random moment")

Operation = Callable[[], Coroutine[Any, Any, Any]]

__all__ = ["close_and_check_leaks", "p99", "usable"]


def p99(values: list[float]) -> float:
    """The 99th percentile (nearest rank) of ``values``."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]


async def usable(ctx: CheckContext, user: str) -> None:
    """Fail unless the provider still writes and reads, and every listed memory is whole."""
    record = await ctx.add("written after the cancellations", user_id=user)
    fetched = await ctx.mem.get(record.id, user_id=user)
    assert fetched.content == record.content, "the provider is not usable after cancellations"
    await ctx.mem.search("written after", user)
    for item in await ctx.list_all(user):
        assert (await ctx.mem.get(item.id, user_id=user)).id == item.id


async def close_and_check_leaks(ctx: CheckContext) -> None:
    """Close the provider and fail if a thread, descriptor or task outlives it."""
    await ctx.mem.close()
    assert ctx.baseline is not None
    grace = 10.0 if ctx.capabilities.features.cancellation == "thread" else 5.0
    leaks = await wait_for_release(ctx.baseline, grace=grace)
    assert not leaks, f"after close, resources outlived the provider: {'; '.join(leaks)}"


@dataclass
class _Round:
    """The cancellation latencies of one round of samples."""

    latencies: list[float] = field(default_factory=list)
    slowest: list[tuple[float, str, int]] = field(default_factory=list)
    finished_first: int = 0
    wakeups: list[float] = field(default_factory=list)
    """The same cancellation of a bare ``asyncio.sleep``, one after each sample: the
    machine's own wake-up noise (another process holding the CPU), not the provider's."""

    @property
    def p99(self) -> float:
        return p99(self.latencies)

    @property
    def noise_p99(self) -> float:
        return p99(self.wakeups)

    def allowed(self, budget_ms: float) -> float:
        """The budget plus the wake-up noise measured in this very round."""
        return budget_ms + self.noise_p99

    def summary(self) -> dict[str, Any]:
        return {
            "cancel_samples": len(self.latencies),
            "finished_before_cancel": self.finished_first,
            "cancel_p50_ms": round(statistics.median(self.latencies), 3),
            "cancel_p99_ms": round(self.p99, 3),
            "cancel_max_ms": round(max(self.latencies), 3),
            "wakeup_noise_p99_ms": round(self.noise_p99, 3),
            "wakeup_noise_max_ms": round(max(self.wakeups), 3),
            "cancel_slowest": [
                f"{verb} {ms:.1f} ms ({MOMENTS[moment]})"
                for ms, verb, moment in sorted(self.slowest)[-3:]
            ],
        }


async def _round(
    operations: dict[str, Operation], durations: dict[str, float], rng: random.Random
) -> _Round:
    result = _Round()
    for name, operation in operations.items():
        for sample in range(SAMPLES_PER_VERB):
            task = asyncio.ensure_future(operation())
            moment = sample % 3
            if moment == 1:
                await asyncio.sleep(0)
            elif moment == 2:
                await asyncio.sleep(rng.uniform(0.0, max(durations[name] * 1.5, 0.0005)))
            if task.done():
                result.finished_first += 1
                task.result()
                continue
            started = time.perf_counter()
            task.cancel()
            done, _ = await asyncio.wait([task], timeout=AFTER_CANCEL_TIMEOUT)
            elapsed_ms = (time.perf_counter() - started) * 1000
            if not done:
                raise AssertionError(
                    f"{name}: still running {AFTER_CANCEL_TIMEOUT:g} s after task.cancel()"
                )
            if task.cancelled():
                result.latencies.append(elapsed_ms)
                result.slowest.append((elapsed_ms, name, moment))
                result.wakeups.append(await _wakeup_noise_ms())
                continue
            error = task.exception()
            if error is not None:
                raise AssertionError(f"{name}: cancelled call raised {error!r}") from error
            raise AssertionError(
                f"{name}: swallowed the cancellation and returned {type(task.result()).__name__}"
            )
    assert result.latencies, "no call was in flight when cancelled"
    return result


async def _wakeup_noise_ms() -> float:
    """Milliseconds from cancelling a bare sleeping task to its end: the loop's floor."""
    task = asyncio.ensure_future(asyncio.sleep(60))
    await asyncio.sleep(0)
    started = time.perf_counter()
    task.cancel()
    await asyncio.wait([task], timeout=AFTER_CANCEL_TIMEOUT)
    return (time.perf_counter() - started) * 1000


@check(Tier.ROBUSTNESS, timeout=240)
async def cancellation_is_prompt_at_random_moments(ctx: CheckContext) -> None:
    """task.cancel() at random moments: CancelledError within the budget (p99), no leaks.

    Troubleshooting: never shield a backend call or wait for cleanup before re-raising:
    hand connection release to a background task (asyncpg: the pool resets or terminates
    it), abandon worker threads (anyio ``abandon_on_cancel=True``) and re-raise at once.
    Never catch ``CancelledError`` without re-raising it. After close, no thread, socket or
    task may outlive the provider. The budget is ``budget_ms`` (default 10 ms) on top of
    the machine's own wake-up noise, measured in the same round by cancelling a bare
    ``asyncio.sleep`` after every sample (a busy machine is not the provider's fault); a
    round over it is measured once more, and the details name the slowest samples. The
    report counts, per verb, the cancellations that landed inside the provider: a provider
    that suspends must see some, or the timing proved nothing about it.
    """
    user = ctx.user()
    probe = ctx.borrow()
    async with ctx.memory_over(probe) as mem:
        await _measure_rounds(ctx, probe, mem, user)
    await usable(ctx, user)
    await close_and_check_leaks(ctx)


async def _measure_rounds(
    ctx: CheckContext, probe: RecordingProvider, mem: AsyncMemory, user: str
) -> None:
    rng = random.Random(ctx.token)
    seeds = await ctx.add_all([f"cancellation seed {i}" for i in range(5)], user_id=user)
    counter = iter(range(1_000_000))
    operations: dict[str, Operation] = {
        "add": lambda: mem.add(f"cancelled add {next(counter)}", user_id=user),
        "get": lambda: mem.get(seeds[0].id, user_id=user),
        "update": lambda: mem.update(seeds[1].id, user_id=user, content="updated seed"),
        "list": lambda: mem.list(user, limit=10),
        "search": lambda: mem.search("cancellation seed", user, limit=5),
    }
    if "context" in ctx.capabilities.verbs:
        operations["context"] = lambda: mem.context("cancellation seed", user)
    durations: dict[str, float] = {}
    for name, operation in operations.items():
        timings = []
        for _ in range(3):
            started = time.perf_counter()
            await operation()
            timings.append(time.perf_counter() - started)
        durations[name] = statistics.median(timings)

    inside = dict(probe.await_points)
    probe.cancelled_inside.clear()
    first = await _round(operations, durations, rng)
    best = first
    if first.p99 > first.allowed(ctx.budget_ms):
        second = await _round(operations, durations, rng)
        best = min(first, second, key=lambda r: r.p99 - r.noise_p99)
        ctx.note(first_round_p99_ms=round(first.p99, 3))
    allowed = best.allowed(ctx.budget_ms)
    ctx.note(**best.summary(), budget_ms=ctx.budget_ms, allowed_ms=round(allowed, 3))
    assert best.p99 <= allowed, (
        f"CancelledError arrived {best.p99:.1f} ms (p99 of {len(best.latencies)}) after "
        f"task.cancel(); the budget is {ctx.budget_ms:g} ms over the machine's wake-up "
        f"noise of {best.noise_p99:.1f} ms (max {max(best.latencies):.1f} ms, in two rounds)"
    )
    landed = dict(probe.cancelled_inside)
    ctx.note(provider_await_points=inside, cancelled_inside_provider=landed)
    if not any(inside.values()):
        ctx.note(
            rated_on="the provider never suspends: no cancellation can land inside it, so "
            "only AsyncMemory's own await points were timed"
        )
        return
    assert sum(landed.values()) > 0, (
        f"the provider suspends at await points ({inside}), yet none of "
        f"{len(first.latencies)} timed cancellations landed inside it: the timing proves "
        "nothing about cancelling the backend"
    )
