"""Configuration: keyword arguments, a dict or TOML file, and ``OPENMEM_*`` variables.

Precedence, highest first: keyword arguments > file (or dict) > environment > defaults. The
same option names work everywhere; in the environment they are upper-cased with the prefix
``OPENMEM_`` (``url`` -> ``OPENMEM_URL``, ``provider`` -> ``OPENMEM_PROVIDER``). A TOML file
holds the options at top level or in an ``[openmem]`` table::

    provider = "postgres"
    namespace = "acme"
    url = "postgresql://memory@db/openmem"

Options are split in two: the memory options below (``MemorySettings``) and the chosen
provider's own options model. An unknown option is an error that names the valid ones;
secrets are ``SecretStr`` and never printed. With nothing configured, the provider is the
embedded ``postgres`` default when it is installed.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from openmem.distribution import install_command
from openmem.environment import ENV_PREFIX, check_variable_names, read_dotenv
from openmem.errors import ConfigurationError
from openmem.fields import Identifier
from openmem.provider import Provider, ProviderOptions, invalid_option
from openmem.registry import available_providers, load_provider_class

__all__ = [
    "ENV_PREFIX",
    "MemorySettings",
    "ResolvedConfig",
    "load_config_file",
    "read_dotenv",
    "resolve_config",
]

DEFAULT_PROVIDER = "postgres"


class MemorySettings(BaseModel):
    """Options of ``AsyncMemory`` itself, whatever the provider."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: str | None = None
    namespace: Identifier = "default"
    """The tenant every call is bounded by: 1-256 characters, no NUL, not blank."""
    app: Identifier | None = None
    """Recorded as the app in audit entries (same rules as ``namespace``)."""
    max_content_length: int | None = Field(default=None, ge=1)
    """A stricter content limit than the provider's own."""
    base_url: str | None = None
    """An OMP server to talk to; selects the ``passthrough`` provider."""
    async_mode_default: bool = False
    """Whether ``add``/``add_many`` queue (``async_mode=True``) when the call does not say;
    needs a provider declaring ``features.async_ingest``."""
    freeze_gc_at_open: bool = True
    """Once the provider is open, tune the garbage collector, once per process (see
    ``openmem.heap``): move the objects alive then out of its full collections
    (``gc.freeze()``: a full collection stalled the event loop 33 ms before, well under 1 ms
    after), and raise its young-generation threshold to at least 10,000 (loop lag p99 at
    c=32 2.15 -> 1.68 ms). False leaves the collector as the application set it."""


_MEMORY_KEYS = frozenset(MemorySettings.model_fields)


@dataclass(frozen=True)
class ResolvedConfig:
    """The outcome of configuration: memory settings and the provider's validated options."""

    settings: MemorySettings
    provider_name: str
    provider_class: type[Provider[Any]]
    provider_options: ProviderOptions

    def build_provider(self) -> Provider[Any]:
        """Construct (not open) the configured provider."""
        return self.provider_class(self.provider_options)


_INSTANCE_KEYS = frozenset(
    {
        "provider",
        "namespace",
        "app",
        "max_content_length",
        "async_mode_default",
        "freeze_gc_at_open",
    }
)
"""The options that still make sense next to a ``Provider`` instance."""


@dataclass(frozen=True)
class MemorySetup:
    """What an ``AsyncMemory`` is built from: its (unopened) provider and its own settings."""

    provider: Provider[Any]
    namespace: str
    app: str | None
    max_content_length: int | None
    async_mode_default: bool = False
    freeze_gc_at_open: bool = True


