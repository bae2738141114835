"""Embeddings from any OpenAI-compatible ``/embeddings`` endpoint over httpx.

OpenAI, Azure OpenAI, Ollama, vLLM, LM Studio and TEI all speak this shape. Requests are
batched, retried with exponential backoff and jitter on 429 and 5xx (honouring
``Retry-After``), bounded by timeouts, and cancellable like any httpx call.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

import anyio
import httpx
from pydantic import SecretStr

from openmem.embedders.base import Embedder
from openmem.errors import ConfigurationError, ProviderError, ProviderUnavailableError

__all__ = ["KNOWN_DIMENSIONS", "OpenAIEmbedder"]

KNOWN_DIMENSIONS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
_RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})


class OpenAIEmbedder(Embedder):
    """An OpenAI-compatible embeddings client.

    >>> OpenAIEmbedder(model="nomic-embed-text", dim=768, base_url="http://localhost:11434/v1")
    """

    def __init__(
        self,
        *,
        model: str = "text-embedding-3-small",
        dim: int | None = None,
        base_url: str | None = None,
        api_key: SecretStr | str | None = None,
        batch_size: int = 64,
        timeout: float = 30.0,
        max_retries: int = 4,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        resolved = dim or KNOWN_DIMENSIONS.get(model)
        if resolved is None:
            raise ConfigurationError(
                f"the vector size of embedding model {model!r} is not known; "
                "set embedder_dim (OPENMEM_EMBEDDER_DIM)"
            )
        self.model = model
        self.dim = resolved
        self._send_dimensions = dim is not None and model in KNOWN_DIMENSIONS
        self._base_url = (base_url or "https://api.openai.com/v1").rstrip("/")
        key = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
        self._headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._batch_size = max(1, batch_size)
        self._timeout = timeout
        self._max_retries = max_retries
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self._base_url,
                headers=self._headers,
                timeout=self._timeout,
                transport=self._transport,
            )
        return self._client

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self._batch_size):
            vectors.extend(await self._embed_batch(list(texts[start : start + self._batch_size])))
        return vectors

    async def _embed_batch(self, batch: list[str]) -> list[list[float]]:
        body: dict[str, object] = {"model": self.model, "input": batch}
        if self._send_dimensions:
            body["dimensions"] = self.dim
        attempt = 0
        while True:
            try:
                response = await self._http().post("/embeddings", json=body)
            except httpx.TransportError as exc:
                if attempt >= self._max_retries:
                    raise ProviderUnavailableError(
                        f"embedding endpoint unreachable: {exc}"
                    ) from exc
                await anyio.sleep(_backoff(attempt, None))
                attempt += 1
                continue
            if response.status_code in _RETRY_STATUSES and attempt < self._max_retries:
                await anyio.sleep(_backoff(attempt, response.headers.get("retry-after")))
                attempt += 1
                continue
            return self._parse(response, len(batch))

    def _parse(self, response: httpx.Response, expected: int) -> list[list[float]]:
        if response.status_code >= 400:
            raise ProviderError(
                f"embedding endpoint answered {response.status_code}: {response.text[:200]}",
                details={"status": response.status_code},
            )
        try:
            data = sorted(response.json()["data"], key=lambda item: item["index"])
            vectors = [[float(x) for x in item["embedding"]] for item in data]
        except (ValueError, KeyError, TypeError) as exc:
            raise ProviderError(f"malformed embeddings response: {exc}") from exc
        if len(vectors) != expected or any(len(v) != self.dim for v in vectors):
            raise ProviderError(
                f"embedding endpoint returned {len(vectors)} vectors of size "
                f"{len(vectors[0]) if vectors else 0}; expected {expected} of size {self.dim}"
            )
        return [_unit(v) for v in vectors]

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()


def _backoff(attempt: int, retry_after: str | None) -> float:
    if retry_after is not None:
        try:
            return min(60.0, max(0.0, float(retry_after)))
        except ValueError:
            pass
    return float(min(8.0, 0.25 * 2**attempt) * (0.5 + random.random() / 2))


def _unit(vector: list[float]) -> list[float]:
    norm = math.sqrt(math.fsum(x * x for x in vector))
    return vector if norm == 0.0 else [x / norm for x in vector]
