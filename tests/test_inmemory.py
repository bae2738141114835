"""The in-memory provider's own behaviour (the conformance suite covers the contract)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from openmem import AsyncMemory, ConflictError, InvalidRequestError


async def test_pages_cover_everything_once_with_no_empty_last_page(mem: AsyncMemory) -> None:
    ids = {(await mem.add(f"item {i}", user_id="u")).id for i in range(7)}
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = await mem.list("u", limit=3, cursor=cursor)
        pages += 1
        assert page.items
        seen += [r.id for r in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert pages == 3
    assert sorted(seen) == sorted(ids)
    assert len(seen) == len(set(seen))


async def test_malformed_cursor_is_invalid_request(mem: AsyncMemory) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        await mem.list("u", cursor="not-a-cursor!")
    assert caught.value.field == "cursor"


async def test_search_leaves_out_expired_future_and_superseded_memories(mem: AsyncMemory) -> None:
    now = datetime.now(UTC)
    old = await mem.add("lives in Lisbon", user_id="u")
    await mem.add("lives in Porto", user_id="u", supersedes=[old.id])
    await mem.add("lives in Madrid", user_id="u", valid_to=now - timedelta(days=1))
    await mem.add("lives in Rome", user_id="u", valid_from=now + timedelta(days=1))
    active = [h.memory.content for h in await mem.search("lives in", "u", mode="keyword")]
    assert active == ["lives in Porto"]
    everything = await mem.search("lives in", "u", mode="keyword", include_inactive=True)
    assert len(everything) == 4


async def test_idempotency_key_returns_the_first_record(mem: AsyncMemory) -> None:
    first = await mem.add("x", user_id="u", idempotency_key="k1")
    again = await mem.add("x", user_id="u", idempotency_key="k1")
    assert again.id == first.id
    assert len((await mem.list("u")).items) == 1
    with pytest.raises(ConflictError):
        await mem.add("different", user_id="u", idempotency_key="k1")


async def test_metadata_filters_and_tags_narrow_search(mem: AsyncMemory) -> None:
    await mem.add("note one", user_id="u", tags=["a", "b"], metadata={"kind": "x"})
    await mem.add("note two", user_id="u", tags=["a"], metadata={"kind": "y"})
    assert len(await mem.search("note", "u", tags=["a"])) == 2
    assert [h.memory.content for h in await mem.search("note", "u", tags=["a", "b"])] == [
        "note one"
    ]
    assert [h.memory.content for h in await mem.search("note", "u", filters={"kind": "y"})] == [
        "note two"
    ]


async def test_every_verb_leaves_an_audit_entry(mem: AsyncMemory) -> None:
    record = await mem.add("x", user_id="u")
    await mem.get(record.id, user_id="u")
    await mem.update(record.id, user_id="u", content="y")
    await mem.list("u")
    await mem.search("y", "u")
    await mem.context("y", "u")
    await mem.delete(record.id, user_id="u")
    actions = [e.action for e in await mem.audit("u")]
    assert actions == ["delete", "context", "search", "list", "update", "get", "add"]
    assert await mem.audit("other") == []


async def test_concurrent_adds_lose_nothing(mem: AsyncMemory) -> None:
    await asyncio.gather(*(mem.add(f"n{i}", user_id=f"u{i % 5}") for i in range(200)))
    counts = [len((await mem.list(f"u{i}", limit=500)).items) for i in range(5)]
    assert counts == [40] * 5


async def test_forget_user_deletes_only_that_user(mem: AsyncMemory) -> None:
    await mem.add("a", user_id="gone")
    await mem.add("b", user_id="gone")
    await mem.add("c", user_id="stays")
    assert await mem.forget_user("gone") == 2
    assert (await mem.list("gone")).items == []
    assert len((await mem.list("stays")).items) == 1
