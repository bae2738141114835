"""An OpenAI-compatible chat-completions client over httpx, with structured output.

It speaks ``POST {base_url}/chat/completions``, which OpenAI, Azure OpenAI (with
``api_version``), Ollama, vLLM and the llama.cpp server all answer. What it adds over a bare
request is what a memory layer needs from an LLM it does not control:

- a timeout on every request (``timeout``) and cancellation at any await;
- retries on 429 and 5xx (and on a refused connection), honouring ``Retry-After``;
- structured output: the reply is parsed as JSON and validated by a pydantic model, and an
  invalid reply gets exactly one repair attempt (the model is told what was wrong);
- typed errors: a timeout, an unreachable host or a 5xx after the retries is
  ``ProviderUnavailableError``; a reply that stays malformed is ``InvalidResponseError``.

    client = ChatClient(base_url="http://localhost:11434/v1", model="llama3.1")
    facts = await client.structured(messages, Facts)
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, Literal, Self, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from openmem.errors import (
    InvalidResponseError,
    OMPError,
    ProviderError,
    ProviderUnavailableError,
    RateLimitedError,
)
from openmem.fields import Text

__all__ = ["ChatClient", "ChatMessage", "LLMOptions"]

ModelT = TypeVar("ModelT", bound=BaseModel)
PROVIDER = "llm"
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 30.0
"""Seconds: a longer ``Retry-After`` is not waited for; the error is raised instead."""


class ChatMessage(BaseModel):
    """One message of a conversation, as chat-completions APIs take it."""

    model_config = ConfigDict(frozen=True)

    role: Literal["system", "user", "assistant", "tool"]
    content: Annotated[Text, Field(min_length=1)]
    """No NUL and no lone surrogate (``openmem.fields.Text``); the schema says so."""


class LLMOptions(BaseModel):
    """Where the chat model is and how to talk to it.

    ``base_url`` is the API root that ``/chat/completions`` is appended to
    (``https://api.openai.com/v1``, ``http://localhost:11434/v1``, an Azure deployment URL
    ``https://NAME.openai.azure.com/openai/deployments/DEPLOYMENT`` with ``api_version``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str
    model: str = Field(min_length=1)
    api_key: SecretStr | None = None
    api_version: str | None = None
    """Azure OpenAI: sent as ``api-version`` and the key goes in the ``api-key`` header."""
    timeout: float = Field(default=60.0, gt=0)
    """Seconds one request may take, connect to last byte."""
    max_retries: int = Field(default=2, ge=0, le=10)
    """Extra attempts after a 429, a 5xx or a refused connection."""
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    json_mode: bool = True
    """Ask for ``response_format: {"type": "json_object"}`` (every listed server has it)."""


class ChatClient:
    """Chat completions from an OpenAI-compatible endpoint; see the module docstring.

    ``transport`` replaces the network (``httpx.MockTransport`` in tests). The client owns an
    ``httpx.AsyncClient``; close it with ``aclose()`` or ``async with``.
    """

    def __init__(
        self,
        options: LLMOptions | None = None,
        /,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        **kwargs: Any,
    ) -> None:
        if options is None:
            options = LLMOptions(**kwargs)
        elif kwargs:
            raise TypeError("pass either an options object or keyword options, not both")
        self.options = options
        headers = {"Accept": "application/json"}
        if options.api_key is not None:
            secret = options.api_key.get_secret_value()
            if options.api_version is not None:
                headers["api-key"] = secret
            else:
                headers["Authorization"] = f"Bearer {secret}"
        params = {"api-version": options.api_version} if options.api_version else None
        self._http = httpx.AsyncClient(
            base_url=options.base_url.rstrip("/") + "/",
            headers=headers,
            params=params,
            timeout=httpx.Timeout(options.timeout),
            transport=transport,
        )

    @property
    def model(self) -> str:
        """The model name every request asks for (recorded on inferred memories)."""
        return self.options.model

    async def aclose(self) -> None:
        """Close the HTTP connections; idempotent."""
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def complete(self, messages: Sequence[ChatMessage]) -> str:
        """The assistant's reply text to ``messages`` (retried on 429/5xx, typed errors)."""
        body: dict[str, Any] = {
            "model": self.options.model,
            "messages": [m.model_dump() for m in messages],
            "temperature": self.options.temperature,
        }
        if self.options.json_mode:
            body["response_format"] = {"type": "json_object"}
        payload = await self._post(body)
        return _reply_text(payload)

    async def structured(
        self,
        messages: Sequence[ChatMessage],
        schema: type[ModelT],
        *,
        check: Callable[[ModelT], None] | None = None,
    ) -> ModelT:
        """The reply parsed as JSON into ``schema``; one repair attempt, then an error.

        ``check`` may refuse a reply that parses but makes no sense (it raises
        ``InvalidResponseError``); that earns the same one repair attempt. Raises
        ``InvalidResponseError`` when the reply is still not valid after the repair.
        """
        conversation = list(messages)
        problem = ""
        for attempt in range(2):
            try:
                text = await self.complete(conversation)
            except InvalidResponseError as exc:
                if attempt:
                    raise
                problem, text = exc.message, ""
            else:
                try:
                    reply = parse_reply(text, schema)
                    if check is not None:
                        check(reply)
                    return reply
                except InvalidResponseError as exc:
                    if attempt:
                        raise
                    problem = exc.message
            conversation = [
                *messages,
                ChatMessage(role="assistant", content=text or "(no usable reply)"),
                ChatMessage(
                    role="user",
                    content=(
                        f"That reply was not valid: {problem}. Answer again with only a JSON "
                        "object in exactly the requested shape."
                    ),
                ),
            ]
        raise AssertionError("unreachable")  # pragma: no cover

    async def _post(self, body: Mapping[str, Any]) -> Any:
        attempt = 0
        while True:
            started = time.monotonic()
            try:
                response = await self._http.post("chat/completions", json=body)
            except httpx.TimeoutException as exc:
                raise ProviderUnavailableError(
                    f"the LLM did not answer within {self.options.timeout:g} s",
                    provider=PROVIDER,
                ) from exc
            except httpx.TransportError as exc:
                if attempt < self.options.max_retries and isinstance(exc, httpx.ConnectError):
                    attempt += 1
                    await asyncio.sleep(_backoff(attempt))
                    continue
                raise ProviderUnavailableError(
                    f"the LLM endpoint is unreachable: {exc}", provider=PROVIDER
                ) from exc
            if response.status_code < 400:
                try:
                    return response.json()
                except ValueError as exc:
                    raise InvalidResponseError(
                        "the LLM endpoint answered with a body that is not JSON",
                        provider=PROVIDER,
                    ) from exc
            wait = _retry_after(response) or _backoff(attempt + 1)
            retryable = response.status_code in _RETRY_STATUSES
            if retryable and attempt < self.options.max_retries and wait <= MAX_RETRY_AFTER:
                attempt += 1
                # Never sleep past the request timeout's worth on one retry.
                await asyncio.sleep(min(wait, max(self.options.timeout, 0.0)))
                continue
            raise _status_error(response, attempts=attempt + 1, elapsed=time.monotonic() - started)


def parse_reply(text: str, schema: type[ModelT]) -> ModelT:
    """``text`` as a JSON object validated by ``schema``, or ``InvalidResponseError``.

    A reply wrapped in a Markdown code fence is accepted: small local models add one.
    """
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped.strip("`")
        stripped = stripped.removeprefix("json").strip()
    try:
        data = json.loads(stripped)
    except json.JSONDecodeError as exc:
        raise InvalidResponseError(
            f"the reply is not JSON ({exc.msg} at character {exc.pos})", provider=PROVIDER
        ) from None
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "the object"
        raise InvalidResponseError(
            f"the reply does not match the schema: {where}: {first.get('msg')}",
            provider=PROVIDER,
        ) from None


def _reply_text(payload: Any) -> str:
    try:
        content = payload["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        content = None
    if not isinstance(content, str) or not content.strip():
        raise InvalidResponseError(
            "the LLM answered without a message content in choices[0]", provider=PROVIDER
        )
    return content


def _backoff(attempt: int) -> float:
    return float(min(0.25 * 2 ** (attempt - 1), 4.0))


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), if any."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _status_error(response: httpx.Response, *, attempts: int, elapsed: float) -> OMPError:
    status = response.status_code
    detail = response.text[:200]
    retry_after = _retry_after(response)
    if status == 429:
        return RateLimitedError(
            f"the LLM endpoint is rate limiting (HTTP 429 after {attempts} attempts)",
            provider=PROVIDER,
            retry_after=retry_after,
        )
    if status >= 500:
        return ProviderUnavailableError(
            f"the LLM endpoint failed with HTTP {status} after {attempts} attempts: {detail}",
            provider=PROVIDER,
            retry_after=retry_after,
        )
    return ProviderError(
        f"the LLM endpoint refused the request with HTTP {status}: {detail}",
        provider=PROVIDER,
        details={"status": status, "elapsed_s": round(elapsed, 3)},
    )
