"""ROBUSTNESS: cancellation at random moments — prompt, and nothing outlives the provider."""

from __future__ import annotations

import asyncio
import math
import random
import resource
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
MAX_ROUNDS = 4
"""Rounds measured at most: more are taken while too few samples ran unpreempted."""
WAKEUP_SLEEP = 0.001
"""Seconds of the bare sleep whose late wake-up measures the OS's scheduling delay."""
MIN_CLEAN_SHARE = 0.5
"""The share of timed samples that must have run unpreempted to judge the p99 on them."""
MOMENTS = ("before its first step", "after one loop turn", "at a random moment")

Operation = Callable[[], Coroutine[Any, Any, Any]]

__all__ = ["close_and_check_leaks", "p99", "usable", "wakeup_noise_ms"]


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
class _Samples:
    """The cancellation latencies of the rounds measured so far.

    A sample during which the OS preempted the loop thread (an involuntary context switch,
    ``getrusage``) measures the machine, not the provider: such samples are counted and
    reported, and left out of the p99 unless too few samples ran unpreempted. Voluntary
    waits (the loop idle while a shielded backend call finishes) stay in, so a provider
    that waits for its backend after ``cancel()`` fails on a loaded machine as on a quiet one.
    """

    latencies: list[float] = field(default_factory=list)
    """Every timed sample (ms)."""
    clean: list[float] = field(default_factory=list)
    """The samples during which the loop thread was not preempted (ms)."""
    slowest: list[tuple[float, str, int]] = field(default_factory=list)
    finished_first: int = 0
    wakeups: list[float] = field(default_factory=list)
    """The loop's own floor measured right after each sample (``wakeup_noise_ms``)."""
    rounds: int = 0

    @property
    def judged(self) -> list[float]:
        """The samples the p99 is taken over: the clean ones, when there are enough."""
        enough = len(self.clean) >= MIN_CLEAN_SHARE * len(self.latencies)
        return self.clean if enough and self.clean else self.latencies

    @property
    def p99(self) -> float:
        return p99(self.judged)

    @property
    def noise_p99(self) -> float:
        return p99(self.wakeups) if self.wakeups else 0.0

    def allowed(self, budget_ms: float) -> float:
        """The budget plus the wake-up noise measured in this very run."""
        return budget_ms + self.noise_p99

    def summary(self) -> dict[str, Any]:
        judged = self.judged
        return {
            "cancel_samples": len(self.latencies),
            "cancel_samples_unpreempted": len(self.clean),
            "cancel_p99_over": "unpreempted samples"
            if judged is self.clean
            else "all samples (too few ran unpreempted)",
            "cancel_rounds": self.rounds,
            "finished_before_cancel": self.finished_first,
            "cancel_p50_ms": round(statistics.median(judged), 3),
            "cancel_p99_ms": round(self.p99, 3),
            "cancel_max_ms": round(max(self.latencies), 3),
            "wakeup_noise_p99_ms": round(self.noise_p99, 3),
            "wakeup_noise_max_ms": round(max(self.wakeups, default=0.0), 3),
            "cancel_slowest": [
                f"{verb} {ms:.1f} ms ({MOMENTS[moment]})"
                for ms, verb, moment in sorted(self.slowest)[-3:]
            ],
        }


def _involuntary_switches() -> int:
    """Times the OS preempted this thread so far (Linux, macOS: per thread or process)."""
    who = getattr(resource, "RUSAGE_THREAD", resource.RUSAGE_SELF)
    return resource.getrusage(who).ru_nivcsw


