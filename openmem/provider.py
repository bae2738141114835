"""The provider contract: the verb set every backend implements.

A provider is constructed without I/O, opened once with ``open()`` on the event loop that
will use it, and closed with ``close()``. ``AsyncMemory`` and the server sit in front of it:
they validate arguments, bind the loop and gate undeclared verbs, so a provider receives
only validated request models and a ``Caller``.

What a provider MUST do:

- Bound every query by ``caller.namespace`` and ``caller.user_id``. A memory of another
  user or namespace does not exist for this caller: by-id verbs raise ``NotFoundError``
  (never ``ScopeDeniedError``, which would leak existence).
- Declare in ``capabilities()`` only what works: every declared verb and feature is proven
  by the conformance suite (``openmem conformance``), and an undeclared one is refused by
  ``AsyncMemory`` before any I/O.
- Raise the typed errors of ``openmem.errors``, mapping its backend's exceptions at the
  boundary (``raise ProviderError(...) from exc``); never let a driver exception escape.
- Keep ``score`` in [0, 1], higher is better; honour ``limit`` and ``min_score``.
- Paginate ``list`` newest first with an opaque keyset cursor; ``next_cursor`` is None on
  the last page, and a page is never empty while more items exist.
- Honour cancellation: a cancelled verb raises ``CancelledError`` promptly, leaves nothing
  half-written, and leaves the provider usable. Declare how in
  ``features.cancellation`` (``native`` or ``thread``).
- Record an ``AuditEntry`` for every verb when ``features.supports_audit`` is declared,
  atomically with the write it describes.

What a provider MUST NOT do:

- Trust ``user_id`` or ``namespace`` from anywhere but the ``Caller`` (not metadata, not
  extensions).
- Block the event loop with CPU work or synchronous I/O (see ``openmem.offload``).
- Use the event loop's default executor.
- Import ``openmem.server``.
"""

from __future__ import annotations

import abc
import builtins
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Self, TypeVar

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError, model_validator

from openmem.context import pack_context
from openmem.errors import ConfigurationError, UnsupportedCapabilityError
from openmem.models import (
    AuditEntry,
    AuditQuery,
    Capabilities,
    ContextBlock,
    ContextQuery,
    IngestEvent,
    ListQuery,
    MemoryInput,
    MemoryKey,
    MemoryPage,
    MemoryPatch,
    MemoryRecord,
    SearchHit,
    SearchQuery,
)

if TYPE_CHECKING:
    from openmem.llm.client import ChatMessage
    from openmem.llm.decisions import Decision

__all__ = ["Caller", "Provider", "ProviderOptions", "invalid_option"]


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: the tenant namespace and user every query is bounded by.

    ``namespace`` comes from configuration (SDK) or from the API key (server), never from
    the request body. ``app`` and ``request_id`` are recorded in the audit log.
    """

    namespace: str
    user_id: str
    app: str | None = None
    request_id: str | None = None


class ProviderOptions(BaseModel):
    """Base of a provider's options model: frozen, unknown options refused.

    Subclass it with the provider's settings; secrets are ``SecretStr``. The configuration
    layer fills it from keyword arguments, a file or ``OPENMEM_<OPTION>`` variables.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _paths_are_text(cls, data: Any) -> Any:
        # A Path where a path is meant (data_dir=Path(...)) is what the caller means: the
        # options keep paths as text, so every os.PathLike is taken as its path string.
        if isinstance(data, dict):
            return {k: os.fspath(v) if isinstance(v, os.PathLike) else v for k, v in data.items()}
        return data

    @model_validator(mode="after")
    def _text_options_are_text(self) -> Self:
        # A NUL or a lone surrogate in a URL, path, key or name fails later, deep in a driver
        # or a C library, far from the option that caused it: refuse it here, by name.
        for name in type(self).model_fields:
            for text in _texts(getattr(self, name)):
                if "\x00" in text:
                    raise ValueError(f"{name} must not contain NUL bytes")
                if not text.isascii():
                    try:
                        text.encode("utf-8")
                    except UnicodeEncodeError:
                        raise ValueError(f"{name} must be valid Unicode text") from None
        return self


