"""The chat client against a FAKE chat-completions server: retries, timeouts, repair."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
from pydantic import BaseModel

from openmem.errors import (
    InvalidResponseError,
    ProviderError,
    ProviderUnavailableError,
    RateLimitedError,
)
from openmem.llm import ChatClient, ChatMessage
from openmem.llm.fake import FakeChatServer, FakeReply

ASK = [ChatMessage(role="user", content="facts please")]


class Facts(BaseModel):
    facts: list[str]


async def test_structured_reply_is_parsed_and_validated(
    fake_llm: FakeChatServer, client: ChatClient
) -> None:
    fake_llm.script(FakeReply.json({"facts": ["Lives in Lisbon"]}))
    assert (await client.structured(ASK, Facts)).facts == ["Lives in Lisbon"]
    sent = fake_llm.requests[0]
    assert sent["model"] == "fake-model"
    assert sent["response_format"] == {"type": "json_object"}
    assert sent["messages"] == [{"role": "user", "content": "facts please"}]


async def test_a_code_fenced_reply_is_accepted(
    fake_llm: FakeChatServer, client: ChatClient
) -> None:
    fake_llm.script(FakeReply(content='```json\n{"facts": ["a"]}\n```'))
    assert (await client.structured(ASK, Facts)).facts == ["a"]


async def test_malformed_output_gets_one_repair_attempt(
    fake_llm: FakeChatServer, client: ChatClient
) -> None:
    fake_llm.script(FakeReply(content="Sure! The facts are: Lisbon"), FakeReply.json({"facts": []}))
    assert (await client.structured(ASK, Facts)).facts == []
    assert len(fake_llm.requests) == 2
    repair = fake_llm.requests[1]["messages"]
    assert repair[-2] == {"role": "assistant", "content": "Sure! The facts are: Lisbon"}
    assert "not valid" in repair[-1]["content"]


async def test_output_malformed_twice_is_invalid_response(
    fake_llm: FakeChatServer, client: ChatClient
) -> None:
    fake_llm.script(FakeReply.json({"fact": "x"}), FakeReply(content="[1, 2]"))
    with pytest.raises(InvalidResponseError) as caught:
        await client.structured(ASK, Facts)
    assert caught.value.error_code == "invalid_response"
    assert len(fake_llm.requests) == 2


async def test_a_completion_without_choices_is_invalid_response(
    fake_llm: FakeChatServer, client: ChatClient
) -> None:
    fake_llm.script(FakeReply(body={"choices": []}), FakeReply(body=b"<html>oops</html>"))
    with pytest.raises(InvalidResponseError):
        await client.structured(ASK, Facts)


async def test_5xx_is_retried_then_succeeds(fake_llm: FakeChatServer, client: ChatClient) -> None:
    fake_llm.script(FakeReply(status=500), FakeReply(status=503), FakeReply.json({"facts": []}))
    assert (await client.structured(ASK, Facts)).facts == []
    assert len(fake_llm.requests) == 3


async def test_5xx_after_the_retries_is_provider_unavailable(
    fake_llm: FakeChatServer, client: ChatClient
) -> None:
    fake_llm.script(*[FakeReply(status=500)] * 3)
    with pytest.raises(ProviderUnavailableError) as caught:
        await client.complete(ASK)
    assert caught.value.error_code == "provider_unavailable"
    assert len(fake_llm.requests) == 3  # one try and max_retries=2


async def test_429_waits_for_retry_after(fake_llm: FakeChatServer, client: ChatClient) -> None:
    fake_llm.script(FakeReply(status=429, headers={"Retry-After": "0.3"}), FakeReply(content="{}"))
    started = time.monotonic()
    assert await client.complete(ASK) == "{}"
    assert time.monotonic() - started >= 0.3
    assert len(fake_llm.requests) == 2


async def test_429_after_the_retries_is_rate_limited(
    fake_llm: FakeChatServer, client: ChatClient
) -> None:
    fake_llm.script(*[FakeReply(status=429, headers={"Retry-After": "0"})] * 3)
    with pytest.raises(RateLimitedError):
        await client.complete(ASK)


async def test_a_too_long_retry_after_is_not_waited_for(
    fake_llm: FakeChatServer, client: ChatClient
) -> None:
    fake_llm.script(FakeReply(status=503, headers={"Retry-After": "3600"}))
    with pytest.raises(ProviderUnavailableError) as caught:
        await client.complete(ASK)
    assert caught.value.retry_after == pytest.approx(3600)
    assert len(fake_llm.requests) == 1


async def test_a_4xx_is_not_retried(fake_llm: FakeChatServer, client: ChatClient) -> None:
    fake_llm.script(FakeReply(status=401))
    with pytest.raises(ProviderError) as caught:
        await client.complete(ASK)
    assert caught.value.error_code == "provider_error"
    assert len(fake_llm.requests) == 1


async def test_a_slow_model_times_out_as_provider_unavailable(fake_llm: FakeChatServer) -> None:
    fake_llm.script(FakeReply(content="{}", delay=1.0))
    async with ChatClient(base_url=fake_llm.url, model="m", timeout=0.2) as client:
        with pytest.raises(ProviderUnavailableError, match="did not answer"):
            await client.complete(ASK)


async def test_an_unreachable_endpoint_is_provider_unavailable() -> None:
    with FakeChatServer() as server:
        url = server.url  # the port is free again once the server is closed
    async with ChatClient(base_url=url, model="m", max_retries=1) as client:
        with pytest.raises(ProviderUnavailableError, match="unreachable"):
            await client.complete(ASK)


async def test_a_request_can_be_cancelled(fake_llm: FakeChatServer, client: ChatClient) -> None:
    fake_llm.script(FakeReply(content="{}", delay=1.0))
    task = asyncio.create_task(client.complete(ASK))
    await fake_llm.wait_for_requests(1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_azure_sends_the_api_version_and_the_api_key_header() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"choices": [{"message": {"content": "{}"}}]})

    async with ChatClient(
        base_url="https://acme.openai.azure.com/openai/deployments/gpt4o",
        model="gpt-4o",
        api_key="secret",
        api_version="2024-06-01",
        transport=httpx.MockTransport(answer),
    ) as client:
        await client.complete(ASK)
    (request,) = seen
    assert request.url.path == "/openai/deployments/gpt4o/chat/completions"
    assert request.url.params["api-version"] == "2024-06-01"
    assert request.headers["api-key"] == "secret"
    assert "authorization" not in request.headers
    assert json.loads(request.content)["model"] == "gpt-4o"


async def test_openai_sends_a_bearer_key() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"choices": [{"message": {"content": "{}"}}]})

    async with ChatClient(
        base_url="https://api.openai.com/v1",
        model="gpt-4o-mini",
        api_key="sk-test",
        transport=httpx.MockTransport(answer),
    ) as client:
        await client.complete(ASK)
    assert seen[0].headers["authorization"] == "Bearer sk-test"
    assert seen[0].url.path == "/v1/chat/completions"
    assert "sk-test" not in repr(client.options)
