"""ROBUSTNESS: cancellation at every await point of a verb — all or nothing, no leaks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from openmem.errors import NotFoundError
from openmem.memory import AsyncMemory
from openmem.models import AuditEntry, MemoryRecord
from openmem_conformance.await_points import count_await_points, run_cancelled_at
from openmem_conformance.check_context import CheckContext, eventually
from openmem_conformance.checks.cancel_timing import Operation, close_and_check_leaks, usable
from openmem_conformance.recording import RecordingProvider
from openmem_conformance.registry import Tier, check

MAX_SWEEP_POINTS = 40


async def _audit(ctx: CheckContext, user: str) -> list[AuditEntry]:
    if "audit" not in ctx.capabilities.verbs:
        return []
    return await ctx.mem.audit(user, limit=1000)


async def _sweep(
    probe: RecordingProvider,
    verb: str,
    prepare: Callable[[int], Awaitable[Any]],
    operation: Callable[[Any, int], Operation],
    whole: Callable[[Any, int], Awaitable[str | None]],
) -> dict[str, Any]:
    """Cancel ``verb`` at each await point; ``whole`` returns a problem or None per run.

    ``operation`` must call the provider through ``probe``, which counts the await points
    inside the provider and the cancellations that landed there. Before every run the
    provider's background work (connection releases, say) is let to finish, so each run
    starts from the state the counting run started from and meets the same await points.
    """
    long_lived: set[asyncio.Task[Any]] = set()
    subject = await prepare(-1)
    await operation(subject, -1)()  # warm: lazy initialisation is not an await point of the verb
    await _quiesce(long_lived)
    subject = await prepare(0)
    await _quiesce(long_lived)
    probe.reset()
    _, points = await count_await_points(operation(subject, 0))
    inside = dict(probe.await_points)
    probe.reset()
    chosen = list(range(1, points + 1))
    if len(chosen) > MAX_SWEEP_POINTS:
        step = len(chosen) / MAX_SWEEP_POINTS
        chosen = sorted({chosen[int(i * step)] for i in range(MAX_SWEEP_POINTS)} | {points})
    outcomes: dict[str, Any] = {"cancelled": 0, "finished": 0}
    for point in chosen:
        subject = await prepare(point)
        await _quiesce(long_lived)
        outcome, _ = await run_cancelled_at(operation(subject, point), point)
        assert outcome != "swallowed", (
            f"{verb}: cancelled at await point {point} of {points}, it returned normally"
        )
        outcomes[outcome] += 1
        problem = await whole(subject, point)
        assert problem is None, f"{verb}: cancelled at await point {point} of {points}: {problem}"
    outcomes["points"] = points
    outcomes["provider_await_points"] = inside
    outcomes["cancelled_inside_provider"] = dict(probe.cancelled_inside)
    if any(inside.values()):
        assert sum(probe.cancelled_inside.values()) > 0, (
            f"{verb}: the provider suspends at {inside} await points, yet none of the "
            f"{len(chosen)} cancellations landed inside it"
        )
    return outcomes


@check(Tier.ROBUSTNESS, requires=("cancellation:native",), timeout=300)
async def cancellation_at_every_await_point_is_atomic(ctx: CheckContext) -> None:
    """Cancel add, update, delete and search at each await point: all or nothing, no leaks.

    Troubleshooting: a write and its audit entry go in one transaction, so a cancel at
    any await point leaves both or neither; two statements in autocommit, or an audit row
    written after the commit, leave half a write. Release connections even when cancelled
    (``async with pool.acquire()`` or a background release), never reuse one mid-cancel.
    The failing await point is named: step through the verb to find which await it is.
    """
    probe = ctx.borrow()
    async with ctx.memory_over(probe) as mem:
        results = await _sweep_every_verb(ctx, probe, mem)
    ctx.note(sweep=results)
    inside = {verb: sum(r["cancelled_inside_provider"].values()) for verb, r in results.items()}
    ctx.note(cancelled_inside_provider=inside)
    if not any(any(r["provider_await_points"].values()) for r in results.values()):
        ctx.note(
            rated_on="the provider never suspends: there is no await point inside it to "
            "cancel, so only AsyncMemory's own await points were swept"
        )
    await usable(ctx, ctx.user("after-sweep"))
    await close_and_check_leaks(ctx)


async def _sweep_every_verb(
    ctx: CheckContext, probe: RecordingProvider, mem: AsyncMemory
) -> dict[str, dict[str, Any]]:
    audit = "audit" in ctx.capabilities.verbs
    results: dict[str, dict[str, Any]] = {}

    add_user = ctx.user("sweep-add")

    async def add_whole(_: Any, point: int) -> str | None:
        content = f"sweep add {point}"

        async def state() -> tuple[list[str], set[str], set[str]]:
            records = await ctx.list_all(add_user)
            entries = await _audit(ctx, add_user)
            copies = [r.id for r in records if r.content == content]
            logged = {e.memory_id for e in entries if e.action == "add" and e.memory_id}
            return copies, {r.id for r in records}, logged

        def problem(value: tuple[list[str], set[str], set[str]]) -> str | None:
            copies, live, logged = value
            if len(copies) > 1:
                return f"{len(copies)} copies of one add"
            if audit and set(copies) - logged:
                return "the memory was stored without its audit entry"
            if audit and logged - live:
                return f"audit entries for memories never stored: {sorted(logged - live)}"
            return None

        return problem(await eventually(state, lambda value: problem(value) is None))

    results["add"] = await _sweep(
        probe,
        "add",
        prepare=lambda point: _none(),
        operation=lambda _, point: lambda: mem.add(f"sweep add {point}", user_id=add_user),
        whole=add_whole,
    )

    update_user = ctx.user("sweep-update")

    async def update_prepare(point: int) -> MemoryRecord:
        return await ctx.add(f"v1 {point}", user_id=update_user, tags=["v1"])

    async def update_whole(record: MemoryRecord, point: int) -> str | None:
        old = (f"v1 {point}", ["v1"])
        new = (f"v2 {point}", ["v2"])

        async def state() -> tuple[tuple[str, list[str]], int]:
            now = await ctx.mem.get(record.id, user_id=update_user)
            entries = await _audit(ctx, update_user)
            logged = sum(1 for e in entries if e.action == "update" and e.memory_id == record.id)
            return (now.content, sorted(now.tags)), logged

        def consistent(value: tuple[tuple[str, list[str]], int]) -> bool:
            fields, logged = value
            if fields not in (old, new):
                return False
            return not audit or logged == (1 if fields == new else 0)

        fields, logged = await eventually(state, consistent)
        if fields not in (old, new):
            return f"half an update: content/tags are {fields}"
        if audit and logged != (1 if fields == new else 0):
            return f"memory is {'updated' if fields == new else 'unchanged'} but audit has {logged}"
        return None

    results["update"] = await _sweep(
        probe,
        "update",
        prepare=update_prepare,
        operation=lambda record, point: (
            lambda: mem.update(record.id, user_id=update_user, content=f"v2 {point}", tags=["v2"])
        ),
        whole=update_whole,
    )

    delete_user = ctx.user("sweep-delete")

    async def delete_prepare(point: int) -> MemoryRecord:
        return await ctx.add(f"to delete {point}", user_id=delete_user)

    async def delete_whole(record: MemoryRecord, point: int) -> str | None:
        async def state() -> tuple[bool, int]:
            try:
                await ctx.mem.get(record.id, user_id=delete_user)
                exists = True
            except NotFoundError:
                exists = False
            entries = await _audit(ctx, delete_user)
            logged = sum(1 for e in entries if e.action == "delete" and e.memory_id == record.id)
            return exists, logged

        def consistent(value: tuple[bool, int]) -> bool:
            exists, logged = value
            return not audit or logged == (0 if exists else 1)

        exists, logged = await eventually(state, consistent)
        if not consistent((exists, logged)):
            return f"memory {'exists' if exists else 'is gone'} but audit has {logged} delete(s)"
        return None

    results["delete"] = await _sweep(
        probe,
        "delete",
        prepare=delete_prepare,
        operation=lambda record, point: lambda: mem.delete(record.id, user_id=delete_user),
        whole=delete_whole,
    )

    search_user = ctx.user("sweep-search")
    await ctx.add_all([f"searchable {i}" for i in range(3)], user_id=search_user)

    async def search_whole(_: Any, point: int) -> str | None:
        hits = await ctx.mem.search("searchable", search_user)
        return None if hits else "search returns nothing after a cancelled search"

    results["search"] = await _sweep(
        probe,
        "search",
        prepare=lambda point: _none(),
        operation=lambda _, point: lambda: mem.search("searchable", search_user),
        whole=search_whole,
    )
    return results


async def _none() -> None:
    return None


async def _quiesce(ignore: set[asyncio.Task[Any]], within: float = 1.0) -> None:
    """Wait (bounded) until background tasks other than those in ``ignore`` have finished.

    Tasks still running after ``within`` seconds are long-lived (a pool's housekeeping,
    a client's keep-alive): they join ``ignore`` and are not waited for again.
    """
    deadline = time.monotonic() + within
    current = asyncio.current_task()
    while True:
        await asyncio.sleep(0)
        busy = {t for t in asyncio.all_tasks() if t is not current and not t.done()} - ignore
        if not busy:
            return
        if time.monotonic() >= deadline:
            ignore |= busy
            return
        await asyncio.sleep(0.002)
