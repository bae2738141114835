"""REQUIRED: users and namespaces never see each other, by-id verbs included."""

from __future__ import annotations

from openmem.errors import ScopeDeniedError, UnauthorizedError
from openmem_conformance.check_context import CheckContext
from openmem_conformance.expect import expect_error
from openmem_conformance.registry import Tier, check


@check(Tier.REQUIRED)
async def users_never_see_each_other(ctx: CheckContext) -> None:
    """A user never reads, changes or deletes another user's memory; by-id gives not_found.

    Troubleshooting: every query must be bounded by ``caller.user_id`` — by-id verbs
    included (``WHERE id = $1 AND user_id = $2``). Another user's memory is ``not_found``,
    never ``scope_denied`` (that would reveal it exists). Check search and context too.
    """
    alice, bob = ctx.user("alice"), ctx.user("bob")
    secret = await ctx.add("alice secret: the vault code is 4711", user_id=alice, scope="private")
    own = await ctx.add("bob likes the vault code puzzle", user_id=bob, scope="private")
    for call, what in (
        (lambda: ctx.mem.get(secret.id, user_id=bob), "get"),
        (lambda: ctx.mem.update(secret.id, user_id=bob, content="hijacked"), "update"),
        (lambda: ctx.mem.delete(secret.id, user_id=bob), "delete"),
    ):
        await expect_error(call(), "not_found", what=f"{what} of another user's memory")
    assert await ctx.ids(bob) == {own.id}, "list shows another user's memories"
    assert await ctx.ids(bob, scope="private") == {own.id}, "list with scope leaks"
    hits = await ctx.mem.search("alice secret vault code 4711", bob, limit=20)
    assert {h.memory.id for h in hits} <= {own.id}, "search returns another user's memory"
    assert all(h.memory.user_id == bob for h in hits), "search hit with another user_id"
    if "context" in ctx.capabilities.verbs:
        block = await ctx.mem.context("alice secret vault code 4711", bob, token_budget=500)
        assert secret.id not in block.text, "context cites another user's memory"
        assert "4711" not in block.text, "context leaks another user's content"
        assert {c.memory_id for c in block.citations} <= {own.id}, "context cites another user"
    if "audit" in ctx.capabilities.verbs:
        entries = await ctx.mem.audit(bob, limit=1000)
        assert all(e.user_id == bob for e in entries), "audit shows another user's entries"
        assert secret.id not in {e.memory_id for e in entries}, "audit leaks another user's id"
    still = await ctx.mem.get(secret.id, user_id=alice)
    assert still.content == secret.content, "another user's update changed the memory"


@check(Tier.REQUIRED)
async def namespaces_never_see_each_other(ctx: CheckContext) -> None:
    """The same user_id in another namespace sees nothing of this namespace, by id either.

    Troubleshooting: every query must be bounded by ``caller.namespace`` as well as by
    ``user_id`` (key every table and index by namespace first). Idempotency keys are per
    namespace and user too. A server that binds API keys to one namespace may refuse the
    other namespace outright (``scope_denied``/``unauthorized``): that passes too.
    """
    user = ctx.user()
    here = await ctx.add("namespace one private note", user_id=user, scope="ns")
    other = ctx.memory_over(ctx.borrow(), namespace=f"{ctx.namespace}-other")
    async with other:
        try:
            page = await other.list(user)
        except (ScopeDeniedError, UnauthorizedError) as refused:
            ctx.note(other_namespace=f"refused as a whole: {refused.error_code}")
            return
        assert page.items == [], "list in another namespace shows this namespace's memories"
        await expect_error(other.get(here.id, user_id=user), "not_found", what="get across ns")
        await expect_error(
            other.update(here.id, user_id=user, content="x"), "not_found", what="update across ns"
        )
        await expect_error(
            other.delete(here.id, user_id=user), "not_found", what="delete across ns"
        )
        hits = await other.search("namespace one private note", user)
        assert hits == [], "search in another namespace finds this namespace's memories"
        there = await other.add("namespace two note", user_id=user)
        if there.status in ("queued", "indexing"):
            await other.wait_for_ingest([there.id], user_id=user)
    assert await ctx.ids(user) == {here.id}, "a memory added in another namespace shows up here"
    await expect_error(ctx.mem.get(there.id, user_id=user), "not_found", what="get back across ns")
