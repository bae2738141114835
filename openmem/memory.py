"""``AsyncMemory`` and ``Memory``: the verb set applications call.

``AsyncMemory`` validates every argument into the wire models, binds itself to one event
loop, refuses undeclared capabilities before any I/O, and hands the call to its provider.
``Memory`` is the same object driven from a private event-loop thread, for synchronous code.

    async with AsyncMemory(provider="postgres", url="postgresql://...") as mem:
        await mem.add("prefers dark mode", user_id="u1", scope="ui")
        hits = await mem.search("dark mode", "u1")
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import enum
import functools
import os
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, Self, TypeVar

import anyio
from anyio.from_thread import BlockingPortal
from pydantic import BaseModel, ValidationError

from openmem.config import load_config_file, read_dotenv, resolve_config
from openmem.errors import (
    ClosedError,
    ConfigurationError,
    EventLoopMismatchError,
    IngestionTimeoutError,
    InvalidRequestError,
    ProviderError,
)
from openmem.gate import require_add, require_feature, require_search, require_verb
from openmem.models import (
    AuditAction,
    AuditEntry,
    AuditQuery,
    Capabilities,
    ContextBlock,
    ContextQuery,
    ListQuery,
    MemoryInput,
    MemoryPage,
    MemoryPatch,
    MemoryRecord,
    MemorySource,
    SearchHit,
    SearchMode,
    SearchQuery,
    invalid_request_from,
    validate_identifier,
)
from openmem.provider import Caller, Provider

__all__ = ["UNSET", "AsyncMemory", "Memory", "Unset"]

LOOP_MISMATCH_MESSAGE = "AsyncMemory is bound to a different event loop"

ModelT = TypeVar("ModelT", bound=BaseModel)


class Unset(enum.Enum):
    """The type of ``UNSET``: "leave this field as it is" in ``update``."""

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


UNSET = Unset.UNSET
"""Default of every ``update`` field: unchanged. ``None`` clears the field instead."""

SourceArg = MemorySource | Mapping[str, Any] | None


class AsyncMemory:
    """The openmem verb set over one provider, for asyncio code.

    Construction does no I/O. The instance binds to the running loop at ``__aenter__``,
    ``initialize()`` or its first verb, opens its provider once, and caches the provider's
    capabilities. ``close()`` is idempotent; a verb after it raises ``ClosedError``.

    ``provider`` is a registered name (``"postgres"``, ``"inmemory"``, ``"mem0"``, ...), a
    ``Provider`` instance, or None for the configured default. Other keyword arguments are
    the provider's options; unknown ones raise ``ConfigurationError`` naming the valid ones.
    """

    def __init__(
        self,
        provider: str | Provider[Any] | None = None,
        *,
        namespace: str | None = None,
        app: str | None = None,
        base_url: str | None = None,
        max_content_length: int | None = None,
        **options: Any,
    ) -> None:
        self._init_from(
            {
                "provider": provider,
                "namespace": namespace,
                "app": app,
                "base_url": base_url,
                "max_content_length": max_content_length,
                **options,
            },
            file=None,
            env=os.environ,
        )

    def _init_from(
        self,
        kwargs: dict[str, Any],
        *,
        file: Mapping[str, Any] | None,
        env: Mapping[str, str],
    ) -> None:
        provider = kwargs.get("provider")
        if isinstance(provider, Provider):
            extra = {k for k, v in kwargs.items() if v is not None and k not in _INSTANCE_KEYS}
            if extra:
                raise ConfigurationError(
                    f"options {sorted(extra)} cannot be combined with a provider instance; "
                    "configure the provider object itself"
                )
            self._provider: Provider[Any] = provider
            self._namespace = kwargs.get("namespace") or "default"
            self._app: str | None = kwargs.get("app")
            self._max_content_length: int | None = kwargs.get("max_content_length")
        else:
            resolved = resolve_config(kwargs=kwargs, file=file, env=env)
            self._provider = resolved.build_provider()
            self._namespace = resolved.settings.namespace
            self._app = resolved.settings.app
            self._max_content_length = resolved.settings.max_content_length
        validate_identifier(self._namespace, "namespace")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._open_lock: asyncio.Lock | None = None
        self._capabilities: Capabilities | None = None
        self._opened = False
        self._closed = False

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any] | str | os.PathLike[str], **overrides: Any
    ) -> Self:
        """Build from a dict or a TOML file; ``overrides`` win, the environment fills gaps."""
        data = dict(config) if isinstance(config, Mapping) else load_config_file(config)
        self = cls.__new__(cls)
        self._init_from(dict(overrides), file=data, env=os.environ)
        return self

    @classmethod
    def from_env(cls, *, dotenv: str | os.PathLike[str] | None = ".env", **overrides: Any) -> Self:
        """Build from ``OPENMEM_*`` variables (and a ``.env`` file when present)."""
        env = {**(read_dotenv(dotenv) if dotenv is not None else {}), **os.environ}
        self = cls.__new__(cls)
        self._init_from(dict(overrides), file=None, env=env)
        return self

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def provider(self) -> Provider[Any]:
        """The provider this instance drives."""
        return self._provider

    @property
    def namespace(self) -> str:
        """The tenant namespace every call is bounded by."""
        return self._namespace

    @property
    def closed(self) -> bool:
        """True once ``close()`` has been called."""
        return self._closed

    async def initialize(self) -> None:
        """Bind to the running loop, open the provider and read its capabilities."""
        await self._ready()

    async def close(self) -> None:
        """Close the provider; idempotent. Verbs afterwards raise ``ClosedError``."""
        if self._closed:
            return
        if self._loop is not None and self._opened:
            self._check_loop()
        self._closed = True
        if self._opened:
            self._opened = False
            await self._provider.close()

    async def __aenter__(self) -> Self:
        await self.initialize()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open" if self._opened else "new"
        return (
            f"<{type(self).__name__} provider={getattr(self._provider, 'name', '?')!r} "
            f"namespace={self._namespace!r} {state}>"
        )

    def _check_loop(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
            self._open_lock = asyncio.Lock()
        elif self._loop is not loop:
            raise EventLoopMismatchError(LOOP_MISMATCH_MESSAGE)

    def _enter(self) -> None:
        if self._closed:
            raise ClosedError("AsyncMemory is closed")
        self._check_loop()

    async def _ready(self) -> Capabilities:
        self._enter()
        if self._capabilities is not None and self._opened:
            return self._capabilities
        assert self._open_lock is not None
        async with self._open_lock:
            if self._closed:
                raise ClosedError("AsyncMemory is closed")
            if not self._opened:
                await self._provider.open()
                self._opened = True
            if self._capabilities is None:
                self._capabilities = await self._provider.capabilities()
        return self._capabilities

    def _caller(self, user_id: object) -> Caller:
        return Caller(
            namespace=self._namespace,
            user_id=validate_identifier(user_id, "user_id"),
            app=self._app,
        )

    # -- verbs -------------------------------------------------------------------------

    async def capabilities(self) -> Capabilities:
        """What the provider declares (cached after the first call)."""
        return await self._ready()

    async def add(
        self,
        /,
        content: str,
        *,
        user_id: str,
        scope: str | None = None,
        tags: Sequence[str] | None = None,
        source: SourceArg = None,
        confidence: float | None = None,
        valid_from: datetime | None = None,
        valid_to: datetime | None = None,
        supersedes: Sequence[str] | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        **x_extensions: Any,
    ) -> MemoryRecord:
        """Store a memory for ``user_id`` and return it.

        ``x_<provider>=...`` keywords become ``x-<provider>`` extension fields. With
        ``idempotency_key``, repeating the call returns the first record instead of a copy.

        >>> await mem.add("prefers dark mode", user_id="u1", scope="ui", tags=["pref"])
        """
        self._enter()
        item = _build(
            MemoryInput,
            content=content,
            user_id=user_id,
            scope=scope,
            tags=tags,
            source=source,
            confidence=confidence,
            valid_from=valid_from,
            valid_to=valid_to,
            supersedes=supersedes,
            agent_id=agent_id,
            session_id=session_id,
            metadata=metadata,
            idempotency_key=idempotency_key,
            **_extensions("add", x_extensions),
        )
        capabilities = await self._ready()
        require_add(capabilities, item, max_content_length=self._max_content_length)
        return await self._provider.add(self._caller(user_id), item)

    async def add_many(
        self, items: Sequence[str | Mapping[str, Any]], *, user_id: str
    ) -> builtins.list[MemoryRecord]:
        """Store several memories for ``user_id`` in one batch (``features.batch_add``).

        Each item is the content, or a dict of ``add`` fields without ``user_id``.
        """
        self._enter()
        caller = self._caller(user_id)
        built = [_batch_item(index, item, user_id) for index, item in enumerate(items)]
        capabilities = await self._ready()
        require_feature(capabilities, "batch_add", "batch add")
        if len(built) > capabilities.limits.max_batch_size:
            raise InvalidRequestError(
                f"a batch holds at most {capabilities.limits.max_batch_size} items",
                field="items",
            )
        for item in built:
            require_add(capabilities, item, max_content_length=self._max_content_length)
        if not built:
            return []
        return await self._provider.add_many(caller, built)

    async def get(self, id: str, *, user_id: str) -> MemoryRecord:
        """The memory ``id`` of ``user_id``; ``NotFoundError`` if this user has none by that id."""
        self._enter()
        caller = self._caller(user_id)
        memory_id = validate_identifier(id, "id")
        require_verb(await self._ready(), "get")
        return await self._provider.get(caller, memory_id)

    async def update(
        self,
        /,
        id: str,
        *,
        user_id: str,
        content: str | Unset = UNSET,
        scope: str | Unset | None = UNSET,
        tags: Sequence[str] | Unset | None = UNSET,
        source: SourceArg | Unset = UNSET,
        confidence: float | Unset | None = UNSET,
        valid_from: datetime | Unset | None = UNSET,
        valid_to: datetime | Unset | None = UNSET,
        supersedes: Sequence[str] | Unset | None = UNSET,
        agent_id: str | Unset | None = UNSET,
        session_id: str | Unset | None = UNSET,
        metadata: Mapping[str, Any] | Unset | None = UNSET,
        **x_extensions: Any,
    ) -> MemoryRecord:
        """Merge-patch a memory: omitted fields are unchanged, ``None`` clears a field.

        ``metadata`` merges key by key (a ``None`` value removes the key).
        """
        self._enter()
        caller = self._caller(user_id)
        memory_id = validate_identifier(id, "id")
        fields = {
            name: value
            for name, value in {
                "content": content,
                "scope": scope,
                "tags": tags,
                "source": source,
                "confidence": confidence,
                "valid_from": valid_from,
                "valid_to": valid_to,
                "supersedes": supersedes,
                "agent_id": agent_id,
                "session_id": session_id,
                "metadata": metadata,
            }.items()
            if value is not UNSET
        }
        fields.update(_extensions("update", x_extensions))
        patch = _build(MemoryPatch, keep_none=True, **fields)
        if patch.is_empty():
            raise InvalidRequestError("update needs at least one field to change")
        capabilities = await self._ready()
        require_verb(capabilities, "update")
        if patch.content is not None:
            limit = capabilities.features.max_content_length
            if self._max_content_length is not None:
                limit = min(limit, self._max_content_length)
            if len(patch.content) > limit:
                raise InvalidRequestError(
                    f"content is {len(patch.content)} characters; the limit is {limit}",
                    field="content",
                )
        return await self._provider.update(caller, memory_id, patch)

    async def delete(self, id: str, *, user_id: str) -> None:
        """Delete the memory ``id`` of ``user_id``; ``NotFoundError`` if there is none."""
        self._enter()
        caller = self._caller(user_id)
        memory_id = validate_identifier(id, "id")
        require_verb(await self._ready(), "delete")
        await self._provider.delete(caller, memory_id)

    async def list(
        self,
        user_id: str,
        *,
        scope: str | None = None,
        tags: Sequence[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> MemoryPage:
        """One page of ``user_id``'s memories, newest first; pass ``next_cursor`` for more."""
        self._enter()
        caller = self._caller(user_id)
        query = _build(
            ListQuery, scope=scope, tags=tags, since=since, until=until, limit=limit, cursor=cursor
        )
        capabilities = await self._ready()
        require_verb(capabilities, "list")
        if query.limit > capabilities.limits.max_list_limit:
            raise InvalidRequestError(
                f"limit is {query.limit}; this provider lists at most "
                f"{capabilities.limits.max_list_limit} per page",
                field="limit",
            )
        return await self._provider.list(caller, query)

    async def search(
        self,
        query: str,
        user_id: str,
        *,
        scope: str | None = None,
        tags: Sequence[str] | None = None,
        filters: Mapping[str, Any] | None = None,
        mode: SearchMode | None = None,
        limit: int = 10,
        min_score: float | None = None,
        include_inactive: bool = False,
    ) -> builtins.list[SearchHit]:
        """The memories of ``user_id`` that best match ``query``, best first.

        ``score`` is in [0, 1]. ``mode`` is ``semantic``, ``keyword`` or ``hybrid`` (None: the
        provider's best). ``filters`` match metadata keys by equality. Expired, not-yet-valid
        and superseded memories are left out unless ``include_inactive``.

        >>> hits = await mem.search("dark mode", "u1", scope="ui", limit=5)
        """
        self._enter()
        caller = self._caller(user_id)
        search_query = _build(
            SearchQuery,
            query=query,
            scope=scope,
            tags=tags,
            filters=filters,
            mode=mode,
            limit=limit,
            min_score=min_score,
            include_inactive=include_inactive,
        )
        require_search(await self._ready(), search_query)
        return await self._provider.search(caller, search_query)

    async def context(
        self,
        query: str,
        user_id: str,
        *,
        scope: str | None = None,
        tags: Sequence[str] | None = None,
        token_budget: int = 500,
    ) -> ContextBlock:
        """Prompt-ready text of the best memories, with ``[mem_...]`` citations.

        ``token_count <= token_budget`` always.
        """
        self._enter()
        caller = self._caller(user_id)
        context_query = _build(
            ContextQuery, query=query, scope=scope, tags=tags, token_budget=token_budget
        )
        capabilities = await self._ready()
        require_verb(capabilities, "context")
        if context_query.token_budget > capabilities.limits.max_token_budget:
            raise InvalidRequestError(
                f"token_budget is at most {capabilities.limits.max_token_budget}",
                field="token_budget",
            )
        return await self._provider.context(caller, context_query)

    async def audit(
        self,
        user_id: str,
        *,
        app: str | None = None,
        action: AuditAction | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> builtins.list[AuditEntry]:
        """The audit trail of ``user_id``, newest first (``features.supports_audit``)."""
        self._enter()
        caller = self._caller(user_id)
        audit_query = _build(AuditQuery, app=app, action=action, since=since, limit=limit)
        require_verb(await self._ready(), "audit")
        return await self._provider.audit(caller, audit_query)

    async def forget_user(self, user_id: str) -> int:
        """Delete every memory of ``user_id``; returns how many (``features.forget_user``)."""
        self._enter()
        caller = self._caller(user_id)
        require_feature(await self._ready(), "forget_user", "forget user")
        return await self._provider.forget_user(caller)

    async def wait_for_ingest(
        self,
        ids: Sequence[str],
        *,
        user_id: str,
        timeout: float = 30.0,  # noqa: ASYNC109 - the OMP SDK's signature, kept on purpose
    ) -> builtins.list[MemoryRecord]:
        """Wait until asynchronously ingested memories are readable; returns them.

        Providers that ingest synchronously return at once. Raises ``IngestionTimeoutError``
        after ``timeout`` seconds, ``ProviderError`` if ingestion failed.
        """
        self._enter()
        caller = self._caller(user_id)
        memory_ids = [validate_identifier(i, "ids") for i in ids]
        require_verb(await self._ready(), "get")
        deadline = time.monotonic() + timeout
        delay = 0.05
        pending = builtins.list(memory_ids)
        done: dict[str, MemoryRecord] = {}
        while pending:
            for memory_id in builtins.list(pending):
                record = await self._provider.get(caller, memory_id)
                if record.status == "failed":
                    raise ProviderError(f"ingestion of {memory_id} failed")
                if record.status not in ("queued", "indexing"):
                    done[memory_id] = record
                    pending.remove(memory_id)
            if not pending:
                break
            if time.monotonic() + delay > deadline:
                raise IngestionTimeoutError(
                    f"{len(pending)} memories still ingesting after {timeout} s",
                    details={"pending": pending},
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)
        return [done[i] for i in memory_ids]


_INSTANCE_KEYS = frozenset({"provider", "namespace", "app", "max_content_length"})


def _build(model: type[ModelT], *, keep_none: bool = False, **fields: Any) -> ModelT:
    """Validate arguments into a request model; errors become ``InvalidRequestError``."""
    if not keep_none:
        fields = {k: v for k, v in fields.items() if v is not None}
    for name in ("tags", "supersedes"):
        value = fields.get(name)
        if value is not None and not isinstance(value, str | bytes):
            fields[name] = builtins.list(value)
        elif isinstance(value, str | bytes):
            raise InvalidRequestError(f"{name} must be a list of strings, not a string", field=name)
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        raise invalid_request_from(exc) from None


def _extensions(verb: str, given: Mapping[str, Any]) -> dict[str, Any]:
    """``x_mem0=...`` keywords as ``x-mem0`` fields; anything else is a misspelt argument."""
    fields: dict[str, Any] = {}
    for key, value in given.items():
        if key.startswith("x-") and len(key) > 2:
            fields[key] = value
        elif key.startswith("x_") and len(key) > 2:
            fields["x-" + key[2:].replace("_", "-")] = value
        else:
            raise TypeError(f"{verb}() got an unexpected keyword argument {key!r}")
    return fields


def _batch_item(index: int, item: str | Mapping[str, Any], user_id: str) -> MemoryInput:
    if isinstance(item, str):
        fields: dict[str, Any] = {"content": item}
    elif isinstance(item, Mapping):
        fields = dict(item)
        if "user_id" in fields and fields["user_id"] != user_id:
            raise InvalidRequestError(
                "items of a batch belong to the batch's user_id", field=f"items.{index}.user_id"
            )
    else:
        raise InvalidRequestError(
            "batch items are strings or dicts of add fields", field=f"items.{index}"
        )
    fields["user_id"] = user_id
    try:
        return _build(MemoryInput, **fields)
    except InvalidRequestError as exc:
        field = f"items.{index}.{exc.field}" if exc.field else f"items.{index}"
        raise InvalidRequestError(f"items[{index}]: {exc.message}", field=field) from None


# -- the synchronous facade ------------------------------------------------------------

P = ParamSpec("P")
R = TypeVar("R")


def _blocking(
    method: Callable[Concatenate[AsyncMemory, P], Awaitable[R]],
) -> Callable[Concatenate[Memory, P], R]:
    """The sync twin of an ``AsyncMemory`` verb: same signature, same docstring."""

    def call(self: Memory, /, *args: P.args, **kwargs: P.kwargs) -> R:
        async def run() -> R:
            return await method(self._async, *args, **kwargs)

        return self._portal().call(run)

    functools.update_wrapper(call, method)
    return call


class Memory:
    """The openmem verb set for synchronous code: ``AsyncMemory`` without ``await``.

    It runs one ``AsyncMemory`` on a private event-loop thread (an anyio blocking portal), so
    it is safe from any thread and inside a running loop (Jupyter). Same constructor, same
    verbs, same parameters, same errors::

        with Memory(provider="inmemory") as mem:
            mem.add("prefers dark mode", user_id="u1")
            print(mem.search("dark mode", "u1"))
    """

    def __init__(
        self,
        provider: str | Provider[Any] | None = None,
        *,
        namespace: str | None = None,
        app: str | None = None,
        base_url: str | None = None,
        max_content_length: int | None = None,
        **options: Any,
    ) -> None:
        self._wrap(
            AsyncMemory(
                provider,
                namespace=namespace,
                app=app,
                base_url=base_url,
                max_content_length=max_content_length,
                **options,
            )
        )

    def _wrap(self, async_memory: AsyncMemory) -> None:
        self._async = async_memory
        self._loop_thread: _LoopThread | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any] | str | os.PathLike[str], **overrides: Any
    ) -> Self:
        """Build from a dict or a TOML file (see ``AsyncMemory.from_config``)."""
        self = cls.__new__(cls)
        self._wrap(AsyncMemory.from_config(config, **overrides))
        return self

    @classmethod
    def from_env(cls, *, dotenv: str | os.PathLike[str] | None = ".env", **overrides: Any) -> Self:
        """Build from ``OPENMEM_*`` variables (see ``AsyncMemory.from_env``)."""
        self = cls.__new__(cls)
        self._wrap(AsyncMemory.from_env(dotenv=dotenv, **overrides))
        return self

    @property
    def async_memory(self) -> AsyncMemory:
        """The ``AsyncMemory`` this facade drives (bound to the private loop)."""
        return self._async

    @property
    def provider(self) -> Provider[Any]:
        """The provider this instance drives."""
        return self._async.provider

    @property
    def namespace(self) -> str:
        """The tenant namespace every call is bounded by."""
        return self._async.namespace

    def _portal(self) -> BlockingPortal:
        if self._async.closed:
            raise ClosedError("Memory is closed")
        with self._lock:
            if self._loop_thread is None:
                self._loop_thread = _LoopThread()
            return self._loop_thread.portal

    initialize = _blocking(AsyncMemory.initialize)
    capabilities = _blocking(AsyncMemory.capabilities)
    add = _blocking(AsyncMemory.add)
    add_many = _blocking(AsyncMemory.add_many)
    get = _blocking(AsyncMemory.get)
    update = _blocking(AsyncMemory.update)
    delete = _blocking(AsyncMemory.delete)
    list = _blocking(AsyncMemory.list)
    search = _blocking(AsyncMemory.search)
    context = _blocking(AsyncMemory.context)
    audit = _blocking(AsyncMemory.audit)
    forget_user = _blocking(AsyncMemory.forget_user)
    wait_for_ingest = _blocking(AsyncMemory.wait_for_ingest)

    def close(self) -> None:
        """Close the provider and stop the private loop thread; idempotent."""
        with self._lock:
            loop_thread, self._loop_thread = self._loop_thread, None
        if loop_thread is None:
            if not self._async.closed:
                self._async._closed = True  # never opened: nothing to release
            return
        try:
            loop_thread.portal.call(self._async.close)
        finally:
            loop_thread.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return repr(self._async).replace("AsyncMemory", type(self).__name__, 1)


class _LoopThread:
    """A daemon thread running one event loop with a blocking portal into it.

    A daemon, so a ``Memory`` that is never closed cannot keep the interpreter from exiting.
    """

    def __init__(self) -> None:
        self._ready = threading.Event()
        self._portal: BlockingPortal | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="openmem-memory", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout=10):
            raise RuntimeError("the openmem event-loop thread did not start")
        if self._error is not None:
            raise RuntimeError("the openmem event-loop thread failed") from self._error

    @property
    def portal(self) -> BlockingPortal:
        assert self._portal is not None
        return self._portal

    def _run(self) -> None:
        try:
            anyio.run(self._main, backend="asyncio")
        except BaseException as exc:  # reported to the constructor
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        async with BlockingPortal() as portal:
            self._portal = portal
            self._ready.set()
            await portal.sleep_until_stopped()

    def stop(self) -> None:
        portal = self._portal
        if portal is not None:
            with contextlib.suppress(RuntimeError):  # already stopped
                portal.call(portal.stop, True)
        self._thread.join(timeout=10)
