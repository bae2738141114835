"""ROBUSTNESS: many concurrent callers, and bad input that must be refused cleanly."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from openmem.models import ListQuery, MemoryPatch, MemoryRecord
from openmem_conformance.check_context import CheckContext
from openmem_conformance.expect import expect_error
from openmem_conformance.registry import Tier, check

HUGE_CONTENT_CAP = 5_000_000
USERS = 20
OPERATIONS = 200


@check(Tier.ROBUSTNESS, timeout=180)
async def concurrent_mixed_verbs_lose_and_leak_nothing(ctx: CheckContext) -> None:
    """200 concurrent mixed verbs across 20 users: 0 errors, 0 lost writes, 0 leaked reads.

    Troubleshooting: every call must take its own connection (or serialise on the
    provider's own lock); no shared cursor, session or transaction across tasks; bound the
    pool and wait on it rather than failing. Reads of one user must never see another
    user's rows under load (no shared mutable query state).
    """
    rng = random.Random(ctx.token)
    users = [ctx.user(f"c{i}") for i in range(USERS)]
    seeded: dict[str, list[MemoryRecord]] = {}
    for user in users:
        seeded[user] = await ctx.add_all([f"{user} seed {k}" for k in range(3)], user_id=user)
    expected: dict[str, dict[str, str]] = {
        u: {r.id: r.content for r in rs} for u, rs in seeded.items()
    }
    deletable: dict[str, list[str]] = {u: [rs[0].id] for u, rs in seeded.items()}
    updatable: dict[str, list[str]] = {u: [rs[1].id] for u, rs in seeded.items()}
    readable: dict[str, list[str]] = {u: [rs[2].id] for u, rs in seeded.items()}
    acknowledged: dict[str, set[str]] = {ids[0]: set() for ids in updatable.values()}
    leaks: list[str] = []
    errors: list[str] = []

    def own(user: str, records: list[MemoryRecord], what: str) -> None:
        strangers = {r.user_id for r in records} - {user}
        foreign = [r.id for r in records if not r.content.startswith(f"{user} ")]
        if strangers or foreign:
            leaks.append(f"{what} for {user} returned memories of {strangers or foreign}")

    async def op_add(user: str, n: int) -> None:
        content = f"{user} concurrent add {n}"
        record = await ctx.add(content, user_id=user)
        if record.user_id != user:
            leaks.append(f"add for {user} returned a record of {record.user_id}")
        expected[user][record.id] = content

    async def op_update(user: str, n: int) -> None:
        if not updatable[user]:
            return
        memory_id = updatable[user][0]
        content = f"{user} updated {n}"
        record = await ctx.mem.update(memory_id, user_id=user, content=content)
        own(user, [record], "update")
        # Concurrent updates of one memory may be acknowledged in another order than they
        # were applied: any acknowledged one may be the last.
        acknowledged[memory_id].add(content)

    async def op_delete(user: str, n: int) -> None:
        if not deletable[user]:
            return
        memory_id = deletable[user].pop()
        await ctx.mem.delete(memory_id, user_id=user)
        expected[user].pop(memory_id, None)

    async def op_get(user: str, n: int) -> None:
        record = await ctx.mem.get(readable[user][0], user_id=user)
        own(user, [record], "get")

    async def op_list(user: str, n: int) -> None:
        page = await ctx.mem.list(user, limit=10)
        own(user, page.items, "list")

    async def op_search(user: str, n: int) -> None:
        hits = await ctx.mem.search(f"{user} seed", user, limit=5)
        own(user, [h.memory for h in hits], "search")

    kinds: list[Callable[[str, int], Awaitable[None]]] = [
        op_add,
        op_add,
        op_add,
        op_update,
        op_delete,
        op_get,
        op_list,
        op_search,
        op_search,
    ]

    async def run(n: int) -> None:
        user = users[n % USERS]
        operation = rng.choice(kinds)
        try:
            await operation(user, n)
        except Exception as exc:
            errors.append(f"{operation.__name__}({user}): {exc!r}")

    await asyncio.gather(*(run(n) for n in range(OPERATIONS)))
    assert not errors, f"{len(errors)} of {OPERATIONS} concurrent calls failed: {errors[:5]}"
    assert not leaks, f"{len(leaks)} leaks under concurrency: {leaks[:5]}"
    lost: list[str] = []
    for user in users:
        stored = {r.id: r.content for r in await ctx.list_all(user)}
        for memory_id, contents in acknowledged.items():
            if memory_id in expected[user] and contents:
                now = stored.get(memory_id)
                expected[user][memory_id] = now if now in contents else "an acknowledged update"
        if stored != expected[user]:
            missing = set(expected[user]) - set(stored)
            extra = set(stored) - set(expected[user])
            changed = {
                i for i in set(stored) & set(expected[user]) if stored[i] != expected[user][i]
            }
            lost.append(f"{user}: missing {len(missing)}, extra {len(extra)}, stale {len(changed)}")
    assert not lost, f"state after concurrent verbs differs from what was acknowledged: {lost[:5]}"
    ctx.note(operations=OPERATIONS, users=USERS)


@check(Tier.ROBUSTNESS)
async def bad_input_is_refused_and_writes_nothing(ctx: CheckContext) -> None:
    """NUL bytes, huge content, malformed ids and cursors, out-of-range limits: typed errors.

    Troubleshooting: every one of these must raise a typed ``OMPError`` (``invalid_request``,
    ``payload_too_large`` or ``not_found`` for ids), never a driver exception, a traceback
    or a 500, and nothing may be stored. PostgreSQL rejects NUL in text: validate before.
    Bad ids and cursors are also sent to the raw provider, past ``AsyncMemory``'s own
    validation: the provider must refuse them with the same typed errors.
    """
    user = ctx.user()
    keep = await ctx.add("the one legitimate memory", user_id=user)
    limit = ctx.capabilities.features.max_content_length
    invalid = ("invalid_request", "payload_too_large")
    cases: list[tuple[str, Callable[[], Awaitable[Any]], tuple[str, ...]]] = [
        ("NUL in content", lambda: ctx.mem.add("a\x00b", user_id=user), invalid),
        ("NUL in scope", lambda: ctx.mem.add("ok", user_id=user, scope="a\x00"), invalid),
        ("NUL in tag", lambda: ctx.mem.add("ok", user_id=user, tags=["t\x00"]), invalid),
        (
            "NUL in metadata",
            lambda: ctx.mem.add("ok", user_id=user, metadata={"k": "v\x00"}),
            invalid,
        ),
        ("NUL in user_id", lambda: ctx.mem.add("ok", user_id="u\x00"), invalid),
        ("huge content", lambda: ctx.mem.add("x" * (limit + 1), user_id=user), invalid),
        (
            "huge update",
            lambda: ctx.mem.update(keep.id, user_id=user, content="y" * (limit + 1)),
            invalid,
        ),
        (
            "NUL in id",
            lambda: ctx.mem.get("mem_\x00", user_id=user),
            ("invalid_request", "not_found"),
        ),
        (
            "huge id",
            lambda: ctx.mem.get("m" * 10_000, user_id=user),
            ("invalid_request", "not_found"),
        ),
        (
            "malformed id",
            lambda: ctx.mem.delete("'; DROP TABLE memories; --", user_id=user),
            ("invalid_request", "not_found"),
        ),
        (
            "garbage cursor",
            lambda: ctx.mem.list(user, cursor="%%%not-base64%%%"),
            ("invalid_request",),
        ),
        ("forged cursor", lambda: ctx.mem.list(user, cursor="eyJ4IjogMX0"), ("invalid_request",)),
        ("list limit 0", lambda: ctx.mem.list(user, limit=0), ("invalid_request",)),
        ("list limit -1", lambda: ctx.mem.list(user, limit=-1), ("invalid_request",)),
        ("list limit huge", lambda: ctx.mem.list(user, limit=10**9), ("invalid_request",)),
        ("search limit 0", lambda: ctx.mem.search("x", user, limit=0), ("invalid_request",)),
        ("search limit huge", lambda: ctx.mem.search("x", user, limit=10**9), ("invalid_request",)),
        ("min_score > 1", lambda: ctx.mem.search("x", user, min_score=2.0), ("invalid_request",)),
        ("huge query", lambda: ctx.mem.search("q" * 100_000, user), ("invalid_request",)),
    ]
    if limit > HUGE_CONTENT_CAP:  # a limit this large cannot be probed by exceeding it
        cases = [case for case in cases if not case[0].startswith("huge ")]
        ctx.note(huge_content="not probed: max_content_length is above the probe cap")
    for what, call, codes in cases:
        await expect_error(call(), *codes, what=what)
    if ctx.capabilities.features.temporal:
        # Only the merged record is invalid (valid_to before the stored valid_from): the
        # provider itself must refuse it, and atomically.
        dated = await ctx.add("dated memory", user_id=user, valid_from=datetime.now(UTC))
        await expect_error(
            ctx.mem.update(
                dated.id,
                user_id=user,
                content="changed by a refused update",
                valid_to=datetime.now(UTC) - timedelta(days=1),
            ),
            "invalid_request",
            what="update whose merged validity window is inverted",
        )
        after = await ctx.mem.get(dated.id, user_id=user)
        assert after.content == "dated memory", "a refused update wrote part of itself"
        await ctx.mem.delete(dated.id, user_id=user)
    await _raw_provider_refuses_bad_input(ctx, user)
    assert await ctx.ids(user) == {keep.id}, "refused input left something stored"
    fetched = await ctx.mem.get(keep.id, user_id=user)
    assert fetched.content == keep.content, "a refused update changed the memory"


async def _raw_provider_refuses_bad_input(ctx: CheckContext, user: str) -> None:
    """The same bad ids and cursors straight to the provider, past AsyncMemory's checks.

    ``AsyncMemory`` refuses most of these first, so only the raw calls show how the
    provider itself copes (the server or another front end may not validate the same way).
    """
    caller = ctx.caller(user)
    raw = ctx.raw
    not_found = ("invalid_request", "not_found")
    bad_ids = {
        "NUL in id": "mem_\x00",
        "huge id": "m" * 10_000,
        "malformed id": "'; DROP TABLE memories; --",
        "unicode id": "mem_\u00e9\U0001f600",
    }
    cases: list[tuple[str, Callable[[], Awaitable[Any]], tuple[str, ...]]] = []
    for label, bad in bad_ids.items():
        cases += [
            (f"raw get, {label}", partial(raw.get, caller, bad), not_found),
            (
                f"raw update, {label}",
                partial(raw.update, caller, bad, MemoryPatch(content="x")),
                not_found,
            ),
            (f"raw delete, {label}", partial(raw.delete, caller, bad), not_found),
        ]
    for label, cursor in (
        ("garbage cursor", "%%%not-base64%%%"),
        ("forged cursor", "eyJ4IjogMX0"),
        ("NUL cursor", "\x00"),
    ):
        cases.append(
            (
                f"raw list, {label}",
                partial(raw.list, caller, ListQuery(cursor=cursor)),
                ("invalid_request",),
            )
        )
    for what, call, codes in cases:
        await expect_error(call(), *codes, what=what)
    ctx.note(raw_provider_cases=len(cases))
