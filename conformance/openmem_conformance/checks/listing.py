"""REQUIRED: list order and pagination, list filters, and the scope grammar."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable
from datetime import timedelta

from openmem.models import MemoryRecord
from openmem.scopes import scope_matches
from openmem_conformance.check_context import CheckContext
from openmem_conformance.registry import Tier, check

SCOPES = [
    "coding",
    "coding/python",
    "coding/python/style",
    "codingstyle",
    "writing/style",
    "writing/style/short",
    "travel",
]
PATTERNS = ["coding", "coding/*", "*/style", "coding/python", "writing", "*", "nomatch"]


@check(Tier.REQUIRED)
async def list_is_newest_first(ctx: CheckContext) -> None:
    """list() returns memories newest first: created_at descending, then id descending.

    Troubleshooting: order by ``(created_at, id)`` descending in the backend query itself
    (not after fetching a page), so pages concatenate into one ordered sequence.
    """
    user = ctx.user()
    records = await ctx.add_all([f"memory number {i}" for i in range(6)], user_id=user)
    listed = await ctx.list_all(user, page_size=50)
    keys = [(r.created_at, r.id) for r in listed]
    assert keys == sorted(keys, reverse=True), "list is not ordered newest first"
    assert {r.id for r in listed} == {r.id for r in records}, "list lost or invented memories"
    by_time = sorted(records, key=lambda r: (r.created_at, r.id), reverse=True)
    assert [r.id for r in listed] == [r.id for r in by_time], "list order differs from created_at"


@check(Tier.REQUIRED)
async def list_pagination_is_complete(ctx: CheckContext) -> None:
    """Paging through list() returns every memory once, with no empty last page.

    Troubleshooting: use a keyset cursor on ``(created_at, id)``; set ``next_cursor`` only
    when another non-empty page exists (fetch ``limit + 1`` rows to know). A full last page
    must come back with ``next_cursor=None``.
    """
    user = ctx.user()
    records = await ctx.add_all([f"page item {i}" for i in range(12)], user_id=user)
    want = {r.id for r in records}
    for size in (1, 5, 6, 12, 13, 50):
        pages = []
        cursor = None
        for _ in range(len(records) + 2):
            page = await ctx.mem.list(user, limit=size, cursor=cursor)
            pages.append(page)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        sizes = [len(p.items) for p in pages]
        assert pages[-1].next_cursor is None, f"limit={size}: pagination never ended: {sizes}"
        assert all(sizes), f"limit={size}: an empty page: {sizes}"
        assert all(s == size for s in sizes[:-1]), f"limit={size}: short page before the end"
        seen = [r.id for p in pages for r in p.items]
        assert len(seen) == len(set(seen)), f"limit={size}: a memory appeared twice"
        assert set(seen) == want, f"limit={size}: {len(want - set(seen))} memories missing"
        expected_pages = -(-len(records) // size)
        assert len(pages) == expected_pages, (
            f"limit={size}: {len(pages)} pages for {len(records)} memories, "
            f"expected {expected_pages} (an empty last page?)"
        )


@check(Tier.REQUIRED, timeout=120)
async def list_pagination_is_stable_under_concurrent_inserts(ctx: CheckContext) -> None:
    """Paging while other tasks insert still returns every earlier memory exactly once.

    Troubleshooting: an offset-based cursor shifts when rows are inserted, repeating or
    skipping items; a keyset cursor on ``(created_at, id)`` does not. New memories are
    newer than the cursor, so they may only appear on the first page.
    """
    user = ctx.user()
    records = await ctx.add_all([f"stable item {i}" for i in range(15)], user_id=user)
    want = {r.id for r in records}
    inserted = 0

    def insert() -> Awaitable[MemoryRecord]:
        nonlocal inserted
        inserted += 1
        return ctx.add(f"concurrent insert {inserted}", user_id=user)

    seen: list[str] = []
    cursor = None
    for _ in range(100):
        # One insert races each page fetch, as it would in production. Whether it lands
        # before or after the fetch depends on how fast the provider embeds, so the catch
        # never rests on it: two more inserts are written and readable before the next page
        # is asked for, at every page boundary, however slow or fast the provider is.
        racing = asyncio.ensure_future(insert())
        try:
            page = await ctx.mem.list(user, limit=4, cursor=cursor)
        finally:
            await racing
        assert page.items or page.next_cursor is None, "an empty page with a next_cursor"
        seen.extend(r.id for r in page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
        await asyncio.gather(insert(), insert())
    assert len(seen) == len(set(seen)), "a memory appeared twice while others were inserted"
    missing = want - set(seen)
    assert not missing, f"{len(missing)} earlier memories were skipped during concurrent inserts"
    ctx.note(concurrent_inserts=inserted)


@check(Tier.REQUIRED)
async def list_filters_by_scope_tags_and_time(ctx: CheckContext) -> None:
    """list() filters by scope, by tags (all must match) and by created_at since/until.

    Troubleshooting: ``tags`` keeps memories carrying every listed tag; ``since`` is
    inclusive and ``until`` exclusive on ``created_at``; ``scope`` follows the scope grammar
    (see scope_grammar_is_the_same_on_every_read).
    """
    user = ctx.user()
    a = await ctx.add("alpha", user_id=user, scope="work", tags=["x", "y"])
    b = await ctx.add("beta", user_id=user, scope="work/mail", tags=["x"])
    c = await ctx.add("gamma", user_id=user, scope="home", tags=["y"])
    assert await ctx.ids(user, scope="work") == {a.id, b.id}, "list scope=work"
    assert await ctx.ids(user, tags=["x"]) == {a.id, b.id}, "list tags=[x]"
    assert await ctx.ids(user, tags=["x", "y"]) == {a.id}, "list tags=[x, y] (all must match)"
    assert await ctx.ids(user, since=b.created_at) >= {b.id, c.id}, "list since is inclusive"
    assert a.id not in await ctx.ids(user, since=a.created_at + timedelta(microseconds=1)), (
        "list since leaves out what was created before it"
    )
    assert await ctx.ids(user, until=a.created_at) == set(), "list until is exclusive"
    later = c.created_at + timedelta(seconds=1)
    assert await ctx.ids(user, until=later) == {a.id, b.id, c.id}, "list until"


@check(Tier.REQUIRED)
async def search_filters_by_tags(ctx: CheckContext) -> None:
    """search(tags=...) returns only memories carrying every listed tag.

    Troubleshooting: apply the tag filter inside the search query, before ``limit`` (an
    array-contains ``tags @> $n`` in SQL), not by dropping hits afterwards, which returns
    short or empty pages.
    """
    user = ctx.user()
    both = await ctx.add("garden plan for spring", user_id=user, tags=["garden", "plan"])
    one = await ctx.add("garden tools list", user_id=user, tags=["garden"])
    # Untagged memories that match the query better than the tagged ones: a filter applied
    # after the cut at ``limit`` is left with nothing.
    await ctx.add_all([f"garden note number {i}" for i in range(6)], user_id=user)
    query = "garden note number"
    hits = await ctx.mem.search(query, user, tags=["garden"], limit=10)
    assert {h.memory.id for h in hits} == {both.id, one.id}, "search tags=[garden]"
    hits = await ctx.mem.search(query, user, tags=["garden", "plan"], limit=10)
    assert {h.memory.id for h in hits} == {both.id}, "search tags=[garden, plan] (all must match)"
    hits = await ctx.mem.search(query, user, tags=["garden"], limit=2)
    assert len(hits) == 2, "a tag filter applied after the limit leaves the page short"


@check(Tier.REQUIRED)
async def scope_grammar_is_the_same_on_every_read(ctx: CheckContext) -> None:
    """list and search apply scope filters exactly as openmem.scopes.scope_matches does.

    Troubleshooting: a filter ``coding`` matches ``coding`` and ``coding/...`` but never
    ``codingstyle``; ``*`` matches one segment; a memory without scope matches no filter.
    Translate filters with ``openmem.scopes.scope_regex`` rather than ``LIKE 'coding%'``.
    """
    user = ctx.user()
    records = {}
    for scope in SCOPES:
        records[scope] = await ctx.add(f"note about scope topic {scope}", user_id=user, scope=scope)
    unscoped = await ctx.add("note about scope topic none", user_id=user)
    for pattern in PATTERNS:
        want = {r.id for s, r in records.items() if scope_matches(pattern, s)}
        assert await ctx.ids(user, scope=pattern) == want, f"list scope={pattern!r}"
        hits = await ctx.mem.search("note about scope topic", user, scope=pattern, limit=20)
        got = {h.memory.id for h in hits}
        assert got <= want, f"search scope={pattern!r} returned {len(got - want)} outsiders"
        assert unscoped.id not in got, f"search scope={pattern!r} returned an unscoped memory"
        assert got or not want, f"search scope={pattern!r} found none of {len(want)} matches"
    everything = await ctx.ids(user)
    assert unscoped.id in everything, "list without a scope filter must return unscoped memories"


@check(Tier.REQUIRED, timeout=120)
async def list_pagination_survives_ties_deletes_and_limits(ctx: CheckContext) -> None:
    """Paging finds every memory once across equal timestamps, deletes, updates and big pages.

    Troubleshooting: the keyset cursor must break ties on ``id`` at full timestamp
    precision (``(created_at, id) < (cursor_time, cursor_id)``): a cursor that compares the
    time alone, or a rounded time, skips memories written in the same instant (a batch,
    one transaction, a coarse clock). Deleting a memory already seen, or updating one not
    yet seen, must neither skip nor repeat the others (an offset cursor skips one). A page
    at the declared ``max_list_limit`` must be accepted and complete.
    """
    user = ctx.user()
    contents = [f"tie item {i} \u00e9\u4e2d\U0001f600" for i in range(12)]
    if ctx.capabilities.features.batch_add:
        # One batch is one instant on most backends: timestamps tie.
        records = await ctx.settle(await ctx.mem.add_many(contents, user_id=user), user_id=user)
    else:
        records = await ctx.add_all(contents, user_id=user)
    instants = Counter(r.created_at for r in records)
    tied = sum(n for n in instants.values() if n > 1)
    ctx.note(memories_sharing_a_timestamp=tied)
    if not tied:
        ctx.note(
            rated_on="no two of the 12 memories shared a created_at, so the tie-break on id "
            "was not exercised (only distinct instants were paged)"
        )
    want = {r.id for r in records}
    for size in (1, 3, 5):
        seen = [r.id for page in await _pages(ctx, user, size) for r in page]
        assert len(seen) == len(set(seen)), f"limit={size}: a memory appeared twice"
        assert set(seen) == want, f"limit={size}: {len(want - set(seen))} memories skipped"

    # Between two pages: delete one already seen, update one not yet seen.
    first = await ctx.mem.list(user, limit=4)
    assert first.next_cursor is not None, "12 memories fit on a page of 4"
    gone = first.items[1].id
    await ctx.mem.delete(gone, user_id=user)
    later = (want - {r.id for r in first.items}).pop()
    await ctx.mem.update(later, user_id=user, content="updated between pages")
    rest = [r.id for page in await _pages(ctx, user, 4, cursor=first.next_cursor) for r in page]
    seen = [r.id for r in first.items] + rest
    assert len(seen) == len(set(seen)), "a memory appeared twice after a delete between pages"
    missing = want - {gone} - set(seen)
    assert not missing, f"{len(missing)} memories skipped after a delete between pages"
    assert gone not in rest, "a deleted memory came back on a later page"

    limit = ctx.capabilities.limits.max_list_limit
    if limit is not None:
        page = await ctx.mem.list(user, limit=limit)
        assert {r.id for r in page.items} == want - {gone}, f"limit={limit}: not every memory"
        assert page.next_cursor is None, f"limit={limit}: a cursor after the last memory"


async def _pages(
    ctx: CheckContext, user: str, size: int, *, cursor: str | None = None
) -> list[list[MemoryRecord]]:
    """Every page of ``user``'s memories at ``size``, from ``cursor`` (bounded)."""
    pages: list[list[MemoryRecord]] = []
    for _ in range(100):
        page = await ctx.mem.list(user, limit=size, cursor=cursor)
        pages.append(list(page.items))
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor
    raise AssertionError(f"limit={size}: pagination never ended")
