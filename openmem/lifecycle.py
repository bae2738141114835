"""What ``AsyncMemory`` is before its verbs: construction, configuration, open and close.

``MemoryLifecycle`` turns arguments, a dict/TOML file or the environment into a provider and
the instance's own settings (``openmem.config.memory_setup``), binds them to one event loop
(``openmem.binding``), and offers the lifecycle: ``initialize``, ``close``, ``async with``.
``AsyncMemory`` adds the verbs; its constructor is the documented signature.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, NoReturn, Self

from openmem.binding import ProviderBinding
from openmem.config import load_config_file, memory_setup
from openmem.environment import process_environment
from openmem.errors import OpenMemUsageError
from openmem.models import validate_identifier
from openmem.provider import Caller, Provider
from openmem.tracing import trace_verbs

if TYPE_CHECKING:
    from openmem.llm.pipeline import InferencePipeline

__all__ = ["MemoryLifecycle"]


class MemoryLifecycle:
    """Construction and lifecycle of ``AsyncMemory`` (see the module docstring)."""

    def _init_from(
        self,
        kwargs: dict[str, Any],
        *,
        file: Mapping[str, Any] | None,
        env: Mapping[str, str],
    ) -> None:
        from openmem.llm.conversation import as_pipeline, owns_client

        # The chat model of add(messages=..., infer=True): an object, not a provider option.
        llm = kwargs.pop("llm", None)
        self._inference: InferencePipeline | None = as_pipeline(llm)
        # A client built here from options is closed with this instance; a given one is not.
        self._owns_llm = owns_client(llm)
        setup = memory_setup(kwargs, file=file, env=env)
        self._provider: Provider[Any] = trace_verbs(setup.provider)
        self._namespace = setup.namespace
        self._app = setup.app
        self._max_content_length = setup.max_content_length
        self._async_mode_default = setup.async_mode_default
        self._binding = ProviderBinding(self._provider, freeze_gc_at_open=setup.freeze_gc_at_open)

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any] | str | os.PathLike[str], **overrides: Any
    ) -> Self:
        """Build from a dict or a TOML file; ``overrides`` win, the environment fills gaps."""
        data = dict(config) if isinstance(config, Mapping) else load_config_file(config)
        self = cls.__new__(cls)
        self._init_from(dict(overrides), file=data, env=process_environment())
        return self

    @classmethod
    def from_env(cls, *, dotenv: str | os.PathLike[str] | None = ".env", **overrides: Any) -> Self:
        """Build from ``OPENMEM_*`` variables over a ``.env`` file's (as ``AsyncMemory()`` does).

        ``dotenv`` names another file, or None to read the process environment only.
        """
        env = process_environment(dotenv)
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
        return self._binding.closed

    async def initialize(self) -> None:
        """Bind to the running loop, open the provider and read its capabilities."""
        await self._binding.ready()

    async def close(self) -> None:
        """Close the provider; idempotent. Verbs afterwards raise ``ClosedError``."""
        try:
            await self._binding.close()
        finally:
            if self._inference is not None and self._owns_llm:
                self._owns_llm = False
                await self._inference.client.aclose()

    def __enter__(self) -> NoReturn:
        """Refuse ``with``, naming the two right ways."""
        raise OpenMemUsageError(
            "AsyncMemory is an async context manager: use `async with AsyncMemory(...) as mem:` "
            "inside a coroutine, or `with Memory(...) as mem:` (openmem.Memory, the "
            "synchronous API) in ordinary code"
        )

    def __exit__(self, *exc_info: object) -> None:
        """Never reached: ``__enter__`` refuses."""

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
        return (
            f"<{type(self).__name__} provider={getattr(self._provider, 'name', '?')!r} "
            f"namespace={self._namespace!r} {self._binding.state}>"
        )

    def _caller(self, user_id: object) -> Caller:
        return Caller(
            namespace=self._namespace,
            user_id=validate_identifier(user_id, "user_id"),
            app=self._app,
        )
