"""The passthrough provider: round trips, the error table read back, retries, the gate."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

import openmem.passthrough.exchange as exchange_module
from openmem import AsyncMemory
from openmem.errors import (
    ClosedError,
    ConfigurationError,
    ConflictError,
    InvalidRequestError,
    InvalidResponseError,
    NotFoundError,
    OMPError,
    ProviderError,
    ProviderUnavailableError,
    RateLimitedError,
    ScopeDeniedError,
    UnauthorizedError,
    UnsupportedCapabilityError,
)
from openmem.inmemory import InMemoryProvider
from openmem.models import AuditQuery, ContextQuery, ListQuery, MemoryInput, SearchQuery
from openmem.passthrough import PassthroughProvider
from openmem.provider import Caller
from openmem.server import KeyStore, ServerSettings, create_app

CALLER = Caller(namespace="default", user_id="u1")


@pytest.fixture
async def server_transport() -> AsyncIterator[httpx.ASGITransport]:
    """An in-process `openmem serve` (no auth) over a fresh in-memory provider."""
    app = create_app(ServerSettings(auth=False), provider=InMemoryProvider())
    async with LifespanManager(app) as manager:
        yield httpx.ASGITransport(manager.app)


@pytest.fixture
async def mem(server_transport: httpx.ASGITransport) -> AsyncIterator[AsyncMemory]:
    """AsyncMemory(base_url=...) against the in-process server."""
    async with AsyncMemory(base_url="http://omp.test", transport=server_transport) as memory:
        yield memory


async def test_base_url_selects_the_passthrough_provider(mem: AsyncMemory) -> None:
    assert isinstance(mem.provider, PassthroughProvider)
    assert (await mem.capabilities()).provider == "inmemory"


async def test_every_verb_round_trips(mem: AsyncMemory) -> None:
    record = await mem.add(
        "prefers dark mode",
        user_id="u1",
        scope="ui/prefs",
        tags=["ui", "theme"],
        metadata={"device": "laptop"},
        confidence=0.9,
        x_test={"kept": True},
    )
    assert record.extensions == {"x-test": {"kept": True}}
    assert await mem.get(record.id, user_id="u1") == record
    updated = await mem.update(record.id, user_id="u1", scope=None, metadata={"device": None})
    assert (updated.scope, updated.metadata) == (None, {})
    page = await mem.list("u1", tags=["ui", "theme"])
    assert [item.id for item in page.items] == [record.id]
    hits = await mem.search("dark mode", "u1", filters={}, mode="keyword")
    assert hits[0].memory.id == record.id
    block = await mem.context("dark mode", "u1", token_budget=50)
    assert block.citations[0].memory_id == record.id
    assert {e.action for e in await mem.audit("u1")} >= {"add", "get", "update", "list"}
    batch = await mem.add_many(["one", {"content": "two", "scope": "s"}], user_id="u1")
    assert [r.content for r in batch] == ["one", "two"]
    await mem.delete(record.id, user_id="u1")
    with pytest.raises(NotFoundError):
        await mem.get(record.id, user_id="u1")
    assert await mem.forget_user("u1") == 2


async def test_idempotency_key_round_trips(mem: AsyncMemory) -> None:
    first = await mem.add("once", user_id="u1", idempotency_key="k")
    again = await mem.add("once", user_id="u1", idempotency_key="k")
    assert first.id == again.id


async def test_server_errors_come_back_typed(mem: AsyncMemory) -> None:
    with pytest.raises(NotFoundError) as caught:
        await mem.get("mem_missing", user_id="u1")
    assert caught.value.request_id
    with pytest.raises(InvalidRequestError) as invalid:
        await mem.list("u1", cursor="garbage-cursor")
    assert invalid.value.error_code == "invalid_request"


async def test_auth_errors_come_back_typed(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys.json")
    read_key, _ = store.create(namespace="a", verbs=["read"])
    app = create_app(ServerSettings(), provider=InMemoryProvider(), key_store=store)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(manager.app)
        async with AsyncMemory(
            base_url="http://omp.test", transport=transport, api_key=read_key
        ) as mem:
            assert (await mem.list("u1")).items == []
            with pytest.raises(ScopeDeniedError):
                await mem.add("x", user_id="u1")
        async with AsyncMemory(
            base_url="http://omp.test", transport=transport, api_key="omk_wrong"
        ) as mem:
            with pytest.raises(UnauthorizedError):
                await mem.list("u1")


# -- against a scripted server --------------------------------------------------------------

_CAPS = {
    "omp_version": "0.1",
    "provider": "scripted",
    "verbs": ["add", "search", "get", "update", "delete", "list", "context"],
    "features": {"vector_search": True, "batch_add": True, "metadata_filters": True},
}
_RECORD = {"id": "mem_1", "content": "x", "user_id": "u1", "created_at": "2026-01-01T00:00:00Z"}


class Script:
    """A mock OMP server: answers from a queue per route, records every request."""

    def __init__(self, caps: dict[str, Any] | None = None) -> None:
        self.caps = caps or _CAPS
        self.requests: list[httpx.Request] = []
        self.answers: list[httpx.Response] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/capabilities":
            return httpx.Response(200, json=self.caps)
        self.requests.append(request)
        if self.answers:
            return self.answers.pop(0)
        return httpx.Response(200, json=_RECORD)

    def provider(self, **options: Any) -> PassthroughProvider:
        return PassthroughProvider(
            base_url="http://omp.test", transport=httpx.MockTransport(self.handler), **options
        )


@pytest.fixture
def delays(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The backoff delays the provider sleeps (without sleeping)."""
    seen: list[float] = []

    async def no_sleep(delay: float) -> None:
        seen.append(delay)

    monkeypatch.setattr(exchange_module, "_sleep", no_sleep)
    return seen


