"""OPTIONAL ``async_ingest``: queued adds (``async_mode=True``), events, ``wait_for_ingest``.

Run only for providers declaring ``features.async_ingest``; a declared one must pass.
"""

from __future__ import annotations

from openmem_conformance.check_context import CheckContext
from openmem_conformance.expect import expect_error
from openmem_conformance.registry import Tier, check

_EVENT_STATUSES = ("PENDING", "RUNNING", "SUCCEEDED", "FAILED")


@check(Tier.OPTIONAL, requires=("feature:async_ingest",))
async def async_add_is_queued_and_its_event_succeeds(ctx: CheckContext) -> None:
    """``add(async_mode=True)`` answers ``status="queued"`` with an ``event_id`` whose event
    reaches ``SUCCEEDED`` naming the memory, which then reads back with the content sent.

    Troubleshooting: write the job durably before answering (the answer is a promise), give
    every queued record of one call the same ``event_id``, and report ``memory_ids`` once
    the event succeeded. ``get_event`` returns one of PENDING, RUNNING, SUCCEEDED, FAILED.
    """
    user = ctx.user()
    queued = await ctx.mem.add("queued memory about tea", user_id=user, async_mode=True)
    assert queued.status == "queued", f"an async add came back status={queued.status!r}"
    assert queued.event_id, "an async add came back without an event_id"
    first = await ctx.mem.get_event(queued.event_id, user_id=user)
    assert first.status in _EVENT_STATUSES, f"unknown event status {first.status!r}"
    assert first.id == queued.event_id, "get_event returned another event"
    stored = await ctx.mem.wait_for_ingest([queued.event_id], user_id=user, timeout=60)
    assert [r.content for r in stored] == ["queued memory about tea"], (
        f"the event wrote {[r.content for r in stored]!r}"
    )
    event = await ctx.mem.get_event(queued.event_id, user_id=user)
    assert event.status == "SUCCEEDED", f"event ended {event.status!r}"
    assert event.memory_ids == [stored[0].id], "memory_ids do not name the memory written"
    assert event.attempts >= 1, "a succeeded event reports no attempt"
    again = await ctx.mem.get(stored[0].id, user_id=user)
    assert again.content == "queued memory about tea"


@check(Tier.OPTIONAL, requires=("feature:async_ingest", "feature:batch_add"))
async def async_batch_writes_each_item_exactly_once(ctx: CheckContext) -> None:
    """``add_many(async_mode=True)`` queues every item with an event; waiting for the events
    writes each item exactly once, in order.

    Troubleshooting: a provider may queue a batch as one event (postgres) or one per item
    (mem0 platform); either way a job run twice (a worker retried it) must not write a
    memory twice.
    """
    user = ctx.user()
    contents = [f"batch item {n}" for n in range(5)]
    queued = await ctx.mem.add_many(contents, user_id=user, async_mode=True)
    assert len(queued) == len(contents), f"{len(queued)} records for {len(contents)} items"
    assert all(r.status == "queued" for r in queued), "a batch item was not queued"
    events = list(dict.fromkeys(r.event_id for r in queued if r.event_id))
    assert len(events) == len({r.event_id for r in queued}), "a queued item has no event_id"
    stored = await ctx.mem.wait_for_ingest(events, user_id=user, timeout=60)
    assert [r.content for r in stored] == contents, "the events wrote other contents"
    listed = [r.content for r in await ctx.list_all(user)]
    assert sorted(listed) == sorted(contents), f"stored {len(listed)} memories for 5 items"


@check(Tier.OPTIONAL, requires=("feature:async_ingest",))
async def events_are_bounded_by_user(ctx: CheckContext) -> None:
    """Another user's event is ``not_found`` (never ``scope_denied``): no existence leak.

    Troubleshooting: look events up by namespace, user and id, like memories.
    """
    user, other = ctx.user(), ctx.user("other")
    queued = await ctx.mem.add("private queued memory", user_id=user, async_mode=True)
    assert queued.event_id
    await expect_error(
        ctx.mem.get_event(queued.event_id, user_id=other),
        "not_found",
        what="get_event of another user's event",
    )
    await expect_error(
        ctx.mem.get_event("evt_unknown", user_id=user), "not_found", what="an unknown event"
    )
    await ctx.mem.wait_for_ingest([queued.event_id], user_id=user, timeout=60)
