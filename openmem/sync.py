"""``Memory``: the verb set of ``AsyncMemory`` for synchronous code.

One ``AsyncMemory`` runs on a private event-loop thread behind an anyio blocking portal
(``anyio.from_thread.start_blocking_portal``). The constructor and every verb are built from
``AsyncMemory``'s own functions, so the two surfaces cannot drift: same parameters, same
docstrings, same errors.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, Protocol, Self, TypeVar

from anyio.from_thread import BlockingPortal, start_blocking_portal

from openmem.errors import ClosedError
from openmem.memory import AsyncMemory
from openmem.provider import Provider

__all__ = ["LoopRunner", "Memory", "blocking_twin"]

P = ParamSpec("P")
R = TypeVar("R")
AsyncT = TypeVar("AsyncT")
SyncT = TypeVar("SyncT")

LOOP_THREAD_NAME = "openmem-memory"


class LoopRunner(Protocol):
    """Awaits a coroutine function on some event loop and returns its result (``Memory.run``)."""

    def __call__(self, func: Callable[[], Awaitable[R]], /) -> R: ...


def blocking_twin(
    method: Callable[Concatenate[AsyncT, P], Awaitable[R]],
    on_loop: Callable[[SyncT], tuple[AsyncT, LoopRunner]],
) -> Callable[Concatenate[SyncT, P], R]:
    """The sync twin of an async method: same signature, same docstring.

    ``on_loop(facade)`` gives the async object the method runs on and the runner that awaits
    it on that object's loop. ``Memory`` builds its verbs with it, and so does the mem0
    drop-in (``openmem.compat.mem0.Memory``).
    """

    def call(self: SyncT, /, *args: P.args, **kwargs: P.kwargs) -> R:
        target, run_on_loop = on_loop(self)

        async def run() -> R:
            return await method(target, *args, **kwargs)

        return run_on_loop(run)

    functools.update_wrapper(call, method)
    return call


def _on_private_loop(memory: Memory) -> tuple[AsyncMemory, LoopRunner]:
    return memory._async, memory.run


def _blocking(
    method: Callable[Concatenate[AsyncMemory, P], Awaitable[R]],
) -> Callable[Concatenate[Memory, P], R]:
    """The sync twin of an ``AsyncMemory`` verb, run on the ``Memory``'s private loop."""
    return blocking_twin(method, _on_private_loop)


def _takes_the_arguments_of(
    async_init: Callable[Concatenate[AsyncMemory, P], None],
) -> Callable[[Callable[..., None]], Callable[Concatenate[Memory, P], None]]:
    """Give ``Memory.__init__`` the signature (and docstring) of ``AsyncMemory.__init__``."""

    def decorate(init: Callable[..., None]) -> Callable[Concatenate[Memory, P], None]:
        return functools.update_wrapper(init, async_init)

    return decorate


class Memory:
    """The openmem verb set for synchronous code: ``AsyncMemory`` without ``await``.

    It runs one ``AsyncMemory`` on a private event-loop thread (an anyio blocking portal), so
    it is safe from any thread and inside a running loop (Jupyter). Same constructor, same
    verbs, same parameters, same errors::

        with Memory(provider="inmemory") as mem:
            mem.add("prefers dark mode", user_id="u1")
            print(mem.search("dark mode", "u1"))
    """

    @_takes_the_arguments_of(AsyncMemory.__init__)
    def __init__(self, /, *args: Any, **kwargs: Any) -> None:
        self._wrap(AsyncMemory(*args, **kwargs))

    def _wrap(self, async_memory: AsyncMemory) -> None:
        self._async = async_memory
        self._loop_thread: contextlib.ExitStack | None = None
        self._portal_in_use: BlockingPortal | None = None
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

    def run(self, func: Callable[[], Awaitable[R]]) -> R:
        """Await ``func()`` on this instance's private loop, where ``async_memory`` lives.

        For code that drives ``async_memory`` directly (adapters such as
        ``openmem.compat.mem0.Memory``); verbs called this way behave as from ``AsyncMemory``.
        """
        return self._portal().call(func)

    def _portal(self) -> BlockingPortal:
        if self._async.closed:
            raise ClosedError("Memory is closed")
        with self._lock:
            if self._portal_in_use is None:
                # The portal's thread is a daemon, so a Memory that is never closed cannot
                # keep the interpreter from exiting.
                stack = contextlib.ExitStack()
                self._portal_in_use = stack.enter_context(
                    start_blocking_portal(name=LOOP_THREAD_NAME)
                )
                self._loop_thread = stack
            return self._portal_in_use

    initialize = _blocking(AsyncMemory.initialize)
    capabilities = _blocking(AsyncMemory.capabilities)
    add = _blocking(AsyncMemory.add)
    add_many = _blocking(AsyncMemory.add_many)
    get = _blocking(AsyncMemory.get)
    update = _blocking(AsyncMemory.update)
    delete = _blocking(AsyncMemory.delete)
    get_by_key = _blocking(AsyncMemory.get_by_key)
    delete_by_key = _blocking(AsyncMemory.delete_by_key)
    list = _blocking(AsyncMemory.list)
    search = _blocking(AsyncMemory.search)
    context = _blocking(AsyncMemory.context)
    audit = _blocking(AsyncMemory.audit)
    forget_user = _blocking(AsyncMemory.forget_user)
    wait_for_ingest = _blocking(AsyncMemory.wait_for_ingest)
    get_event = _blocking(AsyncMemory.get_event)

    def close(self) -> None:
        """Close the provider and stop the private loop thread; idempotent."""
        with self._lock:
            stack, self._loop_thread = self._loop_thread, None
            portal, self._portal_in_use = self._portal_in_use, None
        if stack is None or portal is None:
            # Never opened on the loop thread: nothing to release, only the state to set.
            self._async._binding.close_unopened()
            return
        with stack:
            try:
                portal.call(self._async.close)
            finally:
                # Calls still running from other threads are cancelled, not waited for.
                with contextlib.suppress(RuntimeError):
                    portal.call(portal.stop, True)

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