def _texts(value: object) -> list[str]:
    """The strings an option value holds (secrets and paths included)."""
    if isinstance(value, SecretStr):
        return [value.get_secret_value()]
    if isinstance(value, str | os.PathLike):
        return [os.fspath(value)] if isinstance(os.fspath(value), str) else []
    if isinstance(value, list | tuple | set | frozenset):
        return [text for item in value for text in _texts(item)]
    if isinstance(value, dict):
        return [text for pair in value.items() for item in pair for text in _texts(item)]
    return []


def invalid_option(exc: ValidationError, provider_name: str) -> ConfigurationError:
    """The first validation error of a provider's options as a ``ConfigurationError``.

    It names the option: ``invalid option 'embedder_dim' for provider 'inmemory': ...``.
    """
    first = exc.errors(include_url=False)[0]
    # Options are flat: the first part of the location is the option (the rest is pydantic's
    # way into a union or a list); a check across options (no location) names it itself.
    loc = first.get("loc", ())
    message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    option = f" {str(loc[0])!r}" if loc else ""
    return ConfigurationError(f"invalid option{option} for provider {provider_name!r}: {message}")


OptionsT = TypeVar("OptionsT", bound=ProviderOptions)


class Provider(abc.ABC, Generic[OptionsT]):
    """The abstract verb set of a memory backend.

    Subclasses set ``name`` and ``Options``, and register under the entry point group
    ``openmem.providers``::

        [project.entry-points."openmem.providers"]
        mybackend = "openmem_mybackend:MyBackendProvider"
    """

    name: ClassVar[str]
    Options: ClassVar[type[ProviderOptions]] = ProviderOptions

    def __init__(self, options: OptionsT | None = None, /, **kwargs: Any) -> None:
        """Build the provider from ``options`` or keyword options; does no I/O."""
        if options is None:
            try:
                options = self.Options(**kwargs)  # type: ignore[assignment]
            except ValidationError as exc:
                raise invalid_option(exc, self.name) from None
        elif kwargs:
            raise TypeError("pass either an options object or keyword options, not both")
        self.options: OptionsT = options  # type: ignore[assignment]

    # -- lifecycle ---------------------------------------------------------------------

    async def open(self) -> None:
        """Acquire resources (pools, clients, schema) on the running loop."""

    async def close(self) -> None:
        """Release every resource; must be idempotent and bounded in time."""

    async def health(self) -> None:
        """Probe the backend cheaply; raise ``ProviderUnavailableError`` when it is down."""

    # -- REQUIRED verbs ----------------------------------------------------------------

    @abc.abstractmethod
    async def capabilities(self) -> Capabilities:
        """What this provider declares; cheap, and stable for the life of the instance."""

    @abc.abstractmethod
    async def add(self, caller: Caller, item: MemoryInput) -> MemoryRecord:
        """Store one memory for ``caller.user_id`` and return it with its id.

        With ``item.idempotency_key`` (when ``features.idempotency``), a second add with the
        same key returns the first record instead of storing a duplicate. With ``item.key``
        (when ``features.client_keys``), an add is a put: the caller's memory with that key
        in the same scope is replaced whole (same id and ``created_at``, new ``updated_at``,
        audited as ``update``), atomically; there is only ever one.
        """

    @abc.abstractmethod
    async def get(self, caller: Caller, memory_id: str) -> MemoryRecord:
        """The memory ``memory_id`` of this caller, or ``NotFoundError``."""

    async def lookup(self, caller: Caller, memory_id: str) -> MemoryRecord:
        """The memory ``memory_id`` of this caller, like ``get`` but recorded in no audit entry.

        The server looks a memory up to check an API key's scopes before a verb (or before
        it refuses one); that check is not a read of the user's. Providers that audit reads
        override it; the default is ``get``.
        """
        return await self.get(caller, memory_id)

    @abc.abstractmethod
    async def update(self, caller: Caller, memory_id: str, patch: MemoryPatch) -> MemoryRecord:
        """Apply a merge patch (see ``MemoryPatch``) and return the updated record."""

    @abc.abstractmethod
    async def delete(self, caller: Caller, memory_id: str) -> None:
        """Delete the memory, or raise ``NotFoundError`` if this caller has none by that id."""

    @abc.abstractmethod
    async def list(self, caller: Caller, query: ListQuery) -> MemoryPage:
        """One page of the caller's memories, newest first (``created_at``, then ``id``)."""

    @abc.abstractmethod
    async def search(self, caller: Caller, query: SearchQuery) -> builtins.list[SearchHit]:
        """The best matches for ``query.query``, best first, at most ``query.limit``."""

    # -- OPTIONAL verbs (declare them in capabilities) ---------------------------------

    async def context(self, caller: Caller, query: ContextQuery) -> ContextBlock:
        """Prompt-ready text for ``query``: by default ``search`` packed by ``pack_context``."""
        hits = await self.search(
            caller,
            SearchQuery(query=query.query, scope=query.scope, tags=query.tags, limit=query.limit),
        )
        return pack_context(hits, query.token_budget)

    async def audit(self, caller: Caller, query: AuditQuery) -> builtins.list[AuditEntry]:
        """The caller's audit entries, newest first (``features.supports_audit``)."""
        raise UnsupportedCapabilityError("audit is not supported", provider=self.name)

    async def add_many(
        self, caller: Caller, items: Sequence[MemoryInput]
    ) -> builtins.list[MemoryRecord]:
        """Store several memories; by default one ``add`` after another (``batch_add``)."""
        return [await self.add(caller, item) for item in items]

    async def enqueue_add(
        self, caller: Caller, items: Sequence[MemoryInput]
    ) -> builtins.list[MemoryRecord]:
        """Queue the add of ``items`` durably and answer at once (``features.async_ingest``).

        Every returned record has ``status="queued"`` and the same ``event_id``: the event
        of the whole call. Once this returns, the add MUST NOT be lost: a crash of any
        process afterwards still ends with the memories written, each exactly once.
        """
        raise UnsupportedCapabilityError("async_ingest is not supported", provider=self.name)

    async def get_event(self, caller: Caller, event_id: str) -> IngestEvent:
        """The ingestion event ``event_id`` of this caller, or ``NotFoundError``."""
        raise UnsupportedCapabilityError("async_ingest is not supported", provider=self.name)

    async def apply_decisions(
        self, caller: Caller, decisions: Sequence[Decision]
    ) -> builtins.list[MemoryRecord]:
        """Apply the infer pipeline's decisions all at once, or none (``features.infer``).

        Declare ``infer="pipeline"`` only when this is implemented: see
        ``openmem.llm.decisions`` for what each decision writes and audits. Returns the
        memories added or updated, in decision order.
        """
        raise UnsupportedCapabilityError("infer is not supported", provider=self.name)

    async def infer_messages(
        self, caller: Caller, messages: Sequence[ChatMessage], template: MemoryInput
    ) -> builtins.list[MemoryRecord]:
        """The backend's own inference over a conversation (``features.infer == "backend"``).

        ``template`` carries the ``add`` fields (scope, tags, metadata, ...); its ``content``
        is a placeholder. Returns the memories the backend added or updated.
        """
        raise UnsupportedCapabilityError("infer is not supported", provider=self.name)

    async def get_by_key(self, caller: Caller, where: MemoryKey) -> MemoryRecord:
        """The caller's memory put under ``where.key`` in ``where.scope`` (``client_keys``).

        ``NotFoundError`` when there is none; audited as a ``get``.
        """
        raise UnsupportedCapabilityError("client keys are not supported", provider=self.name)

    async def delete_by_key(self, caller: Caller, where: MemoryKey) -> None:
        """Delete the caller's memory put under ``where.key`` in ``where.scope``.

        ``NotFoundError`` when there is none; audited as a ``delete``.
        """
        raise UnsupportedCapabilityError("client keys are not supported", provider=self.name)

    async def forget_user(self, caller: Caller) -> int:
        """Delete every memory of ``caller.user_id``; returns how many (``forget_user``)."""
        raise UnsupportedCapabilityError("forget_user is not supported", provider=self.name)
