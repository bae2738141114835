"""REQUIRED: close is idempotent, verbs after close raise, loop binding raises early."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio.to_thread

from openmem.errors import ClosedError, EventLoopMismatchError
from openmem.memory import AsyncMemory
from openmem_conformance.check_context import CheckContext
from openmem_conformance.registry import Tier, check


def _every_verb(mem: AsyncMemory, user: str) -> list[tuple[str, Callable[[], Awaitable[Any]]]]:
    return [
        ("add", lambda: mem.add("x", user_id=user)),
        ("get", lambda: mem.get("mem_0", user_id=user)),
        ("update", lambda: mem.update("mem_0", user_id=user, content="y")),
        ("delete", lambda: mem.delete("mem_0", user_id=user)),
        ("list", lambda: mem.list(user)),
        ("search", lambda: mem.search("x", user)),
        ("context", lambda: mem.context("x", user)),
        ("audit", lambda: mem.audit(user)),
    ]


@check(Tier.REQUIRED)
async def close_is_idempotent_and_final(ctx: CheckContext) -> None:
    """close() can be called twice, finishes promptly, and every verb afterwards raises.

    Troubleshooting: ``Provider.close()`` must release everything and tolerate a second
    call (guard it with a flag); it must not hang on in-flight work (bound it with a
    timeout). ``AsyncMemory`` raises ``ClosedError`` for verbs after close.
    """
    user = ctx.user()
    await ctx.add("written before close", user_id=user)
    started = time.perf_counter()
    await ctx.mem.close()
    await ctx.mem.close()
    await ctx.raw.close()  # the provider itself must tolerate a second close
    elapsed = time.perf_counter() - started
    assert elapsed < 10, f"close took {elapsed:.1f} s"
    for verb, call in _every_verb(ctx.mem, user):
        try:
            await call()
        except ClosedError:
            continue
        except Exception as exc:
            raise AssertionError(
                f"{verb} after close raised {exc!r}, expected ClosedError"
            ) from exc
        raise AssertionError(f"{verb} after close succeeded; expected ClosedError")


@check(Tier.REQUIRED)
async def another_event_loop_is_refused_before_any_call(ctx: CheckContext) -> None:
    """A verb from another event loop raises EventLoopMismatchError before reaching the provider.

    Troubleshooting: this is ``AsyncMemory``'s job; it fails when a provider object keeps
    its own loop state that breaks the first loop after a call from a second one, or when
    the provider is reached at all (the recording proxy saw a call).
    """
    proxy = ctx.borrow()
    mem = ctx.memory_over(proxy)
    await mem.initialize()
    user = ctx.user()
    proxy.reset()

    def from_another_loop() -> list[str]:
        problems: list[str] = []

        async def attempt() -> None:
            for verb, call in _every_verb(mem, user):
                try:
                    await asyncio.wait_for(call(), timeout=5)
                except EventLoopMismatchError:
                    continue
                except BaseException as exc:  # reported, not raised, across the thread
                    problems.append(f"{verb}: {exc!r}")
                else:
                    problems.append(f"{verb}: succeeded")

        asyncio.run(attempt())
        return problems

    problems = await anyio.to_thread.run_sync(from_another_loop)
    assert not problems, f"verbs from another loop were not refused: {problems}"
    assert proxy.verb_calls == [], f"the provider was called from another loop: {proxy.calls}"
    # The first loop is still fine.
    record = await ctx.add("still works on the first loop", user_id=user)
    assert (await ctx.mem.get(record.id, user_id=user)).id == record.id
    await mem.close()
