"""The provider flags of the long-running commands: ``--provider`` and ``-o NAME=VALUE``.

``openmem serve``, ``openmem mcp`` and ``openmem keys migrate`` build a provider from the same
flags; the values stay strings (the provider's options model converts them) and ``-`` in a
name reads as ``_`` (``-o max-connections=4``). The data commands of ``openmem.cli`` take
JSON values instead (``openmem.cli.parse_options``).
"""

from __future__ import annotations

from collections.abc import Sequence

import click

__all__ = ["OPTION_FLAG", "PROVIDER_FLAG", "parse_provider_options"]

PROVIDER_FLAG = click.option(
    "--provider", help="Provider name (default: OPENMEM_PROVIDER, else postgres)."
)
"""``--provider NAME``."""

OPTION_FLAG = click.option(
    "-o",
    "--option",
    "options",
    multiple=True,
    metavar="NAME=VALUE",
    help="A provider option, e.g. -o url=postgresql://... (repeatable).",
)
"""``-o/--option NAME=VALUE``, repeatable; read the values with ``parse_provider_options``."""


def parse_provider_options(pairs: Sequence[str]) -> dict[str, str]:
    """``NAME=VALUE`` pairs as provider options; ``click.BadParameter`` names a bad pair."""
    options: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"expected NAME=VALUE, got {pair!r}", param_hint="--option")
        options[name.strip().replace("-", "_")] = value
    return options