async def _round(
    operations: dict[str, Operation],
    durations: dict[str, float],
    rng: random.Random,
    samples: _Samples,
) -> None:
    samples.rounds += 1
    for name, operation in operations.items():
        for sample in range(SAMPLES_PER_VERB):
            task = asyncio.ensure_future(operation())
            moment = sample % 3
            if moment == 1:
                await asyncio.sleep(0)
            elif moment == 2:
                await asyncio.sleep(rng.uniform(0.0, max(durations[name] * 1.5, 0.0005)))
            if task.done():
                samples.finished_first += 1
                task.result()
                continue
            switches = _involuntary_switches()
            started = time.perf_counter()
            task.cancel()
            done, _ = await asyncio.wait([task], timeout=AFTER_CANCEL_TIMEOUT)
            elapsed_ms = (time.perf_counter() - started) * 1000
            preempted = _involuntary_switches() > switches
            if not done:
                raise AssertionError(
                    f"{name}: still running {AFTER_CANCEL_TIMEOUT:g} s after task.cancel()"
                )
            if task.cancelled():
                samples.latencies.append(elapsed_ms)
                samples.slowest.append((elapsed_ms, name, moment))
                if not preempted:
                    samples.clean.append(elapsed_ms)
                samples.wakeups.append(await wakeup_noise_ms())
                continue
            error = task.exception()
            if error is not None:
                raise AssertionError(f"{name}: cancelled call raised {error!r}") from error
            raise AssertionError(
                f"{name}: swallowed the cancellation and returned {type(task.result()).__name__}"
            )
    assert samples.latencies, "no call was in flight when cancelled"


async def wakeup_noise_ms() -> float:
    """The loop's own floor right now: the slower of two bare measurements, in ms.

    Cancelling a bare sleeping task costs a loop turn (the CPU path every sample takes);
    waking from a 1 ms sleep costs the OS handing the sleeping thread a CPU again, which
    a sample pays whenever the loop waits on I/O while the call unwinds. On a loaded
    machine the second is tens of milliseconds and no thread statistic shows it.
    """
    task = asyncio.ensure_future(asyncio.sleep(60))
    await asyncio.sleep(0)
    started = time.perf_counter()
    task.cancel()
    await asyncio.wait([task], timeout=AFTER_CANCEL_TIMEOUT)
    cancel_ms = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    await asyncio.sleep(WAKEUP_SLEEP)
    overshoot_ms = (time.perf_counter() - started - WAKEUP_SLEEP) * 1000
    return max(cancel_ms, overshoot_ms)


@check(Tier.ROBUSTNESS, timeout=240)
async def cancellation_is_prompt_at_random_moments(ctx: CheckContext) -> None:
    """task.cancel() at random moments: CancelledError within the budget (p99), no leaks.

    Troubleshooting: never shield a backend call or wait for cleanup before re-raising:
    hand connection release to a background task (asyncpg: the pool resets or terminates
    it), abandon worker threads (anyio ``abandon_on_cancel=True``) and re-raise at once.
    Never catch ``CancelledError`` without re-raising it. After close, no thread, socket or
    task may outlive the provider. The budget is ``budget_ms`` (default 10 ms) on top of
    the machine's own wake-up noise, measured in the same run after every sample
    (cancelling a bare ``asyncio.sleep``, and waking from a 1 ms one: a busy machine is not
    the provider's fault). Samples during which the OS preempted the loop thread are left
    out of the p99 (counted in the details) while enough others remain; a run over the
    budget is measured once more, and the details name the slowest samples. The
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
    samples = _Samples()
    await _round(operations, durations, rng, samples)
    # Another round while the p99 is over the budget or too few samples ran unpreempted
    # (a loaded machine); every round adds to the same samples, none is thrown away.
    while samples.rounds < MAX_ROUNDS and (
        samples.judged is not samples.clean
        or (samples.rounds < 2 and samples.p99 > samples.allowed(ctx.budget_ms))
    ):
        await _round(operations, durations, rng, samples)
    allowed = samples.allowed(ctx.budget_ms)
    ctx.note(**samples.summary(), budget_ms=ctx.budget_ms, allowed_ms=round(allowed, 3))
    assert samples.p99 <= allowed, (
        f"CancelledError arrived {samples.p99:.1f} ms (p99 of {len(samples.judged)} "
        f"{samples.summary()['cancel_p99_over']}) after task.cancel(); the budget is "
        f"{ctx.budget_ms:g} ms over the machine's wake-up noise of {samples.noise_p99:.1f} ms "
        f"(max {max(samples.latencies):.1f} ms, in {samples.rounds} rounds)"
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
        f"{len(samples.latencies)} timed cancellations landed inside it: the timing proves "
        "nothing about cancelling the backend"
    )
