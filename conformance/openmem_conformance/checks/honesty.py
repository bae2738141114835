"""HONESTY: declarations match behaviour.

A declared verb or feature must not refuse; an undeclared one must be refused with
``unsupported_capability`` before any I/O — by ``AsyncMemory`` (the provider is never
reached) and by the raw provider itself (it raises without suspending, so it cannot have
talked to its backend). That every *declared* OPTIONAL capability passes its own check is
part of the conformance level (see ``openmem_conformance.report``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from openmem.errors import OMPError, UnsupportedCapabilityError
from openmem.memory import AsyncMemory
from openmem.models import AuditQuery
from openmem_conformance.check_context import CheckContext
from openmem_conformance.registry import Tier, check

Attempt = tuple[str, Callable[[AsyncMemory, str], Awaitable[Any]]]
LONGEST_PROBED_CONTENT = 1_000_000


def _attempts(ctx: CheckContext) -> tuple[list[Attempt], list[Attempt]]:
    """(declared, undeclared) calls, one per optional verb and feature."""
    caps = ctx.capabilities
    features = caps.features
    table: list[tuple[bool, Attempt]] = [
        ("context" in caps.verbs, ("context", lambda m, u: m.context("x", u))),
        ("audit" in caps.verbs, ("audit", lambda m, u: m.audit(u))),
        (features.batch_add, ("add_many", lambda m, u: m.add_many(["x"], user_id=u))),
        (features.forget_user, ("forget_user", lambda m, u: m.forget_user(u))),
        (
            features.keyword_search,
            ("keyword search", lambda m, u: m.search("x", u, mode="keyword")),
        ),
        (features.hybrid_search, ("hybrid search", lambda m, u: m.search("x", u, mode="hybrid"))),
        (
            features.vector_search,
            ("semantic search", lambda m, u: m.search("x", u, mode="semantic")),
        ),
        (
            features.metadata_filters,
            ("metadata filters", lambda m, u: m.search("x", u, filters={"k": "v"})),
        ),
        (
            features.idempotency,
            ("idempotency_key", lambda m, u: m.add("x", user_id=u, idempotency_key="k")),
        ),
    ]
    declared = [attempt for ok, attempt in table if ok]
    undeclared = [attempt for ok, attempt in table if not ok]
    return declared, undeclared


@check(Tier.HONESTY)
async def undeclared_capabilities_are_refused_before_any_io(ctx: CheckContext) -> None:
    """Every undeclared verb or feature raises unsupported_capability; the provider is not called.

    Troubleshooting: declare in ``capabilities()`` exactly what works. ``AsyncMemory`` gates
    on the declaration, so this fails when the declaration and the gate disagree, e.g. a
    ``capabilities()`` that changes between calls.
    """
    _, undeclared = _attempts(ctx)
    proxy = ctx.borrow()
    async with ctx.memory_over(proxy) as mem:
        user = ctx.user()
        proxy.reset()
        for what, call in undeclared:
            try:
                await call(mem, user)
            except UnsupportedCapabilityError:
                continue
            except Exception as exc:
                raise AssertionError(
                    f"undeclared {what} raised {exc!r}, expected unsupported_capability"
                ) from exc
            raise AssertionError(f"undeclared {what} succeeded, expected unsupported_capability")
        assert proxy.verb_calls == [], f"undeclared calls reached the provider: {proxy.verb_calls}"
    ctx.note(undeclared=[what for what, _ in undeclared])


@check(Tier.HONESTY)
async def undeclared_verbs_of_the_raw_provider_refuse_without_io(ctx: CheckContext) -> None:
    """Called directly, an undeclared audit or forget_user raises unsupported_capability at once.

    Troubleshooting: servers and other front ends call providers directly. An undeclared
    optional verb must raise ``UnsupportedCapabilityError`` before its first ``await`` of
    anything that does I/O (the base ``Provider`` methods already do): this check runs the
    coroutine one step and fails if it suspends.
    """
    caps = ctx.capabilities
    caller = ctx.caller(ctx.user())
    probes: list[tuple[str, Coroutine[Any, Any, Any]]] = []
    if "audit" not in caps.verbs:
        probes.append(("audit", ctx.raw.audit(caller, AuditQuery())))
    if not caps.features.forget_user:
        probes.append(("forget_user", ctx.raw.forget_user(caller)))
    try:
        for what, coro in probes:
            try:
                coro.send(None)
            except UnsupportedCapabilityError:
                continue
            except StopIteration as done:
                raise AssertionError(
                    f"undeclared {what} returned {done.value!r}; expected unsupported_capability"
                ) from None
            except Exception as exc:
                raise AssertionError(
                    f"undeclared {what} raised {exc!r}; expected unsupported_capability"
                ) from exc
            raise AssertionError(
                f"undeclared {what} suspended (awaited I/O) instead of refusing at once"
            )
    finally:
        for _, coro in probes:
            coro.close()
    ctx.note(probed=[what for what, _ in probes])


@check(Tier.HONESTY)
async def declared_capabilities_do_not_refuse(ctx: CheckContext) -> None:
    """Every declared verb and feature runs: no unsupported_capability, no NotImplementedError.

    Troubleshooting: a capability may only be declared once it is implemented; a method
    that exists but raises ``NotImplementedError`` or ``UnsupportedCapabilityError`` is an
    overstated declaration. Other typed errors (e.g. ``conflict``) are accepted here.
    """
    declared, _ = _attempts(ctx)
    user = ctx.user()
    for what, call in declared:
        try:
            await call(ctx.mem, user)
        except UnsupportedCapabilityError as exc:
            raise AssertionError(f"declared {what} refused: {exc}") from exc
        except NotImplementedError as exc:
            raise AssertionError(f"declared {what} is not implemented") from exc
        except OMPError:
            continue
    ctx.note(declared=[what for what, _ in declared])


@check(Tier.HONESTY)
async def declared_limits_are_accepted(ctx: CheckContext) -> None:
    """Requests at exactly the declared limits succeed (content length, page sizes, budget).

    Troubleshooting: ``capabilities().limits`` and ``features.max_content_length`` are
    promises: a list of ``max_list_limit`` items, a search of ``max_search_results`` hits, a
    context of ``max_token_budget`` tokens and a memory of ``max_content_length`` characters
    must all be accepted. Declare the limits the backend really has.
    """
    caps = ctx.capabilities
    user = ctx.user()
    length = caps.features.max_content_length
    if length <= LONGEST_PROBED_CONTENT:
        record = await ctx.add("x" * length, user_id=user)
        stored = await ctx.mem.get(record.id, user_id=user)
        assert len(stored.content) == length, (
            f"a memory of max_content_length={length} came back {len(stored.content)} long"
        )
    else:
        ctx.note(max_content_length="not probed: above the probe cap")
        await ctx.add("a memory", user_id=user)
    await ctx.mem.list(user, limit=caps.limits.max_list_limit)
    await ctx.mem.search("memory", user, limit=caps.limits.max_search_results)
    if "context" in caps.verbs:
        await ctx.mem.context("memory", user, token_budget=caps.limits.max_token_budget)
