"""mem0 platform mode against a LOCAL CONTRACT FAKE of its REST API (``platform_fake``)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from openmem_mem0 import Mem0Provider
from openmem_mem0.platform_fake import Mem0PlatformFake

from openmem.errors import NotFoundError, ProviderUnavailableError
from openmem.models import ListQuery, MemoryInput, MemoryPatch, SearchQuery
from openmem.provider import Caller

ALICE = Caller("ns", "alice")
BOB = Caller("ns", "bob")


@pytest.fixture
def fake() -> Mem0PlatformFake:
    return Mem0PlatformFake()


async def opened(fake: Mem0PlatformFake, tmp_path: Path, **options: object) -> Mem0Provider:
    provider = Mem0Provider(
        mode="platform",
        api_key=fake.api_key,
        data_dir=str(tmp_path),
        ingest_poll_interval=0.01,
        transport=fake.transport,
        **options,
    )
    await asyncio.wait_for(provider.open(), 30)
    return provider


@pytest.fixture
async def queued(fake: Mem0PlatformFake, tmp_path: Path) -> AsyncIterator[Mem0Provider]:
    provider = await opened(fake, tmp_path)
    yield provider
    await provider.close()


@pytest.fixture
async def synchronous(fake: Mem0PlatformFake, tmp_path: Path) -> AsyncIterator[Mem0Provider]:
    provider = await opened(fake, tmp_path, async_mode=False)
    yield provider
    await provider.close()


async def test_client_is_constructed_off_the_event_loop(
    fake: Mem0PlatformFake, tmp_path: Path
) -> None:
    loop_thread = threading.current_thread()
    ping_threads: list[threading.Thread] = []
    handle = fake.handle

    def spy(request: httpx.Request) -> httpx.Response:
        ping_threads.append(threading.current_thread())
        return handle(request)

    fake.handle = spy  # type: ignore[method-assign]
    provider = await opened(fake, tmp_path)
    await provider.close()
    assert fake.requests[0] == ("GET", "/v1/ping/")
    assert ping_threads
    assert loop_thread not in ping_threads


async def test_a_bad_key_fails_open_with_a_typed_error(
    fake: Mem0PlatformFake, tmp_path: Path
) -> None:
    provider = Mem0Provider(
        mode="platform", api_key="wrong", data_dir=str(tmp_path), transport=fake.transport
    )
    with pytest.raises(ProviderUnavailableError):
        await provider.open()


async def test_queued_add_maps_pending_to_status_queued(queued: Mem0Provider) -> None:
    record = await queued.add(ALICE, MemoryInput(content="likes tea", user_id="alice"))
    assert record.status == "queued"
    assert record.extensions["x-mem0"]["status"] == "PENDING"
    assert record.extensions["x-mem0"]["event_id"]
    caps = await queued.capabilities()
    assert caps.features.async_ingestion


async def test_wait_for_ingest_returns_the_stored_record(queued: Mem0Provider) -> None:
    record = await queued.add(
        ALICE, MemoryInput(content="likes tea", user_id="alice", scope="food", tags=["t"])
    )
    stored = await queued.wait_for_ingest(ALICE, record)
    assert stored.status is None
    assert stored.content == "likes tea"
    assert stored.scope == "food"
    assert stored.tags == ["t"]
    assert await queued.get(ALICE, stored.id) == stored


async def test_wait_for_ingest_times_out_with_a_typed_error(
    fake: Mem0PlatformFake, tmp_path: Path
) -> None:
    from openmem.errors import IngestionTimeoutError

    fake.process_after_polls = 10**9
    provider = await opened(fake, tmp_path)
    record = await provider.add(ALICE, MemoryInput(content="slow", user_id="alice"))
    with pytest.raises(IngestionTimeoutError):
        await provider.wait_for_ingest(ALICE, record, deadline=0.1)
    await provider.close()


async def test_synchronous_add_returns_a_stored_record(synchronous: Mem0Provider) -> None:
    record = await synchronous.add(
        ALICE, MemoryInput(content="likes tea", user_id="alice", metadata={"k": 1})
    )
    assert record.status is None
    got = await synchronous.get(ALICE, record.id)
    assert got.content == "likes tea"
    assert got.metadata == {"k": 1}


async def test_platform_memories_are_isolated_per_user(synchronous: Mem0Provider) -> None:
    record = await synchronous.add(ALICE, MemoryInput(content="alice tea", user_id="alice"))
    with pytest.raises(NotFoundError):
        await synchronous.get(BOB, record.id)
    with pytest.raises(NotFoundError):
        await synchronous.delete(BOB, record.id)
    assert await synchronous.search(BOB, SearchQuery(query="tea")) == []
    assert (await synchronous.list(BOB, ListQuery())).items == []


async def test_platform_list_pages_through_the_api(synchronous: Mem0Provider) -> None:
    for i in range(130):  # more than one API page of 100
        await synchronous.add(ALICE, MemoryInput(content=f"m{i}", user_id="alice"))
    page = await synchronous.list(ALICE, ListQuery(limit=500))
    assert len(page.items) == 130
    assert page.next_cursor is None


async def test_platform_search_update_and_delete(synchronous: Mem0Provider) -> None:
    record = await synchronous.add(ALICE, MemoryInput(content="green tea", user_id="alice"))
    hits = await synchronous.search(ALICE, SearchQuery(query="green tea"))
    assert [h.memory.id for h in hits] == [record.id]
    assert hits[0].score == 1.0
    updated = await synchronous.update(ALICE, record.id, MemoryPatch(content="black tea"))
    assert updated.content == "black tea"
    await synchronous.delete(ALICE, record.id)
    with pytest.raises(NotFoundError):
        await synchronous.get(ALICE, record.id)


async def test_identity_travels_in_filters_on_reads(
    fake: Mem0PlatformFake, synchronous: Mem0Provider
) -> None:
    await synchronous.add(ALICE, MemoryInput(content="x", user_id="alice"))
    # The fake answers 400 when user_id is sent top level on a read, as the v3 API does.
    assert len((await synchronous.list(ALICE, ListQuery())).items) == 1
    assert ("POST", "/v3/memories/") in fake.requests


@pytest.mark.parametrize(
    "name",
    [
        "async_add_is_queued_and_its_event_succeeds",
        "async_batch_writes_each_item_exactly_once",
        "events_are_bounded_by_user",
    ],
)
async def test_the_platform_passes_the_async_ingest_conformance_group(
    fake: Mem0PlatformFake, tmp_path: Path, name: str
) -> None:
    from openmem_conformance.harness import run_check
    from openmem_conformance.registry import CHECKS

    provider = Mem0Provider(
        mode="platform",
        api_key=fake.api_key,
        data_dir=str(tmp_path),
        ingest_poll_interval=0.01,
        transport=fake.transport,
    )
    await run_check(CHECKS[name], provider)
