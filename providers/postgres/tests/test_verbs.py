"""Every verb against real PostgreSQL: round trips, merge patches, pages, audit."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from openmem_postgres import PostgresProvider
from openmem_postgres.runner import Connection

from openmem.errors import ConflictError, NotFoundError, ProviderError
from openmem.models import (
    AuditQuery,
    ListQuery,
    MemoryInput,
    MemoryPatch,
    MemoryRecord,
    SearchHit,
    SearchQuery,
)
from openmem.provider import Caller


def item(
    content: str, user: str = "alice", extra: dict[str, Any] | None = None, **fields: Any
) -> MemoryInput:
    return MemoryInput(content=content, user_id=user, **fields, **(extra or {}))


async def test_add_then_get_round_trips_every_field(
    provider: PostgresProvider, caller: Caller
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    added = await provider.add(
        caller,
        item(
            "prefers dark mode",
            scope="ui/prefs",
            tags=["ui", "theme"],
            source={"app": "chat", "type": "explicit", "ref": "msg-1"},
            confidence=0.8,
            valid_from=now - timedelta(days=1),
            valid_to=now + timedelta(days=1),
            agent_id="agent-1",
            session_id="s-1",
            metadata={"k": 1, "nested": {"a": [1, 2]}},
            extra={"x-test": {"kept": True}},
        ),
    )
    fetched = await provider.get(caller, added.id)
    assert fetched == added
    assert fetched.id.startswith("mem_")
    assert fetched.scope == "ui/prefs"
    assert fetched.tags == ["ui", "theme"]
    assert fetched.source is not None
    assert fetched.source.ref == "msg-1"
    assert fetched.metadata == {"k": 1, "nested": {"a": [1, 2]}}
    assert fetched.extensions == {"x-test": {"kept": True}}
    assert fetched.embedding_model == provider.embedder.model
    assert fetched.valid_to == now + timedelta(days=1)


async def test_update_is_a_merge_patch(provider: PostgresProvider, caller: Caller) -> None:
    added = await provider.add(
        caller, item("likes tea", scope="food", tags=["drink"], metadata={"a": 1, "b": 2})
    )
    updated = await provider.update(
        caller, added.id, MemoryPatch(content="likes green tea", tags=None, metadata={"a": None})
    )
    assert updated.content == "likes green tea"
    assert updated.scope == "food"
    assert updated.tags == []
    assert updated.metadata == {"b": 2}
    assert updated.updated_at is not None
    assert updated.updated_at >= added.created_at
    assert await provider.get(caller, added.id) == updated


async def test_update_of_content_re_embeds_it(provider: PostgresProvider, caller: Caller) -> None:
    added = await provider.add(caller, item("likes tea"))
    await provider.update(caller, added.id, MemoryPatch(content="plays chess on sundays"))
    hits = await provider.search(caller, SearchQuery(query="plays chess", mode="semantic"))
    assert hits[0].memory.id == added.id
    assert hits[0].score > 0.5


async def test_delete_removes_the_memory(provider: PostgresProvider, caller: Caller) -> None:
    added = await provider.add(caller, item("temporary"))
    await provider.delete(caller, added.id)
    with pytest.raises(NotFoundError):
        await provider.get(caller, added.id)
    with pytest.raises(NotFoundError):
        await provider.delete(caller, added.id)


async def test_list_pages_newest_first_without_an_empty_last_page(
    provider: PostgresProvider, caller: Caller
) -> None:
    added = [await provider.add(caller, item(f"memory {i}")) for i in range(6)]
    seen = []
    cursor = None
    pages = 0
    while True:
        page = await provider.list(caller, ListQuery(limit=3, cursor=cursor))
        pages += 1
        assert page.items, "a page is never empty"
        seen.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert pages == 2
    assert [r.id for r in seen] == [r.id for r in reversed(added)]


async def test_list_filters_by_scope_tags_and_time(
    provider: PostgresProvider, caller: Caller
) -> None:
    a = await provider.add(caller, item("a", scope="coding/python", tags=["x", "y"]))
    await provider.add(caller, item("b", scope="codingstyle", tags=["x"]))
    c = await provider.add(caller, item("c", scope="coding", tags=["y"]))
    scoped = await provider.list(caller, ListQuery(scope="coding"))
    assert {r.id for r in scoped.items} == {a.id, c.id}
    tagged = await provider.list(caller, ListQuery(tags=["x", "y"]))
    assert [r.id for r in tagged.items] == [a.id]
    window = await provider.list(caller, ListQuery(since=a.created_at, until=c.created_at))
    assert c.id not in {r.id for r in window.items}
    assert a.id in {r.id for r in window.items}


async def test_add_many_keeps_order_and_writes_one_audit_row_each(
    provider: PostgresProvider, caller: Caller
) -> None:
    records = await provider.add_many(caller, [item(f"batch {i}") for i in range(5)])
    assert [r.content for r in records] == [f"batch {i}" for i in range(5)]
    entries = await provider.audit(caller, AuditQuery(action="add"))
    assert {e.memory_id for e in entries} == {r.id for r in records}


async def test_idempotent_add_returns_the_first_record(
    provider: PostgresProvider, caller: Caller
) -> None:
    first = await provider.add(caller, item("once", idempotency_key="key-1"))
    again = await provider.add(caller, item("once", idempotency_key="key-1"))
    assert again == first
    page = await provider.list(caller, ListQuery())
    assert [r.id for r in page.items] == [first.id]


async def test_idempotency_key_reused_for_other_content_conflicts(
    provider: PostgresProvider, caller: Caller
) -> None:
    await provider.add(caller, item("once", idempotency_key="key-1"))
    with pytest.raises(ConflictError):
        await provider.add(caller, item("something else", idempotency_key="key-1"))


async def test_concurrent_adds_with_one_key_store_one_memory(
    provider: PostgresProvider, caller: Caller
) -> None:
    results = await asyncio.wait_for(
        asyncio.gather(
            *(provider.add(caller, item("same", idempotency_key="k")) for _ in range(8))
        ),
        timeout=30,
    )
    assert len({r.id for r in results}) == 1


async def test_add_many_replays_idempotent_items(
    provider: PostgresProvider, caller: Caller
) -> None:
    first = await provider.add_many(caller, [item("a", idempotency_key="a"), item("b")])
    second = await provider.add_many(caller, [item("a", idempotency_key="a"), item("c")])
    assert second[0] == first[0]
    assert second[1].content == "c"


async def test_every_verb_is_audited_with_app_and_request_id(
    provider: PostgresProvider, pg_namespace: str
) -> None:
    caller = Caller(pg_namespace, "alice", app="app-1", request_id="req-1")
    added = await provider.add(caller, item("audited"))
    await provider.get(caller, added.id)
    await provider.update(caller, added.id, MemoryPatch(tags=["t"]))
    await provider.list(caller, ListQuery())
    await provider.search(caller, SearchQuery(query="audited"))
    await provider.delete(caller, added.id)
    entries = await provider.audit(caller, AuditQuery())
    assert [e.action for e in entries] == ["delete", "search", "list", "update", "get", "add"]
    assert {e.app for e in entries} == {"app-1"}
    assert {e.request_id for e in entries} == {"req-1"}
    only_updates = await provider.audit(caller, AuditQuery(action="update"))
    assert [e.details for e in only_updates] == [{"fields": ["tags"]}]


async def test_audit_log_is_append_only(provider: PostgresProvider, caller: Caller) -> None:
    await provider.add(caller, item("x"))

    async def tamper(conn: object) -> None:
        await conn.execute(  # type: ignore[attr-defined]
            f"DELETE FROM {provider.statements.schema}.audit WHERE namespace = $1",
            caller.namespace,
        )

    with pytest.raises(ProviderError) as refused:
        await provider.runner.run(tamper)
    # The database's words stay on the cause (for the log), not in the client's message.
    assert "append-only" in str(refused.value.__cause__)
    assert "append-only" not in refused.value.message
    assert len(await provider.audit(caller, AuditQuery())) == 1


async def test_forget_user_deletes_only_that_user(
    provider: PostgresProvider, caller: Caller, other: Caller
) -> None:
    await provider.add_many(caller, [item("a"), item("b")])
    kept = await provider.add(other, item("c", user="bob"))
    assert await provider.forget_user(caller) == 2
    assert (await provider.list(caller, ListQuery())).items == []
    assert (await provider.list(other, ListQuery())).items == [kept]
    entries = await provider.audit(caller, AuditQuery(action="forget_user"))
    assert entries[0].details == {"deleted": 2}


async def test_capabilities_declare_everything_tested_here(provider: PostgresProvider) -> None:
    caps = await provider.capabilities()
    assert set(caps.verbs) == {
        "add",
        "search",
        "get",
        "update",
        "delete",
        "list",
        "context",
        "audit",
    }
    features = caps.features
    assert features.keyword_search
    assert features.hybrid_search
    assert features.vector_search
    assert features.temporal
    assert features.supports_audit
    assert features.idempotency
    assert features.cancellation == "native"


async def test_records_built_from_rows_equal_validated_records(
    provider: PostgresProvider, caller: Caller
) -> None:
    added = await provider.add(
        caller,
        item("x", source={"app": "a"}, tags=["t"], metadata={"m": 1}, extra={"x-e": [1]}),
    )
    hits = await provider.search(caller, SearchQuery(query="x"))
    for record in (added, hits[0].memory):
        assert set(record.__dict__) == set(MemoryRecord.model_fields)
        assert MemoryRecord.model_validate(record.model_dump()) == record
    assert SearchHit.model_validate(hits[0].model_dump()) == hits[0]


async def test_asynchronous_commit_of_read_audit_rows_does_not_leak_into_the_session(
    postgres_url: str, caller: Caller
) -> None:
    provider = PostgresProvider(
        embedder="hashing", url=postgres_url, pool_min_size=1, pool_max_size=1
    )
    await provider.open()
    try:
        added = await provider.add(caller, item("read me"))
        await provider.get(caller, added.id)
        await provider.search(caller, SearchQuery(query="read me"))
        await provider.list(caller, ListQuery())

        async def setting(conn: Connection) -> str:
            return str(await conn.fetchval("SHOW synchronous_commit"))

        assert await provider.runner.run(setting) == "on"
        actions = [e.action for e in await provider.audit(caller, AuditQuery())]
        assert actions == ["list", "search", "get", "add"]
    finally:
        await provider.close()


async def test_a_large_batch_is_embedded_exactly_as_one_call_would(
    provider: PostgresProvider, caller: Caller
) -> None:
    texts = [f"memory number {i} about gardens, tea and long walks by the sea" for i in range(60)]
    expected = await provider.embedder.embed(texts)
    assert await provider.store.embed(texts) == expected
    records = await provider.add_many(caller, [item(t) for t in texts])
    assert [r.content for r in records] == texts
