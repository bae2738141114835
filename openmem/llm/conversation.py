"""``add(messages=..., infer=...)``: a conversation in, memories out.

``AsyncMemory.add`` and the server's ``POST /memories`` both land here once the arguments
are validated, so a conversation is handled identically in process and over the wire:

- ``infer=False``: every user message is stored as it is, one memory each (a batch where
  the provider declares ``batch_add``);
- ``infer=True`` on a provider declaring ``features.infer == "pipeline"``: openmem's
  ``InferencePipeline`` with the configured chat model;
- ``infer=True`` on a provider declaring ``"backend"``: the backend's own inference
  (``Provider.infer_messages``), with its behaviour and its LLM configuration.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from openmem.errors import ConfigurationError, InvalidRequestError, UnsupportedCapabilityError
from openmem.gate import require_add, require_verb
from openmem.llm.client import ChatClient, ChatMessage, LLMOptions
from openmem.llm.pipeline import InferencePipeline
from openmem.models import Capabilities, MemoryInput, MemoryRecord, check_content_length
from openmem.provider import Caller, Provider

__all__ = [
    "MAX_MESSAGES",
    "LLMArg",
    "add_conversation",
    "as_pipeline",
    "owns_client",
    "parse_messages",
]

MAX_MESSAGES = 1_000
"""Messages in one conversation."""

LLMArg = ChatClient | InferencePipeline | LLMOptions | Mapping[str, Any] | None
"""What ``AsyncMemory(llm=...)`` takes: a client, a pipeline, or the client's options."""

_ROLES = frozenset({"system", "user", "assistant", "tool"})


def as_pipeline(llm: LLMArg) -> InferencePipeline | None:
    """The pipeline for an ``llm=`` argument (options build a ``ChatClient``)."""
    if llm is None or isinstance(llm, InferencePipeline):
        return llm
    if isinstance(llm, ChatClient):
        return InferencePipeline(llm)
    if isinstance(llm, LLMOptions):
        return InferencePipeline(ChatClient(llm))
    if isinstance(llm, Mapping):
        try:
            return InferencePipeline(ChatClient(LLMOptions(**llm)))
        except ValueError as exc:
            raise ConfigurationError(f"invalid llm options: {exc}") from None
    raise ConfigurationError("llm must be a ChatClient, an InferencePipeline or LLMOptions")


def owns_client(llm: LLMArg) -> bool:
    """Whether ``as_pipeline(llm)`` builds the chat client itself (so its owner closes it)."""
    return llm is not None and not isinstance(llm, ChatClient | InferencePipeline)


def parse_messages(messages: object) -> list[ChatMessage]:
    """Validate ``[{"role": ..., "content": ...}, ...]``; errors name the bad item."""
    if isinstance(messages, str | bytes) or not isinstance(messages, Sequence):
        raise InvalidRequestError(
            "messages must be a list of {role, content} objects", field="messages"
        )
    if not messages:
        raise InvalidRequestError("messages must not be empty", field="messages")
    if len(messages) > MAX_MESSAGES:
        raise InvalidRequestError(
            f"a conversation holds at most {MAX_MESSAGES} messages", field="messages"
        )
    parsed: list[ChatMessage] = []
    for index, message in enumerate(messages):
        where = f"messages.{index}"
        if isinstance(message, ChatMessage):
            parsed.append(message)
            continue
        if not isinstance(message, Mapping):
            raise InvalidRequestError(f"{where} must be a {{role, content}} object", field=where)
        role, content = message.get("role"), message.get("content")
        if role not in _ROLES:
            raise InvalidRequestError(
                f"{where}.role must be one of {', '.join(sorted(_ROLES))}", field=f"{where}.role"
            )
        if not isinstance(content, str) or not content.strip() or "\x00" in content:
            raise InvalidRequestError(
                f"{where}.content must be a non-empty string without NUL",
                field=f"{where}.content",
            )
        unknown = set(message) - {"role", "content", "name"}
        if unknown:
            raise InvalidRequestError(
                f"{where} has unknown fields {sorted(unknown)}", field=f"{where}"
            )
        parsed.append(ChatMessage(role=role, content=content))
    return parsed


async def add_conversation(
    provider: Provider[Any],
    caller: Caller,
    capabilities: Capabilities,
    messages: Sequence[ChatMessage],
    *,
    template: MemoryInput,
    infer: bool,
    pipeline: InferencePipeline | None,
    max_content_length: int | None = None,
) -> list[MemoryRecord]:
    """Store or infer memories from ``messages``; see the module docstring.

    ``template`` carries the ``add`` fields every memory gets; its ``content`` is ignored.
    """
    require_verb(capabilities, "add")
    limit = capabilities.features.max_content_length
    if max_content_length is not None:
        limit = min(limit, max_content_length)
    for index, message in enumerate(messages):
        check_content_length(message.content, limit, field=f"messages.{index}.content")
    fields = template.model_dump(
        mode="python", exclude={"content", "user_id"}, exclude_none=True, by_alias=True
    )
    if not infer:
        return await _store_as_is(
            provider, caller, capabilities, messages, template, fields, max_content_length
        )
    if template.idempotency_key is not None:
        raise InvalidRequestError(
            "idempotency_key cannot be combined with infer=True", field="idempotency_key"
        )
    mode = capabilities.features.infer
    if mode == "backend":
        return await provider.infer_messages(caller, messages, template)
    if mode != "pipeline":
        raise UnsupportedCapabilityError(
            f"provider {capabilities.provider!r} does not support infer=True "
            "(features.infer is not declared)",
            provider=capabilities.provider,
        )
    if pipeline is None:
        raise ConfigurationError(
            "add(messages=..., infer=True) needs a chat model: "
            "AsyncMemory(..., llm=ChatClient(base_url=..., model=...))"
        )
    return await pipeline.run(provider, caller, messages, template=fields)


async def _store_as_is(
    provider: Provider[Any],
    caller: Caller,
    capabilities: Capabilities,
    messages: Sequence[ChatMessage],
    template: MemoryInput,
    fields: Mapping[str, Any],
    max_content_length: int | None,
) -> list[MemoryRecord]:
    items: list[MemoryInput] = []
    for index, message in enumerate(messages):
        if message.role != "user":
            continue
        data = {**fields, "content": message.content, "user_id": caller.user_id}
        if template.idempotency_key is not None:
            data["idempotency_key"] = f"{template.idempotency_key}:{index}"
        item = MemoryInput.model_validate(data)
        require_add(capabilities, item, max_content_length=max_content_length)
        items.append(item)
    if not items:
        return []
    if capabilities.features.batch_add and len(items) <= capabilities.limits.max_batch_size:
        return await provider.add_many(caller, items)
    return [await provider.add(caller, item) for item in items]
