"""Provider discovery: every provider is a class registered under an entry point.

A distribution registers its provider in ``pyproject.toml``::

    [project.entry-points."openmem.providers"]
    postgres = "openmem_postgres:PostgresProvider"

``openmem`` itself registers ``inmemory`` and ``passthrough``. A third party's provider is
found exactly the same way.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from openmem.distribution import install_command
from openmem.errors import ConfigurationError, ProviderNotFoundError
from openmem.provider import Provider

__all__ = ["PROVIDER_GROUP", "available_providers", "load_provider_class"]

PROVIDER_GROUP = "openmem.providers"

# Providers that ship as an extra of this distribution (see pyproject's optional dependencies).
_EXTRAS = frozenset({"postgres", "mem0", "powermem", "letta", "supermemory"})


@cache
def available_providers() -> dict[str, EntryPoint]:
    """Installed providers by name (cached for the process)."""
    return {ep.name: ep for ep in entry_points(group=PROVIDER_GROUP)}


def load_provider_class(name: str) -> type[Provider[Any]]:
    """The provider class registered as ``name``; a clear error when there is none."""
    found = available_providers().get(name)
    if found is None:
        installed = ", ".join(sorted(available_providers())) or "none"
        hint = (
            f"; install it with: {install_command(name)}"
            if name in _EXTRAS
            else "; a third-party provider registers an entry point in the group "
            f"{PROVIDER_GROUP!r}"
        )
        raise ProviderNotFoundError(
            f"no provider named {name!r} is installed (installed: {installed}){hint}"
        )
    try:
        loaded = found.load()
    except ImportError as exc:
        raise ConfigurationError(f"provider {name!r} failed to import: {exc}") from exc
    if not (isinstance(loaded, type) and issubclass(loaded, Provider)):
        raise ConfigurationError(
            f"entry point {found.value!r} for provider {name!r} is not an openmem Provider"
        )
    return loaded
