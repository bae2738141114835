"""The ``openmem`` command.

Built-in subcommands talk to any configured provider (``add``, ``search``, ``context``,
``list``, ``providers``). Others come from installed distributions through the entry point
group ``openmem.commands`` (click commands): ``serve`` and ``keys`` (the server extra),
``conformance`` (openmem-conformance), ``reembed`` (openmem-postgres).

Provider options are given as ``--provider NAME``, ``--config FILE`` and repeated
``--option key=value``; the ``OPENMEM_*`` environment fills the rest.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from functools import cache
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, TypeVar

import click

from openmem.distribution import DISTRIBUTION, install_command
from openmem.errors import ConfigurationError, OMPError

if TYPE_CHECKING:  # imported where used: `openmem --help` must not load the memory layer
    from openmem.memory import AsyncMemory

__all__ = ["COMMAND_GROUP", "main", "memory_from_cli", "parse_options", "run_with_memory"]

COMMAND_GROUP = "openmem.commands"
T = TypeVar("T")


@cache
def _plugin_commands() -> dict[str, str]:
    """Plugin command names and the distribution that provides each."""
    return {
        ep.name: ep.dist.name if ep.dist is not None else ep.value
        for ep in entry_points(group=COMMAND_GROUP)
    }


_LAZY_COMMANDS = {"webhooks": ("openmem.webhook_commands", "Manage the webhooks of a namespace.")}
"""Built-in commands in modules of their own, imported when called (they import this one)."""


class _Commands(click.Group):
    """A click group that also lists and loads the ``openmem.commands`` entry points."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = set(super().list_commands(ctx)) | set(_plugin_commands()) | set(_LAZY_COMMANDS)
        return sorted(names)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List every command without importing the plugins (their modules can be heavy)."""
        rows = []
        for name in self.list_commands(ctx):
            builtin = self.commands.get(name)
            if builtin is not None:
                rows.append((name, builtin.get_short_help_str(limit=formatter.width)))
            elif name in _LAZY_COMMANDS:
                rows.append((name, _LAZY_COMMANDS[name][1]))
            else:
                rows.append((name, f"(from {_plugin_commands()[name]}) see: openmem {name} --help"))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        builtin = super().get_command(ctx, cmd_name)
        if builtin is not None:
            return builtin
        if cmd_name in _LAZY_COMMANDS:
            import importlib

            lazy: click.Command = getattr(
                importlib.import_module(_LAZY_COMMANDS[cmd_name][0]), cmd_name
            )
            return lazy
        for ep in entry_points(group=COMMAND_GROUP, name=cmd_name):
            try:
                command = ep.load()
            except ImportError as exc:
                return _unavailable(cmd_name, exc)
            if isinstance(command, click.Command):
                return command
        return None


def _unavailable(name: str, exc: ImportError) -> click.Command:
    """A stand-in for a plugin command whose module cannot be imported."""

    def explain() -> None:
        raise click.ClickException(
            f"'openmem {name}' is not available: {exc}. "
            f"Install the extra that provides it (e.g. {install_command('all')})."
        )

    return click.Command(name, callback=explain, help=f"(unavailable: {exc})")


@click.group(cls=_Commands)
@click.version_option(package_name=DISTRIBUTION, prog_name="openmem")
def main() -> None:
    """openmem: one memory layer for AI applications, speaking OMP 0.1."""


def parse_options(pairs: Sequence[str]) -> dict[str, Any]:
    """``key=value`` pairs as options; values are JSON when they parse as JSON."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected key=value, got {pair!r}", param_hint="--option")
        try:
            options[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            options[key.strip()] = raw
    return options


def memory_from_cli(
    provider: str | None, config: str | None, options: Sequence[str], **extra: Any
) -> AsyncMemory:
    """An ``AsyncMemory`` from the common CLI flags (flags > file > env > defaults)."""
    from openmem.memory import AsyncMemory

    overrides = {**parse_options(options), **{k: v for k, v in extra.items() if v is not None}}
    if provider:
        overrides["provider"] = provider
    try:
        if config:
            return AsyncMemory.from_config(config, **overrides)
        return AsyncMemory.from_env(**overrides)
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from exc


def provider_flags(command: Callable[..., Any]) -> Callable[..., Any]:
    """The ``--provider/--config/--option/--namespace`` flags every data command takes."""
    for flag in reversed(
        [
            click.option("--provider", "-p", help="Provider name (default: configured)."),
            click.option("--config", "-c", type=click.Path(dir_okay=False), help="TOML file."),
            click.option("--option", "-o", "options", multiple=True, help="key=value option."),
            click.option("--namespace", "-n", help="Tenant namespace."),
        ]
    ):
        command = flag(command)
    return command


def run_with_memory(memory: AsyncMemory, work: Callable[[AsyncMemory], Awaitable[T]]) -> T:
    """Open ``memory``, await ``work`` with it, close it; protocol errors become CLI errors."""
    return _run(memory, work)


def _run(memory: AsyncMemory, work: Callable[[AsyncMemory], Awaitable[T]]) -> T:
    async def session() -> T:
        async with memory:
            return await work(memory)

    import asyncio

    try:
        return asyncio.run(session())
    except OMPError as exc:
        raise click.ClickException(f"{exc.error_code}: {exc.message}") from exc


def _print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


@main.command()
@provider_flags
@click.argument("content")
@click.option("--user", "-u", "user_id", required=True, help="The user the memory belongs to.")
@click.option("--scope", "-s", help="Scope, e.g. coding/python.")
@click.option("--tag", "-t", "tags", multiple=True, help="A tag (repeatable).")
def add(
    provider: str | None,
    config: str | None,
    options: tuple[str, ...],
    namespace: str | None,
    content: str,
    user_id: str,
    scope: str | None,
    tags: tuple[str, ...],
) -> None:
    """Store CONTENT as a memory of a user."""
    memory = memory_from_cli(provider, config, options, namespace=namespace)
    record = _run(memory, lambda m: m.add(content, user_id=user_id, scope=scope, tags=list(tags)))
    _print_json(record.model_dump(mode="json"))


@main.command()
@provider_flags
@click.argument("query")
@click.option("--user", "-u", "user_id", required=True, help="The user whose memories to read.")
@click.option("--scope", "-s", help="Only this scope and the scopes under it, e.g. coding/python.")
@click.option("--limit", "-k", default=10, show_default=True, help="At most this many hits.")
@click.option(
    "--mode",
    type=click.Choice(["semantic", "keyword", "hybrid"]),
    help="Ranking mode (default: the provider's; see its capabilities).",
)
def search(
    provider: str | None,
    config: str | None,
    options: tuple[str, ...],
    namespace: str | None,
    query: str,
    user_id: str,
    scope: str | None,
    limit: int,
    mode: Any,
) -> None:
    """Search a user's memories for QUERY."""
    memory = memory_from_cli(provider, config, options, namespace=namespace)
    hits = _run(memory, lambda m: m.search(query, user_id, scope=scope, limit=limit, mode=mode))
    _print_json([h.model_dump(mode="json") for h in hits])


@main.command()
@provider_flags
@click.argument("query")
@click.option("--user", "-u", "user_id", required=True, help="The user whose memories to read.")
@click.option("--scope", "-s", help="Only this scope and the scopes under it, e.g. coding/python.")
@click.option(
    "--budget",
    "-b",
    "token_budget",
    default=500,
    show_default=True,
    help="Token budget of the context block.",
)
def context(
    provider: str | None,
    config: str | None,
    options: tuple[str, ...],
    namespace: str | None,
    query: str,
    user_id: str,
    scope: str | None,
    token_budget: int,
) -> None:
    """Print a token-budgeted context block for QUERY."""
    memory = memory_from_cli(provider, config, options, namespace=namespace)
    block = _run(
        memory, lambda m: m.context(query, user_id, scope=scope, token_budget=token_budget)
    )
    click.echo(block.text)
    click.echo(f"-- {block.token_count} tokens, {len(block.citations)} citations", err=True)


@main.command(name="list")
@provider_flags
@click.option("--user", "-u", "user_id", required=True, help="The user whose memories to read.")
@click.option("--scope", "-s", help="Only this scope and the scopes under it, e.g. coding/python.")
@click.option("--limit", default=50, show_default=True, help="Page size.")
def list_memories(
    provider: str | None,
    config: str | None,
    options: tuple[str, ...],
    namespace: str | None,
    user_id: str,
    scope: str | None,
    limit: int,
) -> None:
    """List a user's memories, newest first (one page)."""
    memory = memory_from_cli(provider, config, options, namespace=namespace)
    page = _run(memory, lambda m: m.list(user_id, scope=scope, limit=limit))
    _print_json(page.model_dump(mode="json"))


@main.command()
@click.option(
    "--options",
    "with_options",
    is_flag=True,
    help="Also list each provider's options: name, environment variable, type and default.",
)
def providers(with_options: bool) -> None:
    """List the installed providers (and, with --options, what each can be configured with)."""
    from openmem.registry import available_providers

    for name, ep in sorted(available_providers().items()):
        click.echo(f"{name:<14} {ep.value}")
        if with_options:
            for line in _option_lines(name):
                click.echo(f"    {line}")


def _option_lines(provider: str) -> list[str]:
    """One line per option of ``provider``: how to set it and what it takes."""
    from openmem.config import MemorySettings
    from openmem.environment import ENV_PREFIX
    from openmem.registry import load_provider_class

    try:
        fields = {
            **MemorySettings.model_fields,
            **load_provider_class(provider).Options.model_fields,
        }
    except (ConfigurationError, ImportError) as exc:
        return [f"(options unavailable: {exc})"]
    lines = []
    for option, field in sorted(fields.items()):
        kind = _type_name(field.annotation)
        default = "required" if field.is_required() else f"default {field.get_default()!r}"
        lines.append(f"{option:<26} {ENV_PREFIX + option.upper():<36} {kind}, {default}")
    return lines


def _type_name(annotation: Any) -> str:
    """``int``, ``str | None``, ``Literal['a', 'b']``: the annotation as a reader writes it."""
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "").replace("pydantic.types.", "")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
