"""REQUIRED: users and namespaces never see each other, by-id verbs included."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

from openmem.errors import NotFoundError, ScopeDeniedError, UnauthorizedError
from openmem.models import MemoryRecord
from openmem_conformance.check_context import CheckContext
from openmem_conformance.expect import expect_error
from openmem_conformance.registry import Tier, check

T = TypeVar("T")


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
    leaks: list[str] = []
    for call, what in (
        (lambda: ctx.mem.get(secret.id, user_id=bob), "get"),
        (lambda: ctx.mem.delete(secret.id, user_id=bob), "delete"),
        (lambda: ctx.mem.update(secret.id, user_id=bob, content="hijacked"), "update"),
    ):
        # Every by-id verb is tried: a leaking get says nothing about update or delete.
        # Update goes last: a server that crashes on it may drop the connection as well.
        try:
            await expect_error(call(), "not_found", what=f"{what} of another user's memory")
        except AssertionError as exc:
            head, returned, _ = str(exc).partition(": returned")
            leaks.append(f"{head} succeeded" if returned else str(exc))
    assert not leaks, "; ".join(leaks)
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
    refused: list[str] = []
    there: MemoryRecord | None = None

    async def across(what: str, call: Awaitable[T]) -> T | None:
        """The answer of ``call`` in the other namespace, or None when refused outright."""
        try:
            return await call
        except (ScopeDeniedError, UnauthorizedError) as exc:
            refused.append(f"{what}: {exc.error_code}")
            return None

    async with other:
        # Every verb is tried: a refused list proves nothing about get, search or add.
        page = await across("list", other.list(user))
        assert page is None or page.items == [], (
            "list in another namespace shows this namespace's memories"
        )
        for what, call in (
            ("get", lambda: other.get(here.id, user_id=user)),
            ("update", lambda: other.update(here.id, user_id=user, content="x")),
            ("delete", lambda: other.delete(here.id, user_id=user)),
        ):
            try:
                await call()
            except (ScopeDeniedError, UnauthorizedError) as exc:
                refused.append(f"{what}: {exc.error_code}")
                continue
            except NotFoundError:
                continue
            except Exception as exc:
                raise AssertionError(
                    f"{what} across namespaces raised {exc!r}; expected not_found"
                ) from exc
            raise AssertionError(f"{what} across namespaces reached this namespace's memory")
        hits = await across("search", other.search("namespace one private note", user))
        assert not hits, "search in another namespace finds this namespace's memories"
        if "context" in ctx.capabilities.verbs:
            block = await across("context", other.context("namespace one private note", user))
            assert block is None or here.id not in block.text, (
                "context in another namespace cites this namespace's memory"
            )
        if "audit" in ctx.capabilities.verbs:
            entries = await across("audit", other.audit(user, limit=1000))
            assert not entries or here.id not in {e.memory_id for e in entries}, (
                "audit in another namespace shows this namespace's entries"
            )
        there = await across("add", other.add("namespace two note", user_id=user))
        if there is not None and there.status in ("queued", "indexing"):
            await other.wait_for_ingest([there.id], user_id=user)
        if ctx.capabilities.features.forget_user:
            await across("forget_user", other.forget_user(user))
    ctx.note(other_namespace=refused or "served, and isolated")
    assert await ctx.ids(user) == {here.id}, (
        "a write in another namespace (add or forget_user) changed this namespace"
    )
    assert (await ctx.mem.get(here.id, user_id=user)).content == here.content, (
        "a write in another namespace changed this namespace's memory"
    )
    if there is not None:
        await expect_error(
            ctx.mem.get(there.id, user_id=user), "not_found", what="get back across ns"
        )
