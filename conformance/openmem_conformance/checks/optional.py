"""OPTIONAL: run only when declared in capabilities(); a declared capability must pass."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from openmem.context import estimate_tokens
from openmem_conformance.check_context import CheckContext, eventually
from openmem_conformance.expect import assert_hits_well_formed, expect_error
from openmem_conformance.registry import Tier, check


@check(Tier.OPTIONAL, requires=("verb:context",))
async def context_stays_within_its_token_budget(ctx: CheckContext) -> None:
    """context() never exceeds token_budget, cites only this user's memories it includes.

    Troubleshooting: pack with ``openmem.context.pack_context`` (it measures after every
    step), report the real ``token_count`` of the text, and cite only memories whose text
    made it into the block. A budget of 0 gives an empty block. The suite measures the
    text itself with ``openmem.context.estimate_tokens`` (spec §6.8), whatever
    ``token_count`` says.
    """
    user, other = ctx.user(), ctx.user("other")
    long_text = " ".join(f"word{i}" for i in range(400))
    records = await ctx.add_all(
        [
            "prefers dark mode in the terminal",
            "dark chocolate over milk chocolate",
            f"a long memory about dark themes {long_text}",
        ],
        user_id=user,
    )
    await ctx.add("other user also likes dark mode", user_id=other)
    mine = {r.id for r in records}
    measured: dict[int, tuple[int, int]] = {}
    for budget in (0, 1, 5, 12, 40, 200, 2000):
        block = await ctx.mem.context("dark mode", user, token_budget=budget)
        assert block.token_count <= budget, (
            f"token_budget={budget}: token_count is {block.token_count}"
        )
        # The suite counts itself, with the yardstick of spec §6.8, and never takes the
        # provider's token_count on trust.
        own_count = estimate_tokens(block.text)
        measured[budget] = (block.token_count, own_count)
        assert own_count <= budget, (
            f"token_budget={budget}: the text measures {own_count} tokens (§6.8 counter) "
            f"although its token_count is {block.token_count}"
        )
        # No tokenizer packs more than ~10 characters into a token: a longer text lies.
        assert len(block.text) <= budget * 10, (
            f"token_budget={budget}: {len(block.text)} characters cannot fit the budget"
        )
        cited = {c.memory_id for c in block.citations}
        assert cited <= mine, f"token_budget={budget}: cites memories not of this user"
        for memory_id in cited:
            assert memory_id in block.text, f"cites {memory_id} without including it"
        if budget == 0:
            assert block.text == "", "budget 0 must give an empty text"
            assert not block.citations, "budget 0 must cite nothing"
    ctx.note(
        token_counts={str(b): {"reported": r, "measured": m} for b, (r, m) in measured.items()}
    )
    big = await ctx.mem.context("dark mode", user, token_budget=2000)
    assert big.text, "context with a large budget returned no text"
    assert big.citations, "context with a large budget cited nothing"


@check(Tier.OPTIONAL, requires=("verb:audit",))
async def audit_records_every_verb(ctx: CheckContext) -> None:
    """Every verb leaves its audit entry: action, memory_id, user, newest first.

    Troubleshooting: write the audit row in the same transaction as the change it records
    (so a cancelled write leaves neither), and log reads (get, list, search, context) too.
    Entries are the caller's only, newest first, filterable by action and limited.
    """
    user = ctx.user()
    record = await ctx.add("audited memory", user_id=user)
    await ctx.mem.get(record.id, user_id=user)
    await ctx.mem.update(record.id, user_id=user, content="audited memory, changed")
    await ctx.mem.list(user)
    await ctx.mem.search("audited", user)
    expected = ["add", "get", "update", "list", "search"]
    if "context" in ctx.capabilities.verbs:
        await ctx.mem.context("audited", user)
        expected.append("context")
    await ctx.mem.delete(record.id, user_id=user)
    expected.append("delete")
    if ctx.capabilities.features.forget_user:
        await ctx.mem.forget_user(user)
        expected.append("forget_user")
    entries = await eventually(
        lambda: ctx.mem.audit(user, limit=1000),
        lambda got: {e.action for e in got} >= set(expected),
    )
    actions = {e.action for e in entries}
    assert actions >= set(expected), f"audit lacks entries for {sorted(set(expected) - actions)}"
    assert all(e.user_id == user for e in entries), "audit entry of another user"
    for action in ("add", "get", "update", "delete"):
        ids = {e.memory_id for e in entries if e.action == action}
        assert record.id in ids, f"the {action} entry does not name memory_id {record.id}"
    stamps = [e.timestamp for e in entries]
    assert stamps == sorted(stamps, reverse=True), "audit is not newest first"
    only_adds = await ctx.mem.audit(user, action="add")
    assert only_adds, "audit(action='add') returned nothing"
    assert all(e.action == "add" for e in only_adds), "audit action filter"
    assert len(await ctx.mem.audit(user, limit=2)) == 2, "audit limit"
    future = datetime.now(UTC) + timedelta(hours=1)
    assert await ctx.mem.audit(user, since=future) == [], "audit since filter"


@check(Tier.OPTIONAL, requires=("feature:temporal",))
async def temporal_validity_filters_search(ctx: CheckContext) -> None:
    """search() leaves out expired and not-yet-valid memories unless include_inactive.

    Troubleshooting: with ``features.temporal``, store ``valid_from``/``valid_to`` and filter
    ``valid_from <= now < valid_to`` in search by default; ``include_inactive=True`` returns
    them all. ``get`` and ``list`` still return inactive memories.
    """
    user = ctx.user()
    now = datetime.now(UTC)
    current = await ctx.add("office is in building alpha", user_id=user)
    expired = await ctx.add(
        "office was in building alpha annex", user_id=user, valid_to=now - timedelta(days=1)
    )
    future = await ctx.add(
        "office will be in building alpha tower", user_id=user, valid_from=now + timedelta(days=30)
    )
    assert expired.valid_to is not None, "valid_to was not stored"
    assert future.valid_from is not None, "valid_from was not stored"
    hits = await ctx.mem.search("office building alpha", user, limit=10)
    found = {h.memory.id for h in hits}
    assert current.id in found, "search lost the currently valid memory"
    assert expired.id not in found, "search returned an expired memory"
    assert future.id not in found, "search returned a not-yet-valid memory"
    every = await ctx.mem.search("office building alpha", user, limit=10, include_inactive=True)
    assert {current.id, expired.id, future.id} <= {h.memory.id for h in every}, (
        "include_inactive=True must return inactive memories"
    )
    assert await ctx.ids(user) == {current.id, expired.id, future.id}, "list must keep them"


@check(Tier.OPTIONAL, requires=("feature:supports_supersession",))
async def superseded_memories_leave_search(ctx: CheckContext) -> None:
    """A memory named in another's supersedes leaves search unless include_inactive.

    Troubleshooting: with ``features.supports_supersession``, store ``supersedes`` and
    exclude every id some stored memory of the user supersedes from default search, whether
    or not the search's filters (scope, tags) keep the superseding memory.
    """
    user = ctx.user()
    old = await ctx.add("favourite language is perl", user_id=user)
    new = await ctx.add("favourite language is python", user_id=user, supersedes=[old.id])
    assert new.supersedes == [old.id], f"supersedes not stored: {new.supersedes}"
    hits = await ctx.mem.search("favourite language", user, limit=10)
    ids = {h.memory.id for h in hits}
    assert new.id in ids, "search lost the superseding memory"
    assert old.id not in ids, "search still returns the superseded memory"
    every = await ctx.mem.search("favourite language", user, limit=10, include_inactive=True)
    assert old.id in {h.memory.id for h in every}, "include_inactive must return it"
    assert (await ctx.mem.get(old.id, user_id=user)).id == old.id, "get must still return it"
    # The superseding memory retires the old one even when the search's filter leaves the
    # superseding one out (another scope): "no stored memory of the user lists it".
    colour = await ctx.add("favourite colour is green", user_id=user, scope="prefs/colour")
    await ctx.add("favourite colour is blue", user_id=user, scope="notes", supersedes=[colour.id])
    scoped = await ctx.mem.search("favourite colour", user, scope="prefs", limit=10)
    assert colour.id not in {h.memory.id for h in scoped}, (
        "a memory superseded from outside the search's scope filter is still returned"
    )


@check(Tier.OPTIONAL, requires=("feature:keyword_search",))
async def keyword_search_matches_terms(ctx: CheckContext) -> None:
    """mode="keyword" returns only memories containing a query term, the best first.

    Troubleshooting: with ``features.keyword_search``, mode="keyword" must run a lexical
    search (full-text index, BM25), not the vector search: a memory without any query term
    must not be returned.
    """
    user = ctx.user()
    target = await ctx.add("the xylophone lesson is on thursday", user_id=user)
    await ctx.add_all(
        ["music lessons are fun", "thursday is gym day", "percussion instruments are loud"],
        user_id=user,
    )
    hits = await ctx.mem.search("xylophone", user, mode="keyword", limit=10)
    assert_hits_well_formed(hits, user_id=user, limit=10, what="keyword search")
    assert hits, "keyword search found nothing"
    assert hits[0].memory.id == target.id, "keyword search did not rank the match first"
    strays = [h.memory.content for h in hits if "xylophone" not in h.memory.content.lower()]
    assert not strays, f"keyword search returned memories without the term: {strays}"


@check(Tier.OPTIONAL, requires=("feature:vector_search",))
async def semantic_search_is_available(ctx: CheckContext) -> None:
    """mode="semantic" works and finds a memory by its exact text.

    Troubleshooting: with ``features.vector_search``, mode="semantic" must run the vector
    search and return well-formed hits.
    """
    user = ctx.user()
    target = await ctx.add("the garden needs watering twice a week", user_id=user)
    await ctx.add_all(["the car needs new tyres", "bread is baked on sunday"], user_id=user)
    hits = await ctx.mem.search(target.content, user, mode="semantic", limit=10)
    assert_hits_well_formed(hits, user_id=user, limit=10, what="semantic search")
    assert target.id in {h.memory.id for h in hits[:2]}, "semantic search missed the exact text"


@check(Tier.OPTIONAL, requires=("feature:metadata_filters",))
async def metadata_filters_match_by_equality(ctx: CheckContext) -> None:
    """search(filters=...) keeps only memories whose metadata equals every filter value.

    Troubleshooting: with ``features.metadata_filters``, filter ``metadata->>key = value``
    for every key (typed: 1 is not "1", true is not 1, 1.0 is 1; integers exact beyond
    2**53; keys and strings exact, Unicode included), inside the search query, before the
    limit.
    """
    user = ctx.user()
    a = await ctx.add("project note alpha", user_id=user, metadata={"project": "a", "n": 1})
    b = await ctx.add("project note beta", user_id=user, metadata={"project": "b", "n": 1})
    await ctx.add("project note none", user_id=user)
    hits = await ctx.mem.search("project note", user, filters={"project": "a"}, limit=10)
    assert {h.memory.id for h in hits} == {a.id}, "filters={'project': 'a'}"
    hits = await ctx.mem.search("project note", user, filters={"n": 1}, limit=10)
    assert {h.memory.id for h in hits} == {a.id, b.id}, "filters={'n': 1}"
    hits = await ctx.mem.search("project note", user, filters={"project": "b", "n": 2}, limit=10)
    assert hits == [], "every filter key must match"
    # Values at type boundaries: Python's == forgives True == 1; JSON does not, nor "1" == 1.
    flag = await ctx.add("project note flag", user_id=user, metadata={"n": True, "k": "Ab"})
    text = await ctx.add("project note text", user_id=user, metadata={"n": "1", "k": "ab"})
    big = await ctx.add("project note big", user_id=user, metadata={"n": 2**53 + 1, "k": "A"})
    # 2**53 and 2**53 + 1 are one number to a double; "b" ends "ab" and "Ab".
    near = await ctx.add("project note near", user_id=user, metadata={"n": 2**53, "k": "b"})
    nested = await ctx.add(
        "project note nested",
        user_id=user,
        metadata={"cfg": {"on": True, "level": [1, 2]}, "ключ": "значение"},
    )
    for filters, expected in (
        ({"n": 1}, {a.id, b.id}),
        ({"n": 1.0}, {a.id, b.id}),  # one JSON number, however it is written
        ({"n": True}, {flag.id}),
        ({"n": "1"}, {text.id}),
        ({"n": 2**53 + 1}, {big.id}),
        ({"n": 2**53}, {near.id}),
        ({"k": "ab"}, {text.id}),
        ({"k": "A"}, {big.id}),
        ({"k": "b"}, {near.id}),
        ({"k": "a"}, set()),
        ({"cfg": True}, set()),  # a scalar never equals an object holding it
        ({"ключ": "значение"}, {nested.id}),
        ({"Ключ": "значение"}, set()),
        ({"ключ": "Значение"}, set()),
    ):
        hits = await ctx.mem.search("project note", user, filters=filters, limit=20)
        found = {h.memory.id for h in hits}
        assert found == expected, (
            f"filters={filters!r} found {len(found)} memories, expected {len(expected)} "
            '(typed equality: true is not 1, "1" is not 1, 1.0 is 1; integers exact beyond '
            "2**53; no prefixes, suffixes or case folding of values or keys)"
        )


@check(Tier.OPTIONAL, requires=("feature:idempotency",))
async def idempotency_key_never_duplicates(ctx: CheckContext) -> None:
    """A repeated idempotency_key returns the first record; with other content, conflict.

    Troubleshooting: with ``features.idempotency``, keep (namespace, user_id, key) -> id with
    a unique constraint and return the stored record on a repeat. The same key with other
    content raises ``conflict``. Keys are per user.
    """
    user, other = ctx.user(), ctx.user("other")
    first = await ctx.add("booked the flight", user_id=user, idempotency_key="k-1")
    again = await ctx.add("booked the flight", user_id=user, idempotency_key="k-1")
    assert again.id == first.id, "a repeated idempotency_key stored a second memory"
    assert await ctx.ids(user) == {first.id}, "list shows a duplicate"
    # Returning the first record would tell the caller their other content was stored.
    await expect_error(
        ctx.mem.add("booked the hotel", user_id=user, idempotency_key="k-1"),
        "conflict",
        what="an idempotency_key reused with other content",
    )
    assert await ctx.ids(user) == {first.id}, "a conflicting idempotent add stored something"
    kept = await ctx.mem.get(first.id, user_id=user)
    assert kept.content == "booked the flight", "a conflicting idempotent add changed the record"
    theirs = await ctx.add("booked the flight", user_id=other, idempotency_key="k-1")
    assert theirs.id != first.id, "idempotency keys leak across users"
    assert theirs.user_id == other, "an idempotent add returned another user's memory"


@check(Tier.OPTIONAL, requires=("feature:batch_add",))
async def batch_add_stores_every_item_in_order(ctx: CheckContext) -> None:
    """add_many() stores every item and returns the records in input order.

    Troubleshooting: with ``features.batch_add``, insert the batch in one transaction and
    return one record per item, in order; items may be strings or dicts of add fields.
    """
    user = ctx.user()
    items: list[str | dict[str, object]] = [
        "batch one",
        {"content": "batch two", "scope": "b", "tags": ["t"]},
        "batch three",
    ]
    records = await ctx.settle(await ctx.mem.add_many(items, user_id=user), user_id=user)
    assert [r.content for r in records] == ["batch one", "batch two", "batch three"], (
        "add_many returned records out of order"
    )
    assert records[1].scope == "b", "add_many lost an item's scope"
    assert records[1].tags == ["t"], "add_many lost an item's tags"
    assert len({r.id for r in records}) == 3, "add_many returned duplicate ids"
    assert await ctx.ids(user) == {r.id for r in records}, "add_many did not store every item"


@check(Tier.OPTIONAL, requires=("feature:forget_user",))
async def forget_user_deletes_only_that_user(ctx: CheckContext) -> None:
    """forget_user() deletes every memory of the user, returns the count, spares others.

    Troubleshooting: with ``features.forget_user``, delete by (namespace, user_id) only and
    return the number of memories deleted; idempotency keys of that user go too.
    """
    gone, kept = ctx.user("gone"), ctx.user("kept")
    await ctx.add_all(["one", "two", "three"], user_id=gone)
    survivor = await ctx.add("survivor", user_id=kept)
    count = await ctx.mem.forget_user(gone)
    assert count == 3, f"forget_user returned {count}, expected 3"
    assert await ctx.ids(gone) == set(), "forget_user left memories behind"
    assert await ctx.ids(kept) == {survivor.id}, "forget_user touched another user"
    assert await ctx.mem.forget_user(gone) == 0, "a second forget_user must return 0"
