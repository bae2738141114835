"""Supermemory behaviours beyond the suite, on the LOCAL CONTRACT FAKE with the official client."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from openmem_supermemory import SupermemoryProvider
from openmem_supermemory.fake import SupermemoryFake

from openmem import AsyncMemory
from openmem.errors import (
    InvalidRequestError,
    NotFoundError,
    ProviderError,
    ProviderUnavailableError,
    RateLimitedError,
)

BASE = "http://supermemory.fake"
LONG = "The user prefers a dark colour theme in every editor and terminal they use"


@pytest.fixture
def fake() -> SupermemoryFake:
    return SupermemoryFake()


@pytest.fixture
async def http(fake: SupermemoryFake) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(fake.asgi), base_url=BASE) as c:
        yield c


def memory(fake: SupermemoryFake, http: httpx.AsyncClient, **options: object) -> AsyncMemory:
    provider = SupermemoryProvider(api_key=fake.api_key, base_url=BASE, http_client=http, **options)
    return AsyncMemory(provider=provider, namespace="ns1")


async def test_add_is_queued_and_wait_for_ingest_resolves_it(
    fake: SupermemoryFake, http: httpx.AsyncClient
) -> None:
    fake.process_after_polls = 3
    async with memory(fake, http) as mem:
        record = await mem.add(LONG, user_id="alice", scope="ui")
        assert record.status == "queued"
        [stored] = await mem.wait_for_ingest([record.id], user_id="alice", timeout=10)
        assert stored.status is None
        assert stored.model_dump(exclude={"status"}) == record.model_dump(exclude={"status"})


async def test_search_hits_carry_the_memory_text_never_the_title(
    fake: SupermemoryFake, http: httpx.AsyncClient
) -> None:
    async with memory(fake, http) as mem:
        record = await mem.add(LONG, user_id="alice")
        await mem.wait_for_ingest([record.id], user_id="alice")
        [hit] = await mem.search("dark colour theme", "alice")
        assert hit.memory.content == LONG
        [doc] = fake.documents.values()
        assert doc["content"][:40] != LONG  # the title the reference adapter returned


async def test_a_stale_chunk_is_replaced_by_the_documents_content(
    fake: SupermemoryFake, http: httpx.AsyncClient
) -> None:
    fake.process_after_polls = 10**6  # the new content stays queued; the old chunk is indexed
    async with memory(fake, http) as mem:
        record = await mem.add("dark theme everywhere", user_id="alice")
        [doc] = fake.documents.values()
        doc.update(status="done", _indexed=doc["content"])
        await mem.update(record.id, user_id="alice", content="dark theme in the terminal")
        [hit] = await mem.search("dark theme", "alice")
        assert hit.memory.content == "dark theme in the terminal"


async def test_filtered_list_pages_are_full_until_the_last(
    fake: SupermemoryFake, http: httpx.AsyncClient
) -> None:
    async with memory(fake, http) as mem:
        wanted = set()
        for i in range(125):
            scope = "work/notes" if i % 5 == 0 else "home"
            record = await mem.add(f"memory {i}", user_id="alice", scope=scope)
            if i % 5 == 0:
                wanted.add(record.id)
        sizes, seen, cursor = [], [], None
        while True:
            page = await mem.list("alice", scope="work", limit=4, cursor=cursor)
            sizes.append(len(page.items))
            seen.extend(r.id for r in page.items)
            cursor = page.next_cursor
            if cursor is None:
                break
        assert set(seen) == wanted
        assert len(seen) == len(wanted)
        assert sizes == [4] * 6 + [1]
    # The scope filter ran on the service, not after paging.
    assert ("POST", "/ns/" + next(iter(fake.documents))[0] + "/list/documents") in fake.requests


async def test_namespaces_and_users_get_their_own_service_namespace(
    fake: SupermemoryFake, http: httpx.AsyncClient
) -> None:
    async with memory(fake, http) as mem:
        record = await mem.add("alice's", user_id="alice")
        await mem.add("bob's", user_id="bob")
        with pytest.raises(NotFoundError):
            await mem.get(record.id, user_id="bob")
    provider = SupermemoryProvider(api_key=fake.api_key, base_url=BASE, http_client=http)
    async with AsyncMemory(provider=provider, namespace="ns2") as other:
        with pytest.raises(NotFoundError):
            await other.get(record.id, user_id="alice")
        assert (await other.list("alice")).items == []
    assert len({ns for ns, _ in fake.documents}) == 2


async def test_metadata_filters_run_on_the_service_and_are_checked_here(
    fake: SupermemoryFake, http: httpx.AsyncClient
) -> None:
    async with memory(fake, http) as mem:
        keep = await mem.add("tea note", user_id="alice", metadata={"kind": "drink", "n": 2})
        await mem.add("tea other", user_id="alice", metadata={"kind": "food", "n": 2})
        await mem.wait_for_ingest([keep.id], user_id="alice")
        for doc in fake.documents.values():
            doc.update(status="done", _indexed=doc["content"])
        hits = await mem.search("tea", "alice", filters={"kind": "drink", "n": 2})
        assert [h.memory.id for h in hits] == [keep.id]


async def test_a_rate_limit_is_retried_after_retry_after(
    fake: SupermemoryFake, http: httpx.AsyncClient
) -> None:
    async with memory(fake, http) as mem:
        fake.fail_next(429, {"error": "Too Many Requests"}, headers={"Retry-After": "1"})
        started = time.perf_counter()
        await mem.add("x", user_id="alice")
        assert time.perf_counter() - started >= 1.0


async def test_a_rate_limit_past_the_retries_is_rate_limited_with_retry_after(
    fake: SupermemoryFake, http: httpx.AsyncClient
) -> None:
    async with memory(fake, http, max_retries=0) as mem:
        fake.fail_next(429, {"error": "Too Many Requests"}, headers={"Retry-After": "7"})
        with pytest.raises(RateLimitedError) as caught:
            await mem.add("x", user_id="alice")
        assert caught.value.retry_after == 7.0


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, InvalidRequestError),
        (404, NotFoundError),
        (500, ProviderError),
        (503, ProviderUnavailableError),
    ],
)
async def test_service_errors_map_to_typed_errors(
    fake: SupermemoryFake, http: httpx.AsyncClient, status: int, error: type[Exception]
) -> None:
    async with memory(fake, http, max_retries=0) as mem:
        fake.fail_next(status, {"error": "boom", "details": "boom"})
        with pytest.raises(error):
            await mem.search("x", "alice")


async def test_a_refused_key_fails_open_typed_and_never_shows_the_key(
    http: httpx.AsyncClient,
) -> None:
    secret = "sm-very-secret-0123456789"
    provider = SupermemoryProvider(api_key=secret, base_url=BASE, http_client=http)
    with pytest.raises(ProviderUnavailableError) as caught:
        await provider.open()
    shown = f"{caught.value} {caught.value!r} {provider!r} {provider.options!r}"
    assert secret not in shown


async def test_an_unreachable_server_is_provider_unavailable() -> None:
    provider = SupermemoryProvider(
        api_key="k", base_url="http://127.0.0.1:9", max_retries=0, timeout=2
    )
    with pytest.raises(ProviderUnavailableError):
        await provider.open()


async def test_configuration_from_toml_and_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    toml = tmp_path / "openmem.toml"
    toml.write_text('provider = "supermemory"\napi_key = "sm-toml"\nbase_url = "http://s.local"\n')
    mem = AsyncMemory.from_config(toml)
    assert isinstance(mem.provider, SupermemoryProvider)
    assert mem.provider.options.base_url == "http://s.local"
    monkeypatch.setenv("OPENMEM_PROVIDER", "supermemory")
    monkeypatch.setenv("OPENMEM_API_KEY", "sm-env")
    monkeypatch.setenv("OPENMEM_BASE_URL", "http://s.env")
    env = AsyncMemory.from_env(dotenv=None)
    assert isinstance(env.provider, SupermemoryProvider)
    assert env.provider.options.base_url == "http://s.env"
    assert "sm-env" not in repr(env.provider) + repr(env.provider.options)


async def test_the_key_reaches_no_log_line_even_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    secret = "sm-logged-0123456789"
    fake = SupermemoryFake(api_key=secret)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(fake.asgi), base_url=BASE) as c:
        provider = SupermemoryProvider(api_key=secret, base_url=BASE, http_client=c)
        with caplog.at_level(logging.DEBUG):
            async with AsyncMemory(provider=provider, namespace="ns1") as mem:
                fake.fail_next(429, {"error": "slow down"}, headers={"Retry-After": "0"})
                await mem.add("x", user_id="alice")
                await mem.search("x", "alice")
    assert caplog.records  # the clients did log, at debug
    assert secret not in caplog.text
