"""HONESTY: every declarable capability is either checked here or cannot be declared.

``models.CapabilityFeatures`` promises that every ``True`` is proven by a check. The verbs
and most features have their own OPTIONAL check; this module covers the rest: features
OMP 0.1 gives no testable behaviour (``graph_queries``, ``supports_e2e``) may not be
declared at all, ``supports_audit`` needs the verb its check runs on, ingestion status must
match ``async_ingestion``, and a declared ``rate_limit_per_minute`` must be
enforced with ``rate_limited``.
"""

from __future__ import annotations

import asyncio

from openmem.errors import OMPError, RateLimitedError
from openmem_conformance.check_context import CheckContext
from openmem_conformance.registry import Tier, check

UNPROVABLE_FEATURES = ("graph_queries", "supports_e2e")
"""Features OMP 0.1 names but defines no observable behaviour for: never declarable."""

LARGEST_PROBED_RATE_LIMIT = 1000
"""Calls per minute the suite can make within a check to prove a declared rate limit."""

UNDECLARED_BURST = 100
"""Calls a provider without a declared rate limit must serve back to back."""

INGESTION_TIMEOUT = 30.0


@check(Tier.HONESTY)
async def only_provable_features_are_declared(ctx: CheckContext) -> None:
    """No feature is declared that no check can prove; supports_audit needs the audit verb.

    Troubleshooting: ``graph_queries`` and ``supports_e2e`` have no behaviour in OMP 0.1
    that a client could rely on or the suite could observe, so declaring them is a claim
    nobody can check: declare them ``false``. ``supports_audit`` is proven by the audit
    check, which runs only when the ``audit`` verb is declared: declare both or neither.
    ``scopes`` needs no check of its own: the REQUIRED scope checks prove the grammar of
    spec §4 on every read, whatever is declared.
    """
    features = ctx.capabilities.features
    claimed = [name for name in UNPROVABLE_FEATURES if getattr(features, name) is True]
    assert not claimed, f"declares {', '.join(claimed)}, which no conformance check can prove"
    if features.supports_audit:
        assert "audit" in ctx.capabilities.verbs, (
            "declares supports_audit without the audit verb: nothing can prove it"
        )


@check(Tier.HONESTY, timeout=90)
async def ingestion_status_matches_the_declaration(ctx: CheckContext) -> None:
    """Adds come back done unless async_ingestion is declared; queued ones become readable.

    Troubleshooting: without ``features.async_ingestion`` an add must return a stored,
    readable record (``status`` absent or ``done``). With it, an add may return ``queued``
    or ``indexing``, and ``get`` must then report progress until the memory is ``done`` and
    readable by get, list and search (``AsyncMemory.wait_for_ingest`` polls ``get``).
    """
    user = ctx.user()
    contents = [f"ingested memory number {i} about lighthouses" for i in range(3)]
    records = [await ctx.mem.add(content, user_id=user) for content in contents]
    statuses = [r.status for r in records]
    pending = [r for r in records if r.status in ("queued", "indexing")]
    ctx.note(statuses=statuses)
    assert all(s in (None, "done", "queued", "indexing") for s in statuses), (
        f"add returned statuses {statuses}"
    )
    if not ctx.async_ingestion:
        assert not pending, (
            f"add returned {[r.status for r in pending]} without declaring async_ingestion"
        )
    else:
        ctx.note(queued=len(pending))
    ready = await ctx.mem.wait_for_ingest(
        [r.id for r in records], user_id=user, timeout=INGESTION_TIMEOUT
    )
    assert [r.content for r in ready] == contents, "wait_for_ingest returned other memories"
    for record in records:
        fetched = await ctx.mem.get(record.id, user_id=user)
        assert fetched.status in (None, "done"), f"ingested memory is {fetched.status}"
    assert await ctx.ids(user) == {r.id for r in records}, "ingested memories missing in list"
    hits = await ctx.mem.search("lighthouses", user, limit=10)
    assert {h.memory.id for h in hits} == {r.id for r in records}, (
        "ingested memories missing in search"
    )


@check(Tier.HONESTY, timeout=120)
async def rate_limit_matches_the_declaration(ctx: CheckContext) -> None:
    """A declared rate_limit_per_minute is enforced; without one, a burst is never refused.

    Troubleshooting: with ``limits.rate_limit_per_minute = N``, the (N+1)-th call of one
    caller within a minute must raise ``rate_limited`` (HTTP 429, retryable, with
    ``Retry-After`` on the wire). Only limits up to 1000 can be proven inside a check;
    declare ``null`` rather than a limit you do not enforce. A provider that declares no
    limit must serve a burst of 100 calls: a limit it enforces must be declared.
    """
    limit = ctx.capabilities.limits.rate_limit_per_minute
    user = ctx.user()
    if limit is None:
        for _ in range(UNDECLARED_BURST):
            try:
                await ctx.mem.list(user, limit=1)
            except RateLimitedError as exc:
                raise AssertionError(
                    "rate_limited within a burst of "
                    f"{UNDECLARED_BURST} calls, but no rate_limit_per_minute is declared"
                ) from exc
        ctx.note(declared=None, burst_served=UNDECLARED_BURST)
        return
    assert 0 < limit <= LARGEST_PROBED_RATE_LIMIT, (
        f"rate_limit_per_minute={limit} cannot be proven within a check (at most "
        f"{LARGEST_PROBED_RATE_LIMIT}): declare null or a limit the suite can observe"
    )
    refused: OMPError | None = None
    calls = 0
    async with asyncio.timeout(55):  # within the minute the limit counts
        while calls <= limit:
            calls += 1
            try:
                await ctx.mem.list(user, limit=1)
            except RateLimitedError as exc:
                refused = exc
                break
    ctx.note(declared=limit, calls_until_refused=calls if refused else None)
    assert refused is not None, f"{calls} calls within a minute, none was rate_limited"
    assert calls > limit, f"rate_limited after {calls} calls, below the declared {limit}"
    assert refused.retryable, "rate_limited must be retryable"
