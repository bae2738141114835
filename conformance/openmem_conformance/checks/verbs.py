"""REQUIRED: the contract of each verb, and the typed errors with stable codes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from openmem.models import new_memory_id
from openmem_conformance.check_context import CheckContext
from openmem_conformance.expect import assert_hits_well_formed, expect_error, same_fields
from openmem_conformance.registry import Tier, check

REQUIRED_VERBS = ("add", "get", "update", "delete", "list", "search")


@check(Tier.REQUIRED)
async def capabilities_are_well_formed(ctx: CheckContext) -> None:
    """capabilities() declares every REQUIRED verb, sane limits, and is stable.

    Troubleshooting: ``capabilities()`` must list add, get, update, delete, list and search
    in ``verbs``, set ``omp_version`` to "0.1", keep every limit positive, and return the same
    declaration on every call (it is cached by ``AsyncMemory`` and must not change).
    """
    caps = ctx.capabilities
    missing = [v for v in REQUIRED_VERBS if v not in caps.verbs]
    assert not missing, f"capabilities().verbs lacks REQUIRED verbs {missing}"
    assert caps.provider, "capabilities().provider is empty"
    assert caps.omp_version == "0.1", f"omp_version is {caps.omp_version!r}, expected '0.1'"
    limits = caps.limits
    for name in ("max_search_results", "max_list_limit", "max_batch_size", "max_token_budget"):
        assert getattr(limits, name) >= 1, f"limits.{name} must be at least 1"
    assert caps.features.max_content_length >= 1, "features.max_content_length must be >= 1"
    again = await ctx.raw.capabilities()
    assert again == caps, "capabilities() changed between two calls"


@check(Tier.REQUIRED)
async def add_returns_the_stored_record(ctx: CheckContext) -> None:
    """add() returns the stored memory with an id, and get() returns the same memory.

    Troubleshooting: the returned ``MemoryRecord`` must carry a non-empty ``id``, the caller's
    ``user_id``, the content verbatim, ``scope``, ``tags`` and ``metadata`` as given, and a
    timezone-aware ``created_at`` close to now. ``get(id)`` must return the same fields.
    """
    user = ctx.user()
    before = datetime.now(UTC) - timedelta(minutes=5)
    fields: dict[str, Any] = {"scope": "coding/python", "tags": ["style", "pref"]}
    if ctx.extended:  # metadata is openmem's; a foreign OMP 0.1 server is not asked for it
        fields["metadata"] = {"editor": "vim", "level": 3, "nested": {"ok": True}}
    record = await ctx.add("prefers type hints everywhere", user_id=user, **fields)
    assert record.id, "add returned a record without an id"
    expected = {"content": "prefers type hints everywhere", "user_id": user, **fields}
    same_fields(record, expected, what="add() result")
    assert record.created_at.tzinfo is not None, "created_at has no timezone"
    assert before <= record.created_at <= datetime.now(UTC) + timedelta(minutes=5), (
        f"created_at {record.created_at} is not close to now"
    )
    fetched = await ctx.mem.get(record.id, user_id=user)
    assert fetched.id == record.id, "get returned another memory"
    same_fields(fetched, expected, what="get() result")


@check(Tier.REQUIRED)
async def add_keeps_provenance_fields(ctx: CheckContext) -> None:
    """add() keeps source, confidence, agent_id and session_id, and get() returns them.

    Troubleshooting: OMP records carry ``source`` (app/type/ref), ``confidence`` in [0, 1]
    and openmem's ``agent_id`` / ``session_id``. A backend without columns for them must
    store them somewhere (e.g. its metadata) and map them back on every read.
    """
    user = ctx.user()
    fields = {
        "source": {"app": "conformance", "type": "explicit", "ref": "msg-42"},
        "confidence": 0.75,
        "agent_id": "agent-7",
        "session_id": "session-9",
    }
    record = await ctx.add("works on the billing service", user_id=user, **fields)
    same_fields(record, fields, what="add() result")
    same_fields(await ctx.mem.get(record.id, user_id=user), fields, what="get() result")


@check(Tier.REQUIRED)
async def by_id_verbs_on_unknown_id_raise_not_found(ctx: CheckContext) -> None:
    """get, update and delete of an id that does not exist raise not_found.

    Troubleshooting: map the backend's "no row" / 404 to ``NotFoundError`` (code
    ``not_found``). An id in a format the backend cannot parse is also "not found" (or
    ``invalid_request``), never a driver exception or ``provider_error``.
    """
    user = ctx.user()
    await ctx.add("something to make the user exist", user_id=user)
    for memory_id in (new_memory_id(), "not-a-memory-id", "mem_" + "0" * 26):
        codes = ("not_found",) if memory_id.startswith("mem_") else ("not_found", "invalid_request")
        await expect_error(ctx.mem.get(memory_id, user_id=user), *codes, what=f"get {memory_id}")
        await expect_error(
            ctx.mem.update(memory_id, user_id=user, content="x"), *codes, what="update unknown"
        )
        await expect_error(ctx.mem.delete(memory_id, user_id=user), *codes, what="delete unknown")


@check(Tier.REQUIRED)
async def update_is_a_merge_patch(ctx: CheckContext) -> None:
    """update() changes only the fields given; None clears; metadata merges key by key.

    Troubleshooting: build the new record with ``MemoryPatch.apply_to`` (or the same rules):
    omitted fields unchanged, explicit ``None`` clears (scope, tags), ``metadata`` merged
    with ``None`` values removing keys, ``updated_at`` set, ``id``/``created_at`` kept.
    """
    user = ctx.user()
    record = await ctx.add(
        "uses tabs", user_id=user, scope="coding", tags=["a", "b"], metadata={"x": 1, "y": 2}
    )
    updated = await ctx.mem.update(record.id, user_id=user, content="uses spaces")
    same_fields(
        updated,
        {"id": record.id, "content": "uses spaces", "scope": "coding", "tags": ["a", "b"]},
        what="update(content)",
    )
    assert updated.metadata == {"x": 1, "y": 2}, f"metadata changed to {updated.metadata}"
    assert updated.created_at == record.created_at, "update changed created_at"
    assert updated.updated_at is not None, "update did not set updated_at"
    assert updated.updated_at >= record.created_at, "updated_at is before created_at"
    patched = await ctx.mem.update(
        record.id, user_id=user, scope=None, tags=["c"], metadata={"x": None, "z": 3}
    )
    same_fields(patched, {"content": "uses spaces", "scope": None, "tags": ["c"]}, what="patch")
    assert patched.metadata == {"y": 2, "z": 3}, f"metadata merge gave {patched.metadata}"
    fetched = await ctx.mem.get(record.id, user_id=user)
    same_fields(
        fetched,
        {"content": "uses spaces", "scope": None, "tags": ["c"], "metadata": {"y": 2, "z": 3}},
        what="get() after update",
    )


@check(Tier.REQUIRED)
async def delete_removes_from_every_read(ctx: CheckContext) -> None:
    """After delete(), get raises not_found and list and search no longer return it.

    Troubleshooting: delete must remove the memory from every read path (including any
    search index or cache). A second delete of the same id raises ``not_found``.
    """
    user = ctx.user()
    gone = await ctx.add("the zebra quokka memory", user_id=user)
    kept = await ctx.add("the other memory stays", user_id=user)
    await ctx.mem.delete(gone.id, user_id=user)
    await expect_error(ctx.mem.get(gone.id, user_id=user), "not_found", what="get after delete")
    await expect_error(ctx.mem.delete(gone.id, user_id=user), "not_found", what="second delete")
    assert await ctx.ids(user) == {kept.id}, "list still returns the deleted memory"
    hits = await ctx.mem.search("zebra quokka memory", user, limit=10)
    assert gone.id not in {h.memory.id for h in hits}, "search still returns the deleted memory"


@check(Tier.REQUIRED)
async def search_results_are_well_formed(ctx: CheckContext) -> None:
    """search() returns scored hits in [0, 1], best first, within limit and min_score.

    Troubleshooting: normalise backend scores into [0, 1] (higher is better), sort best
    first, cut at ``limit``, and drop hits under ``min_score``. The exact text of a memory
    must find that memory among the first three hits.
    """
    user = ctx.user()
    contents = [
        "prefers dark mode in every editor",
        "drinks green tea in the morning",
        "lives in Lisbon near the river",
        "plays the cello on weekends",
        "allergic to peanuts and cashews",
        "writes Rust at work and Python at home",
    ]
    records = await ctx.add_all(contents, user_id=user)
    target = records[2]
    hits = await ctx.mem.search(target.content, user, limit=10)
    assert_hits_well_formed(hits, user_id=user, limit=10, what="search")
    top = [h.memory.id for h in hits[:3]]
    assert target.id in top, f"search for a memory's exact text did not rank it in the top 3: {top}"
    limited = await ctx.mem.search(target.content, user, limit=2)
    assert_hits_well_formed(limited, user_id=user, limit=2, what="search limit=2")
    if hits:
        floor = hits[0].score
        above = await ctx.mem.search(target.content, user, limit=10, min_score=floor)
        assert all(h.score >= floor for h in above), "search returned hits below min_score"
    for hit in hits:
        assert hit.memory.content in contents, f"search returned unknown content {hit.memory!r}"
    # A wire client told to clamp (``openmem conformance --base-url`` does, so that one bad
    # score fails this check alone instead of every check that searches) counts what it fixed.
    clamped = getattr(ctx.raw, "clamped_scores", 0)
    assert clamped == 0, f"the server answered {clamped} score(s) outside [0, 1] (clamped)"


@check(Tier.REQUIRED)
async def search_of_an_empty_user_returns_nothing(ctx: CheckContext) -> None:
    """search() and list() of a user without memories return empty results, not errors.

    Troubleshooting: a user nobody wrote for is not an error: return ``[]`` from search and
    an empty page with ``next_cursor=None`` from list.
    """
    user = ctx.user("nobody")
    assert await ctx.mem.search("anything at all", user) == [], "search of an empty user"
    page = await ctx.mem.list(user)
    assert page.items == [], f"list of an empty user: {page!r}"
    assert page.next_cursor is None, "list of an empty user has a next_cursor"


@check(Tier.REQUIRED)
async def invalid_arguments_raise_invalid_request(ctx: CheckContext) -> None:
    """Malformed arguments raise invalid_request naming the field, and write nothing.

    Troubleshooting: ``AsyncMemory`` validates most arguments; what reaches the provider
    (an unparsable cursor, a stale cursor of another query) must also raise
    ``InvalidRequestError``. Nothing may be written by a refused call.
    """
    user = ctx.user()
    cases: list[tuple[Callable[[], Awaitable[object]], str]] = [
        (lambda: ctx.mem.add("", user_id=user), "content"),
        (lambda: ctx.mem.add("ok", user_id=user, scope="a//b"), "scope"),
        (lambda: ctx.mem.add("ok", user_id=user, scope="a/*"), "scope"),
        (lambda: ctx.mem.add("ok", user_id=user, confidence=1.5), "confidence"),
        (lambda: ctx.mem.add("ok", user_id=user, tags=[""]), "tags"),
        (lambda: ctx.mem.list(user, limit=0), "limit"),
        (lambda: ctx.mem.search("", user), "query"),
        (lambda: ctx.mem.search("ok", user, limit=0), "limit"),
        (lambda: ctx.mem.search("ok", user, scope="bad scope"), "scope"),
    ]
    for call, field in cases:
        error = await expect_error(call(), "invalid_request", what=f"bad {field}")
        assert error.field is None or field in error.field, (
            f"bad {field}: error names field {error.field!r}"
        )
    await expect_error(
        ctx.mem.list(user, cursor="definitely-not-a-cursor"),
        "invalid_request",
        what="list with a malformed cursor",
    )
    assert await ctx.ids(user) == set(), "a refused call wrote a memory"