def _envelope(status: int, code: str, **headers: str) -> httpx.Response:
    body = {"error": {"code": code, "message": code, "type": "provider_error"}}
    return httpx.Response(status, json=body, headers=headers)


async def test_idempotent_reads_are_retried_on_retryable_errors(delays: list[float]) -> None:
    script = Script()
    script.answers = [_envelope(503, "provider_unavailable"), _envelope(503, "provider_saturated")]
    provider = script.provider(retries=2)
    await provider.open()
    assert (await provider.get(CALLER, "mem_1")).id == "mem_1"
    assert len(script.requests) == 3
    assert len(delays) == 2
    assert all(0 <= d <= 0.4 for d in delays)


async def test_retries_stop_after_the_configured_number(delays: list[float]) -> None:
    script = Script()
    script.answers = [_envelope(503, "provider_unavailable")] * 5
    provider = script.provider(retries=1)
    await provider.open()
    with pytest.raises(ProviderUnavailableError):
        await provider.get(CALLER, "mem_1")
    assert len(script.requests) == 2


async def test_an_add_without_idempotency_key_is_never_retried(delays: list[float]) -> None:
    script = Script()
    script.answers = [_envelope(503, "provider_unavailable")]
    provider = script.provider(retries=3)
    await provider.open()
    with pytest.raises(ProviderUnavailableError):
        await provider.add(CALLER, MemoryInput(content="x", user_id="u1"))
    assert len(script.requests) == 1


async def test_an_add_with_idempotency_key_is_retried_with_the_same_key(
    delays: list[float],
) -> None:
    script = Script({**_CAPS, "x-openmem": {"extensions": ["idempotency-key"]}})
    script.answers = [_envelope(503, "provider_unavailable"), httpx.Response(201, json=_RECORD)]
    provider = script.provider(retries=3)
    await provider.open()
    await provider.add(CALLER, MemoryInput(content="x", user_id="u1", idempotency_key="k1"))
    assert [r.headers["idempotency-key"] for r in script.requests] == ["k1", "k1"]
    assert "idempotency_key" not in json.loads(script.requests[0].content)


async def test_non_retryable_errors_are_not_retried(delays: list[float]) -> None:
    script = Script()
    script.answers = [_envelope(409, "conflict")]
    provider = script.provider(retries=3)
    await provider.open()
    with pytest.raises(ConflictError):
        await provider.get(CALLER, "mem_1")
    assert len(script.requests) == 1


async def test_retry_after_is_honoured(delays: list[float]) -> None:
    script = Script()
    script.answers = [_envelope(429, "rate_limited", **{"retry-after": "2"})]
    provider = script.provider(retries=1)
    await provider.open()
    await provider.get(CALLER, "mem_1")
    assert delays == [2.0]