def memory_setup(
    kwargs: Mapping[str, Any], *, file: Mapping[str, Any] | None, env: Mapping[str, str]
) -> MemorySetup:
    """Resolve ``AsyncMemory``'s arguments: a provider instance as given, else configuration."""
    provider = kwargs.get("provider")
    if isinstance(provider, Provider):
        extra = {k for k, v in kwargs.items() if v is not None and k not in _INSTANCE_KEYS}
        if extra:
            raise ConfigurationError(
                f"options {sorted(extra)} cannot be combined with a provider instance; "
                "configure the provider object itself"
            )
        given = {k: v for k, v in kwargs.items() if k in _INSTANCE_KEYS - {"provider"}}
        try:
            settings = MemorySettings(**{k: v for k, v in given.items() if v is not None})
        except ValidationError as exc:
            raise invalid_option(exc, provider.name) from None
        return MemorySetup(
            provider=provider,
            namespace=settings.namespace,
            app=settings.app,
            max_content_length=settings.max_content_length,
            async_mode_default=settings.async_mode_default,
            freeze_gc_at_open=settings.freeze_gc_at_open,
        )
    resolved = resolve_config(kwargs=dict(kwargs), file=file, env=env)
    return MemorySetup(
        provider=resolved.build_provider(),
        namespace=resolved.settings.namespace,
        app=resolved.settings.app,
        max_content_length=resolved.settings.max_content_length,
        async_mode_default=resolved.settings.async_mode_default,
        freeze_gc_at_open=resolved.settings.freeze_gc_at_open,
    )


def load_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a TOML configuration file (top level or an ``[openmem]`` table)."""
    file = Path(path)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigurationError(f"configuration file not found: {file}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{file} is not valid TOML: {exc}") from exc
    table = data.get("openmem", data)
    if not isinstance(table, dict):
        raise ConfigurationError(f"{file}: [openmem] must be a table")
    return table


def resolve_config(
    *,
    kwargs: Mapping[str, Any] | None = None,
    file: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> ResolvedConfig:
    """Merge the layers (kwargs > file > env > defaults) and validate them."""
    kwargs = {k: v for k, v in (kwargs or {}).items() if v is not None}
    file = dict(file or {})
    env_source = env if env is not None else os.environ
    env_values = _env_options(env_source)

    provider_name = (
        kwargs.get("provider")
        or file.get("provider")
        or env_values.get("provider")
        or ("passthrough" if (kwargs.get("base_url") or file.get("base_url")) else None)
        or ("passthrough" if env_values.get("base_url") else None)
        or _default_provider()
    )
    if not isinstance(provider_name, str):
        raise ConfigurationError("provider must be a provider name")
    provider_class = load_provider_class(provider_name)
    option_fields = set(provider_class.Options.model_fields)
    if set(env_values) - _MEMORY_KEYS - option_fields:
        # Another provider's option is fine (one .env may serve several); a typo is not.
        check_variable_names(env_source, _MEMORY_KEYS | _all_option_names())

    for layer_name, layer in (("argument", kwargs), ("configuration", file)):
        unknown = set(layer) - _MEMORY_KEYS - option_fields
        if unknown:
            raise ConfigurationError(
                f"unknown {layer_name} {', '.join(sorted(map(repr, unknown)))} for provider "
                f"{provider_name!r}; valid options: "
                f"{', '.join(sorted(_MEMORY_KEYS | option_fields))}"
            )

    merged: dict[str, Any] = {}
    for layer in (env_values, file, kwargs):  # lowest precedence first
        merged.update(layer)
    merged["provider"] = provider_name
    memory_values = {k: v for k, v in merged.items() if k in _MEMORY_KEYS}
    provider_values = {
        k: v for k, v in merged.items() if k in option_fields and k not in _MEMORY_KEYS
    }
    if "base_url" in option_fields and "base_url" in merged:
        # base_url is both a memory option (it selects passthrough) and that provider's option.
        provider_values["base_url"] = merged["base_url"]
    try:
        settings = MemorySettings(**memory_values)
        options = provider_class.Options(**provider_values)
    except ValidationError as exc:
        raise invalid_option(exc, provider_name) from None
    return ResolvedConfig(settings, provider_name, provider_class, options)


def _env_options(env: Mapping[str, str]) -> dict[str, str]:
    return {
        key[len(ENV_PREFIX) :].lower(): value
        for key, value in env.items()
        if key.startswith(ENV_PREFIX) and value != ""
    }


def _all_option_names() -> set[str]:
    names: set[str] = set()
    for name in available_providers():
        try:
            names |= set(load_provider_class(name).Options.model_fields)
        except (ConfigurationError, ImportError):  # a broken plugin is reported when chosen
            continue
    return names


def _default_provider() -> str:
    if DEFAULT_PROVIDER in available_providers():
        return DEFAULT_PROVIDER
    raise ConfigurationError(
        "no provider configured and the embedded default is not installed: "
        f"{install_command('postgres')}, or pass provider='inmemory' for an in-process store"
    )
