"""Embedders: hashing (deterministic), openai (against a local ASGI fake), local (real MiniLM)."""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from openmem import AsyncMemory
from openmem.embedders import EmbedderOptions, HashingEmbedder
from openmem.embedders.openai import OpenAIEmbedder
from openmem.errors import ConfigurationError, ProviderError


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


async def test_hashing_is_deterministic_unit_length_and_lexical() -> None:
    embedder = HashingEmbedder(64)
    a, b, c = await embedder.embed(["dark mode editor", "dark mode editor", "peanut allergy"])
    assert a == b
    assert math.isclose(math.sqrt(sum(x * x for x in a)), 1.0)
    assert cosine(a, b) > cosine(a, c)
    assert embedder.model == "openmem-hashing-v2-64"


async def test_hashing_gives_a_unit_vector_for_text_without_words() -> None:
    (vector,) = await HashingEmbedder(16).embed(["!!!"])
    assert math.isclose(sum(x * x for x in vector), 1.0)


class FakeEmbeddingsAPI:
    """A local ASGI fake of the OpenAI ``POST /embeddings`` endpoint."""

    def __init__(self, dim: int = 8, failures: list[tuple[int, dict[str, str]]] | None = None):
        self.dim = dim
        self.failures = list(failures or [])
        self.requests: list[dict[str, Any]] = []
        self.app = Starlette(routes=[Route("/v1/embeddings", self.embeddings, methods=["POST"])])

    async def embeddings(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.requests.append({"body": body, "auth": request.headers.get("authorization")})
        if self.failures:
            status, headers = self.failures.pop(0)
            return JSONResponse({"error": {"message": "try later"}}, status, headers=headers)
        data = [
            {
                "object": "embedding",
                "index": i,
                "embedding": [float(len(t) + k) for k in range(self.dim)],
            }
            for i, t in reversed(list(enumerate(body["input"])))
        ]
        return JSONResponse({"object": "list", "data": data, "model": body["model"]})

    def embedder(self, **kwargs: Any) -> OpenAIEmbedder:
        return OpenAIEmbedder(
            model="fake-model",
            dim=self.dim,
            base_url="http://fake/v1",
            api_key="sk-test",
            transport=httpx.ASGITransport(app=self.app),
            **kwargs,
        )


async def test_an_embedder_instance_is_used_as_it_is() -> None:
    mine = HashingEmbedder(32)
    options = EmbedderOptions(embedder=mine)
    assert options.build_embedder() is mine
    async with AsyncMemory(provider="inmemory", embedder=mine) as mem:
        record = await mem.add("dark mode editor", user_id="u1")
        hits = await mem.search("dark mode", "u1", mode="semantic")
    assert hits[0].memory.id == record.id
    assert record.embedding_model == mine.model


def test_an_embedder_must_be_a_name_or_an_embedder() -> None:
    with pytest.raises(ValidationError):
        EmbedderOptions(embedder=object())  # type: ignore[arg-type]


async def test_openai_batches_orders_by_index_and_normalises() -> None:
    api = FakeEmbeddingsAPI()
    embedder = api.embedder(batch_size=2)
    vectors = await embedder.embed(["a", "bb", "ccc"])
    await embedder.aclose()
    assert [len(r["body"]["input"]) for r in api.requests] == [2, 1]
    assert api.requests[0]["auth"] == "Bearer sk-test"
    assert all(math.isclose(sum(x * x for x in v), 1.0) for v in vectors)
    assert vectors[0] != vectors[1]


async def test_openai_retries_429_honouring_retry_after() -> None:
    api = FakeEmbeddingsAPI(failures=[(429, {"Retry-After": "0.2"}), (503, {})])
    embedder = api.embedder()
    started = time.monotonic()
    assert len(await embedder.embed(["x"])) == 1
    assert time.monotonic() - started >= 0.2
    assert len(api.requests) == 3
    await embedder.aclose()


async def test_openai_gives_up_with_a_provider_error() -> None:
    api = FakeEmbeddingsAPI(failures=[(500, {})] * 3)
    embedder = api.embedder(max_retries=2)
    with pytest.raises(ProviderError):
        await embedder.embed(["x"])
    await embedder.aclose()


async def test_openai_client_errors_are_not_retried() -> None:
    api = FakeEmbeddingsAPI(failures=[(401, {})])
    embedder = api.embedder()
    with pytest.raises(ProviderError, match="401"):
        await embedder.embed(["x"])
    assert len(api.requests) == 1
    await embedder.aclose()


def test_openai_unknown_model_needs_a_dimension() -> None:
    with pytest.raises(ConfigurationError, match="embedder_dim"):
        OpenAIEmbedder(model="some-local-model")


async def test_openai_call_is_cancellable() -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(10)
        return httpx.Response(200)

    embedder = OpenAIEmbedder(dim=4, transport=httpx.MockTransport(slow))
    task = asyncio.create_task(embedder.embed(["x"]))
    await asyncio.sleep(0.05)
    started = time.perf_counter()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.perf_counter() - started < 0.5
    await embedder.aclose()


async def test_local_embedder_runs_the_bundled_minilm_offline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("sentence_transformers", reason="extra 'local' (installed by make test)")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    embedder = EmbedderOptions(embedder="local").build_embedder()
    assert embedder.dim == 384
    cat, kitten, tax = await embedder.embed(
        ["a cat sleeps on the sofa", "a kitten naps on the couch", "file your tax return"]
    )
    assert len(cat) == 384
    assert cosine(cat, kitten) > cosine(cat, tax) + 0.2  # meaning, not word overlap
    await embedder.aclose()