async def test_a_retry_after_beyond_the_cap_is_raised_at_once(delays: list[float]) -> None:
    script = Script()
    script.answers = [_envelope(429, "rate_limited", **{"retry-after": "3600"})]
    provider = script.provider(retries=3, max_retry_after=10)
    await provider.open()
    with pytest.raises(RateLimitedError) as caught:
        await provider.get(CALLER, "mem_1")
    assert caught.value.retry_after == 3600.0
    assert delays == []


@pytest.mark.parametrize(
    ("answer", "expected", "code"),
    [
        (_envelope(404, "not_found"), NotFoundError, "not_found"),
        (_envelope(400, "x_vendor_oddity"), InvalidRequestError, "x_vendor_oddity"),
        (httpx.Response(502, text="<html>bad gateway</html>"), ProviderError, "provider_error"),
        (httpx.Response(404, text="nope"), NotFoundError, "not_found"),
        (httpx.Response(302, headers={"location": "/x"}), ProviderError, "provider_error"),
        (httpx.Response(200, text="not json"), ProviderError, "provider_error"),
        (httpx.Response(200, json={"id": 1}), ProviderError, "provider_error"),
    ],
)
async def test_answers_map_to_the_error_table(
    answer: httpx.Response, expected: type[OMPError], code: str
) -> None:
    script = Script()
    script.answers = [answer]
    provider = script.provider(retries=0)
    await provider.open()
    with pytest.raises(expected) as caught:
        await provider.get(CALLER, "mem_1")
    assert caught.value.error_code == code


async def test_network_failure_is_provider_unavailable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    provider = PassthroughProvider(
        base_url="http://omp.test", transport=httpx.MockTransport(refuse), retries=0
    )
    with pytest.raises(ProviderUnavailableError):
        await provider.open()
    assert not provider._exchange.has_pool  # a failed open leaves no pool behind


async def test_a_server_without_omp_version_is_refused() -> None:
    transport = httpx.MockTransport(lambda r: httpx.Response(200, json={"hello": "world"}))
    provider = PassthroughProvider(base_url="http://omp.test", transport=transport)
    with pytest.raises(ProviderError, match="not an OMP server"):
        await provider.open()


async def test_undeclared_verbs_are_refused_before_any_request() -> None:
    script = Script()
    async with AsyncMemory(script.provider()) as mem:
        with pytest.raises(UnsupportedCapabilityError):
            await mem.audit("u1")
    assert script.requests == []


async def test_extension_features_need_the_server_to_declare_the_route() -> None:
    script = Script()  # claims batch_add and metadata_filters, but no x-openmem routes
    provider = script.provider()
    await provider.open()
    features = (await provider.capabilities()).features
    assert (features.batch_add, features.metadata_filters) == (False, False)
    assert features.cancellation == "native"
    async with AsyncMemory(provider) as mem:
        with pytest.raises(UnsupportedCapabilityError):
            await mem.search("x", "u1", filters={"a": 1})
    assert script.requests == []


async def test_search_uses_the_omp_0_1_query_form_by_default() -> None:
    script = Script()
    script.answers = [httpx.Response(200, json={"results": []})]
    provider = script.provider()
    await provider.open()
    await provider.search(CALLER, SearchQuery(query="dark", scope="ui", min_score=0.5))
    (request,) = script.requests
    assert (request.method, request.url.path) == ("GET", "/memories/search")
    assert dict(request.url.params) == {
        "q": "dark",
        "user_id": "u1",
        "limit": "10",
        "scope": "ui",
        "min_score": "0.5",
    }
    assert request.headers["x-user-id"] == "u1"


async def test_by_id_verbs_escape_the_id_and_send_the_user() -> None:
    script = Script()
    provider = script.provider()
    await provider.open()
    await provider.get(CALLER, "a/b?c")
    (request,) = script.requests
    assert request.url.raw_path == b"/memories/a%2Fb%3Fc"
    assert request.headers["x-user-id"] == "u1"


async def test_api_key_is_sent_as_bearer_and_hidden_from_repr() -> None:
    script = Script()
    provider = script.provider(api_key="omk_secret")
    await provider.open()
    await provider.get(CALLER, "mem_1")
    assert script.requests[0].headers["authorization"] == "Bearer omk_secret"
    assert "omk_secret" not in repr(provider.options)


async def test_bad_base_url_is_refused() -> None:
    with pytest.raises((ValueError, ConfigurationError)):
        PassthroughProvider(base_url="ftp://example.com")


