"""Two users (and two namespaces) never see each other's data, through any verb."""

from __future__ import annotations

import pytest
from openmem_postgres import PostgresProvider

from openmem.errors import NotFoundError
from openmem.models import (
    AuditQuery,
    ContextQuery,
    ListQuery,
    MemoryInput,
    MemoryPatch,
    SearchMode,
    SearchQuery,
)
from openmem.provider import Caller


@pytest.fixture
async def bobs_memory(provider: PostgresProvider, other: Caller) -> str:
    record = await provider.add(
        other, MemoryInput(content="bob's secret: the vault code is 1234", user_id="bob")
    )
    return record.id


async def test_get_of_another_users_id_is_not_found(
    provider: PostgresProvider, caller: Caller, bobs_memory: str
) -> None:
    with pytest.raises(NotFoundError):
        await provider.get(caller, bobs_memory)


async def test_update_of_another_users_id_is_not_found_and_changes_nothing(
    provider: PostgresProvider, caller: Caller, other: Caller, bobs_memory: str
) -> None:
    with pytest.raises(NotFoundError):
        await provider.update(caller, bobs_memory, MemoryPatch(content="hacked"))
    assert (await provider.get(other, bobs_memory)).content.startswith("bob's secret")


async def test_delete_of_another_users_id_is_not_found_and_deletes_nothing(
    provider: PostgresProvider, caller: Caller, other: Caller, bobs_memory: str
) -> None:
    with pytest.raises(NotFoundError):
        await provider.delete(caller, bobs_memory)
    assert (await provider.get(other, bobs_memory)).id == bobs_memory


@pytest.mark.parametrize("mode", ["semantic", "keyword", "hybrid"])
async def test_search_never_returns_another_users_memories(
    provider: PostgresProvider, caller: Caller, bobs_memory: str, mode: SearchMode
) -> None:
    hits = await provider.search(caller, SearchQuery(query="vault code secret", mode=mode))
    assert hits == []


async def test_list_context_and_audit_are_per_user(
    provider: PostgresProvider, caller: Caller, bobs_memory: str
) -> None:
    assert (await provider.list(caller, ListQuery())).items == []
    block = await provider.context(caller, ContextQuery(query="vault code"))
    assert block.citations == []
    entries = await provider.audit(caller, AuditQuery())
    assert {e.user_id for e in entries} == {"alice"}
    assert bobs_memory not in {e.memory_id for e in entries}
    assert "add" not in {e.action for e in entries}


async def test_supersedes_cannot_hide_another_users_memory(
    provider: PostgresProvider, caller: Caller, other: Caller, bobs_memory: str
) -> None:
    await provider.add(
        caller, MemoryInput(content="vault code", user_id="alice", supersedes=[bobs_memory])
    )
    hits = await provider.search(other, SearchQuery(query="vault code"))
    assert [h.memory.id for h in hits] == [bobs_memory]


async def test_idempotency_keys_are_per_user(
    provider: PostgresProvider, caller: Caller, other: Caller
) -> None:
    mine = await provider.add(
        caller, MemoryInput(content="same", user_id="alice", idempotency_key="k")
    )
    theirs = await provider.add(
        other, MemoryInput(content="same", user_id="bob", idempotency_key="k")
    )
    assert mine.id != theirs.id
    assert theirs.user_id == "bob"


async def test_namespaces_are_separate_tenants(
    provider: PostgresProvider, caller: Caller, pg_namespace: str
) -> None:
    record = await provider.add(caller, MemoryInput(content="tenant one", user_id="alice"))
    elsewhere = Caller(pg_namespace + "_2", "alice")
    with pytest.raises(NotFoundError):
        await provider.get(elsewhere, record.id)
    assert (await provider.list(elsewhere, ListQuery())).items == []
    assert await provider.search(elsewhere, SearchQuery(query="tenant one")) == []
    assert await provider.forget_user(elsewhere) == 0
    assert (await provider.get(caller, record.id)).id == record.id


async def test_forget_user_leaves_other_users_untouched(
    provider: PostgresProvider, caller: Caller, other: Caller, bobs_memory: str
) -> None:
    await provider.add(caller, MemoryInput(content="mine", user_id="alice"))
    await provider.forget_user(caller)
    assert (await provider.get(other, bobs_memory)).id == bobs_memory
