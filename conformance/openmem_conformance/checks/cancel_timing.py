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

from openmem_conformance.check_context import CheckContext
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

    @property
    def p99(self) -> float:
        return p99(self.latencies)

    def summary(self) -> dict[str, Any]:
        return {
            "cancel_samples": len(self.latencies),
            "finished_before_cancel": self.finished_first,
            "cancel_p50_ms": round(statistics.median(self.latencies), 3),
            "cancel_p99_ms": round(self.p99, 3),
            "cancel_max_ms": round(max(self.latencies), 3),
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
                continue
            error = task.exception()
            if error is not None:
                raise AssertionError(f"{name}: cancelled call raised {error!r}") from error
            raise AssertionError(
                f"{name}: swallowed the cancellation and returned {type(task.result()).__name__}"
            )
    assert result.latencies, "no call was in flight when cancelled"
    return result


@check(Tier.ROBUSTNESS, timeout=240)
async def cancellation_is_prompt_at_random_moments(ctx: CheckContext) -> None:
    """task.cancel() at random moments: CancelledError within the budget (p99), no leaks.

    Troubleshooting: never shield a backend call or wait for cleanup before re-raising:
    hand connection release to a background task (asyncpg: the pool resets or terminates
    it), abandon worker threads (anyio ``abandon_on_cancel=True``) and re-raise at once.
    Never catch ``CancelledError`` without re-raising it. After close, no thread, socket or
    task may outlive the provider. The budget is ``budget_ms`` (default 10 ms); a round over
    budget is measured once more (a busy machine is not the provider's fault), and the
    details name the slowest samples.
    """
    rng = random.Random(ctx.token)
    user = ctx.user()
    seeds = await ctx.add_all([f"cancellation seed {i}" for i in range(5)], user_id=user)
    counter = iter(range(1_000_000))
    operations: dict[str, Operation] = {
        "add": lambda: ctx.mem.add(f"cancelled add {next(counter)}", user_id=user),
        "get": lambda: ctx.mem.get(seeds[0].id, user_id=user),
        "update": lambda: ctx.mem.update(seeds[1].id, user_id=user, content="updated seed"),
        "list": lambda: ctx.mem.list(user, limit=10),
        "search": lambda: ctx.mem.search("cancellation seed", user, limit=5),
    }
    if "context" in ctx.capabilities.verbs:
        operations["context"] = lambda: ctx.mem.context("cancellation seed", user)
    durations: dict[str, float] = {}
    for name, operation in operations.items():
        timings = []
        for _ in range(3):
            started = time.perf_counter()
            await operation()
            timings.append(time.perf_counter() - started)
        durations[name] = statistics.median(timings)

    first = await _round(operations, durations, rng)
    best = first
    if first.p99 > ctx.budget_ms:
        second = await _round(operations, durations, rng)
        best = min(first, second, key=lambda r: r.p99)
        ctx.note(first_round_p99_ms=round(first.p99, 3))
    ctx.note(**best.summary(), budget_ms=ctx.budget_ms)
    assert best.p99 <= ctx.budget_ms, (
        f"CancelledError arrived {best.p99:.1f} ms (p99 of {len(best.latencies)}) after "
        f"task.cancel(); the budget is {ctx.budget_ms:g} ms "
        f"(max {max(best.latencies):.1f} ms, in two rounds)"
    )
    await usable(ctx, user)
    await close_and_check_leaks(ctx)
