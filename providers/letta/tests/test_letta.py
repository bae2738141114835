"""Letta behaviours beyond the suite, on the LOCAL CONTRACT FAKE with the official client."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from openmem_letta import LettaProvider
from openmem_letta.fake import LettaFake

from openmem import AsyncMemory
from openmem.errors import (
    InvalidRequestError,
    NotFoundError,
    ProviderError,
    ProviderUnavailableError,
    RateLimitedError,
)
from openmem.models import ListQuery, MemoryInput, MemoryPatch, SearchQuery
from openmem.provider import Caller

BASE = "http://letta.fake"
ALICE = Caller("ns1", "alice")


@pytest.fixture
def fake() -> LettaFake:
    return LettaFake()


@pytest.fixture
async def http(fake: LettaFake) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(fake.asgi), base_url=BASE) as c:
        yield c


def provider(fake: LettaFake, http: httpx.AsyncClient, **options: object) -> LettaProvider:
    return LettaProvider(api_key=fake.api_key, base_url=BASE, http_client=http, **options)


async def test_a_new_instance_finds_the_same_users_memories(
    fake: LettaFake, http: httpx.AsyncClient
) -> None:
    async with AsyncMemory(provider=provider(fake, http), namespace="ns1") as mem:
        kept = await mem.add("likes green tea", user_id="alice", tags=["drink"])
    async with AsyncMemory(provider=provider(fake, http), namespace="ns1") as mem:
        assert (await mem.get(kept.id, user_id="alice")) == kept
        assert [r.id for r in (await mem.list("alice")).items] == [kept.id]
        await mem.add("likes black tea", user_id="alice")
    assert len(fake.agents) == 1  # found again by name, never a second agent


async def test_two_namespaces_never_share_an_agent(
    fake: LettaFake, http: httpx.AsyncClient
) -> None:
    async with AsyncMemory(provider=provider(fake, http), namespace="ns1") as one:
        record = await one.add("ns1 memory", user_id="alice")
    async with AsyncMemory(provider=provider(fake, http), namespace="ns2") as two:
        await two.add("ns2 memory", user_id="alice")
        with pytest.raises(NotFoundError):
            await two.get(record.id, user_id="alice")
        assert [r.content for r in (await two.list("alice")).items] == ["ns2 memory"]
    names = sorted(a["name"] for a in fake.agents.values())
    assert len(names) == 2
    assert names[0] != names[1]
    # Separators inside ids are encoded: ("a:b", "c") and ("a", "b:c") stay apart.
    assert all(name.count(":") == 2 for name in names)


async def test_fields_round_trip_exactly_through_passage_tags(
    fake: LettaFake, http: httpx.AsyncClient
) -> None:
    async with AsyncMemory(provider=provider(fake, http), namespace="ns1") as mem:
        record = await mem.add(
            "uses tabs",
            user_id="alice",
            scope="coding/python",
            tags=["style", "édition"],
            metadata={"n": 1, "nested": {"a": [1, 2]}},
            confidence=0.5,
            agent_id="bot",
            session_id="s1",
            **{"x-app": {"k": "v"}},
        )
        assert await mem.get(record.id, user_id="alice") == record
    [passage] = fake.passages.values()
    assert f"om:id:{record.id}" in passage["tags"]
    assert "om:tag:style" in passage["tags"]


async def test_update_keeps_the_openmem_id_and_replaces_the_passage(
    fake: LettaFake, http: httpx.AsyncClient
) -> None:
    async with AsyncMemory(provider=provider(fake, http), namespace="ns1") as mem:
        record = await mem.add("uses tabs", user_id="alice")
        [before] = fake.passages
        updated = await mem.update(record.id, user_id="alice", content="uses spaces")
        [after] = fake.passages
        assert updated.id == record.id
        assert before != after
        assert (await mem.get(record.id, user_id="alice")).content == "uses spaces"


async def test_a_half_done_update_reads_as_the_new_version(
    fake: LettaFake, http: httpx.AsyncClient
) -> None:
    letta = provider(fake, http, max_retries=0)
    await letta.open()
    record = await letta.add(ALICE, MemoryInput(content="old", user_id="alice"))
    # Interrupted between its two steps (here the delete fails; a cancel there does the
    # same), an update leaves both passages: reads take the newest, delete removes both.
    original = fake.respond

    def no_deletes(request: httpx.Request) -> httpx.Response:
        if request.method == "DELETE":
            return httpx.Response(503, json={"detail": "unavailable"})
        return original(request)

    fake.respond = no_deletes  # type: ignore[method-assign]
    with pytest.raises(ProviderUnavailableError):
        await letta.update(ALICE, record.id, MemoryPatch(content="new"))
    fake.respond = original  # type: ignore[method-assign]
    assert len(fake.passages) == 2
    assert (await letta.get(ALICE, record.id)).content == "new"
    assert [r.content for r in (await letta.list(ALICE, ListQuery())).items] == ["new"]
    await letta.delete(ALICE, record.id)
    assert fake.passages == {}
    await letta.close()


async def test_search_scores_are_letta_scores_clamped_into_unit_range(
    fake: LettaFake, http: httpx.AsyncClient
) -> None:
    letta = provider(fake, http)
    await letta.open()
    await letta.add(ALICE, MemoryInput(content="green tea in the morning", user_id="alice"))
    await letta.add(ALICE, MemoryInput(content="coffee at night", user_id="alice"))
    hits = await letta.search(ALICE, SearchQuery(query="green tea"))
    assert next(h.memory.content for h in hits) == "green tea in the morning"
    assert hits[0].score == 1.0
    assert all(0.0 <= h.score <= 1.0 for h in hits)
    assert ("POST", "/v1/passages/search") in fake.requests
    await letta.close()


async def test_a_rate_limit_is_retried_after_retry_after(
    fake: LettaFake, http: httpx.AsyncClient
) -> None:
    letta = provider(fake, http)
    await letta.open()
    fake.fail_next(429, {"detail": "Rate limit exceeded"}, headers={"Retry-After": "0.2"})
    started = time.perf_counter()
    await letta.add(ALICE, MemoryInput(content="x", user_id="alice"))
    assert time.perf_counter() - started >= 0.2
    await letta.close()


async def test_a_rate_limit_past_the_retries_is_rate_limited_with_retry_after(
    fake: LettaFake, http: httpx.AsyncClient
) -> None:
    letta = provider(fake, http, max_retries=0)
    await letta.open()
    fake.fail_next(429, {"detail": "Rate limit exceeded"}, headers={"Retry-After": "7"})
    with pytest.raises(RateLimitedError) as caught:
        await letta.add(ALICE, MemoryInput(content="x", user_id="alice"))
    assert caught.value.retry_after == 7.0
    await letta.close()


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, InvalidRequestError),
        (422, InvalidRequestError),
        (404, NotFoundError),
        (500, ProviderError),
        (503, ProviderUnavailableError),
    ],
)
async def test_service_errors_map_to_typed_errors(
    fake: LettaFake, http: httpx.AsyncClient, status: int, error: type[Exception]
) -> None:
    letta = provider(fake, http, max_retries=0)
    await letta.open()
    record = await letta.add(ALICE, MemoryInput(content="x", user_id="alice"))
    fake.fail_next(status, {"detail": "boom"})
    with pytest.raises(error) as caught:
        await letta.get(ALICE, record.id)
    assert str(status) in str(caught.value)
    await letta.close()


async def test_a_refused_key_fails_open_typed_and_never_shows_the_key(
    fake: LettaFake, http: httpx.AsyncClient
) -> None:
    secret = "sk-let-very-secret-0123456789"
    letta = LettaProvider(api_key=secret, base_url=BASE, http_client=http)
    with pytest.raises(ProviderUnavailableError) as caught:
        await letta.open()
    shown = f"{caught.value} {caught.value!r} {letta!r} {letta.options!r} {letta.options}"
    assert secret not in shown


async def test_an_unreachable_server_is_provider_unavailable() -> None:
    letta = LettaProvider(api_key="k", base_url="http://127.0.0.1:9", max_retries=0, timeout=2)
    with pytest.raises(ProviderUnavailableError):
        await letta.open()


async def test_the_sync_client_runs_on_worker_threads_and_says_so(tmp_path: Path) -> None:
    fake = LettaFake()
    with fake.serve() as base_url:
        letta = LettaProvider(api_key=fake.api_key, base_url=base_url, client="sync")
        async with AsyncMemory(provider=letta, namespace="ns1") as mem:
            record = await mem.add("likes tea", user_id="alice", tags=["t"])
            assert (await mem.get(record.id, user_id="alice")) == record
            assert [h.memory.id for h in await mem.search("tea", "alice")] == [record.id]
            caps = await mem.capabilities()
            assert caps.features.cancellation == "thread"


async def test_configuration_from_toml_and_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    toml = tmp_path / "openmem.toml"
    toml.write_text('provider = "letta"\napi_key = "sk-toml"\nbase_url = "http://letta.local"\n')
    mem = AsyncMemory.from_config(toml)
    assert isinstance(mem.provider, LettaProvider)
    assert mem.provider.options.base_url == "http://letta.local"
    monkeypatch.setenv("OPENMEM_PROVIDER", "letta")
    monkeypatch.setenv("OPENMEM_API_KEY", "sk-env")
    monkeypatch.setenv("OPENMEM_BASE_URL", "http://letta.env")
    env = AsyncMemory.from_env(dotenv=None)
    assert isinstance(env.provider, LettaProvider)
    assert env.provider.options.base_url == "http://letta.env"
    assert "sk-env" not in repr(env.provider) + repr(env.provider.options)


async def test_the_key_reaches_no_log_line_even_at_debug(
    http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "sk-let-logged-0123456789"
    fake = LettaFake(api_key=secret)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(fake.asgi), base_url=BASE) as c:
        letta = LettaProvider(api_key=secret, base_url=BASE, http_client=c, max_retries=1)
        with caplog.at_level(logging.DEBUG):
            await letta.open()
            await letta.add(ALICE, MemoryInput(content="x", user_id="alice"))
            fake.fail_next(429, {"detail": "slow down"}, headers={"Retry-After": "0"})
            await letta.search(ALICE, SearchQuery(query="x"))
            await letta.close()
    assert caplog.records  # the clients did log, at debug
    assert secret not in caplog.text
