"""OPTIONAL ``features.client_keys``: put by a client-chosen key, get and delete by key.

A key is unique per (namespace, user, scope): an add with the key of an existing memory
replaces that memory whole and keeps its id; ``get_by_key``/``delete_by_key`` reach it.
"""

from __future__ import annotations

import asyncio

from openmem_conformance.check_context import CheckContext
from openmem_conformance.expect import expect_error
from openmem_conformance.registry import Tier, check

_KEYS = ("feature:client_keys",)


@check(Tier.OPTIONAL, requires=_KEYS)
async def put_by_key_replaces_the_memory_and_keeps_its_id(ctx: CheckContext) -> None:
    """A second add with the same key and scope replaces the memory: same id, new fields.

    Troubleshooting: upsert on a unique (namespace, user_id, scope, key); on a hit replace
    every field the add carries (content, tags, metadata, embedding, ...) and keep ``id`` and
    ``created_at``, set ``updated_at``. The record carries ``key``. Search must find the new
    content only: re-embed on replace.
    """
    user = ctx.user()
    first = await ctx.add(
        "the user likes tea", user_id=user, scope="prefs", key="drink", tags=["old"]
    )
    assert first.key == "drink", f"the record's key is {first.key!r}, expected 'drink'"
    second = await ctx.add(
        "the user likes espresso", user_id=user, scope="prefs", key="drink", metadata={"n": 2}
    )
    assert second.id == first.id, "a put over an existing key stored a second memory"
    assert second.content == "the user likes espresso", "the put did not replace the content"
    assert second.tags == [], f"a put replaces the memory whole; tags are {second.tags!r}"
    assert second.metadata == {"n": 2}, f"metadata after the put is {second.metadata!r}"
    assert second.created_at == first.created_at, "a put over a key changed created_at"
    assert second.updated_at is not None, "a put over a key left updated_at unset"
    assert await ctx.ids(user) == {first.id}, "list shows more than the one keyed memory"
    got = await ctx.mem.get_by_key("drink", user_id=user, scope="prefs")
    assert (got.id, got.content, got.key) == (first.id, "the user likes espresso", "drink")
    by_id = await ctx.mem.get(first.id, user_id=user)
    assert by_id.key == "drink", f"get by id returns key {by_id.key!r}, expected 'drink'"
    hits = await ctx.mem.search("espresso", user, limit=5)
    assert [h.memory.id for h in hits][:1] == [first.id], "search misses the replaced memory"
    assert all(h.memory.content != "the user likes tea" for h in hits), (
        "search still returns the replaced content"
    )


@check(Tier.OPTIONAL, requires=_KEYS)
async def keys_are_unique_per_user_and_scope(ctx: CheckContext) -> None:
    """One key names different memories in different scopes and for different users.

    Troubleshooting: the unique constraint is (namespace, user_id, scope, key), with "no
    scope" a scope of its own; lookups match the scope exactly (no prefix matching, unlike
    filters) and never cross users: another user's key is ``not_found``.
    """
    user, other = ctx.user(), ctx.user("other")
    unscoped = await ctx.add("unscoped", user_id=user, key="k")
    parent = await ctx.add("in a", user_id=user, scope="a", key="k")
    child = await ctx.add("in a/b", user_id=user, scope="a/b", key="k")
    theirs = await ctx.add("theirs", user_id=other, scope="a", key="k")
    assert len({unscoped.id, parent.id, child.id, theirs.id}) == 4, (
        "one key in different scopes or users named the same memory"
    )
    for scope, want in ((None, unscoped), ("a", parent), ("a/b", child)):
        got = await ctx.mem.get_by_key("k", user_id=user, scope=scope)
        assert got.id == want.id, f"get_by_key(scope={scope!r}) found {got.content!r}"
    assert (await ctx.mem.get_by_key("k", user_id=other, scope="a")).id == theirs.id
    await expect_error(
        ctx.mem.get_by_key("k", user_id=other, scope="a/b"),
        "not_found",
        what="get_by_key of a key only another user holds",
    )
    await expect_error(
        ctx.mem.get_by_key("k", user_id=user, scope="c"),
        "not_found",
        what="get_by_key in a scope without that key",
    )


@check(Tier.OPTIONAL, requires=_KEYS)
async def delete_by_key_removes_only_that_memory(ctx: CheckContext) -> None:
    """delete_by_key removes the keyed memory; a second delete or a get is ``not_found``.

    Troubleshooting: delete by (namespace, user_id, scope, key) and raise ``not_found`` when
    nothing matched. The key is free again afterwards: a new put adds a new memory.
    """
    user = ctx.user()
    keyed = await ctx.add("keyed", user_id=user, scope="s", key="gone")
    kept = await ctx.add("kept", user_id=user, scope="s", key="stays")
    plain = await ctx.add("plain", user_id=user, scope="s")
    await ctx.mem.delete_by_key("gone", user_id=user, scope="s")
    assert await ctx.ids(user) == {kept.id, plain.id}, "delete_by_key removed the wrong memories"
    await expect_error(
        ctx.mem.get_by_key("gone", user_id=user, scope="s"), "not_found", what="a deleted key"
    )
    await expect_error(ctx.mem.get(keyed.id, user_id=user), "not_found", what="a deleted id")
    await expect_error(
        ctx.mem.delete_by_key("gone", user_id=user, scope="s"),
        "not_found",
        what="deleting a key twice",
    )
    again = await ctx.add("keyed again", user_id=user, scope="s", key="gone")
    assert again.id != keyed.id, "a put after delete_by_key revived the deleted id"
    await expect_error(ctx.mem.get_by_key("", user_id=user), "invalid_request", what="an empty key")


@check(Tier.OPTIONAL, requires=_KEYS)
async def concurrent_puts_of_one_key_leave_one_memory(ctx: CheckContext) -> None:
    """Puts of one key at once all land on one memory; the last one's content wins.

    Troubleshooting: make the put one atomic upsert (``INSERT ... ON CONFLICT DO UPDATE``
    on the unique key), not a read followed by a write, which races into two memories or a
    ``conflict``.
    """
    user = ctx.user()
    records = await asyncio.gather(
        *(ctx.mem.add(f"value {i}", user_id=user, key="hot") for i in range(6))
    )
    assert len({r.id for r in records}) == 1, "concurrent puts of one key made several memories"
    assert await ctx.ids(user) == {records[0].id}, "list shows more than one memory"
    final = await ctx.mem.get_by_key("hot", user_id=user)
    assert final.content in {f"value {i}" for i in range(6)}, f"stored {final.content!r}"


@check(Tier.OPTIONAL, requires=(*_KEYS, "feature:supports_audit"))
async def a_put_over_a_key_is_audited_as_an_update(ctx: CheckContext) -> None:
    """The first put is audited as ``add``, a replacing put as ``update``, by key as get/delete.

    Troubleshooting: write the audit row in the same statement as the upsert, with the
    action chosen by whether the row was inserted or updated.
    """
    user = ctx.user()
    record = await ctx.add("one", user_id=user, key="a")
    await ctx.add("two", user_id=user, key="a")
    await ctx.mem.get_by_key("a", user_id=user)
    await ctx.mem.delete_by_key("a", user_id=user)
    entries = await ctx.mem.audit(user, limit=10)
    mine = [e.action for e in reversed(entries) if e.memory_id == record.id]
    assert mine == ["add", "update", "get", "delete"], f"audit actions were {mine}"