async def test_close_is_idempotent_and_final() -> None:
    script = Script()
    provider = script.provider()
    await provider.open()
    await provider.close()
    await provider.close()
    with pytest.raises(ClosedError):
        await provider.get(CALLER, "mem_1")


async def test_health_probes_healthz(server_transport: httpx.ASGITransport) -> None:
    provider = PassthroughProvider(base_url="http://omp.test", transport=server_transport)
    await provider.open()
    await provider.health()
    await provider.close()


async def test_a_long_query_uses_the_body_form(mem: AsyncMemory) -> None:
    await mem.add("dark mode " * 5, user_id="u1")
    hits = await mem.search("dark mode " * 600, "u1")  # 6000 characters: too long for a URL
    assert len(hits) == 1


async def test_omp_0_1_answers_of_other_servers_are_read() -> None:
    legacy = {**_RECORD, "tags": None, "supersedes": None, "scope": None}
    script = Script()
    script.answers = [
        httpx.Response(200, json=legacy),
        httpx.Response(200, json={"items": [legacy], "next_cursor": None}),
        httpx.Response(200, json={"results": [{"memory": legacy, "score": 0.25}]}),
        httpx.Response(200, json={"text": "x y z", "citations": None, "token_count": None}),
    ]
    provider = script.provider()
    await provider.open()
    assert (await provider.get(CALLER, "mem_1")).tags == []
    assert (await provider.list(CALLER, ListQuery())).items[0].supersedes == []
    assert (await provider.search(CALLER, SearchQuery(query="q")))[0].score == 0.25
    block = await provider.context(CALLER, ContextQuery(query="q"))
    assert (block.citations, block.token_count > 0) == ([], True)


def _out_of_range_answers() -> list[httpx.Response]:
    return [
        httpx.Response(200, json={"results": [{"memory": _RECORD, "score": -0.25}]}),
        httpx.Response(
            200,
            json={"text": "[mem_1] x", "citations": [{"memory_id": "mem_1", "score": 1.5}]},
        ),
    ]


async def test_an_out_of_range_score_is_an_invalid_response_in_search_and_context() -> None:
    script = Script()
    script.answers = _out_of_range_answers()
    provider = script.provider()
    await provider.open()
    with pytest.raises(InvalidResponseError) as searched:
        await provider.search(CALLER, SearchQuery(query="q"))
    with pytest.raises(InvalidResponseError) as cited:
        await provider.context(CALLER, ContextQuery(query="q"))
    assert (searched.value.error_code, cited.value.error_code) == ("invalid_response",) * 2
    assert "-0.25" in searched.value.message
    assert "1.5" in cited.value.message


async def test_clamp_scores_brings_them_into_range_and_counts_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    script = Script()
    script.answers = _out_of_range_answers()
    provider = script.provider(clamp_scores=True)
    await provider.open()
    hits = await provider.search(CALLER, SearchQuery(query="q"))
    block = await provider.context(CALLER, ContextQuery(query="q"))
    assert (hits[0].score, block.citations[0].score) == (0.0, 1.0)
    assert provider.clamped_scores == 2
    assert "clamped 1 citation score" in caplog.text


async def test_search_modes_are_forwarded_only_when_they_can_be_sent() -> None:
    caps = {**_CAPS, "features": {"vector_search": True, "keyword_search": True}}
    provider = Script(caps).provider()  # no x-openmem: no mode parameter on the wire
    await provider.open()
    features = (await provider.capabilities()).features
    assert (features.vector_search, features.keyword_search, features.temporal) == (
        False,
        False,
        False,
    )
    extended = {**caps, "x-openmem": {"extensions": ["search:post"]}}
    provider = Script(extended).provider()
    await provider.open()
    features = (await provider.capabilities()).features
    assert (features.vector_search, features.keyword_search) == (True, True)


async def test_the_raw_provider_refuses_undeclared_verbs_before_any_request() -> None:
    script = Script({**_CAPS, "verbs": ["add", "search", "get", "update", "delete", "list"]})
    provider = script.provider()
    await provider.open()
    with pytest.raises(UnsupportedCapabilityError):
        await provider.audit(CALLER, AuditQuery())
    with pytest.raises(UnsupportedCapabilityError):
        await provider.context(CALLER, ContextQuery(query="q"))
    assert script.requests == []
